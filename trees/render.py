"""The tree as indented plain text a person reads at a glance."""
from __future__ import annotations

import networkx as nx



def fmt_wait(x: float) -> str:
    """A wait or listen start as printed everywhere (tree, explanation, timeline,
    diagram): tenths of a second, so one figure never shows as both 5.45 and 5.5."""
    return f"{float(x):.1f}"


def _key_order(k: str):
    return (0, int(k), "") if k.isdigit() else (1, 0, k)


def _describe(G, n) -> str:
    d = G.nodes[n]
    kind = d.get("kind") or "?"
    parts = [kind]
    if kind == "input":
        parts[-1] = f"input {d.get('entry') or '(entry unknown)'}"
    if kind == "back":
        parts.append(f"→ {'/'.join(d.get('returns_to') or []) or 'root'}")
    if kind == "unknown":
        parts.append("(never entered)")
    if d.get("wait") is not None and (G.out_degree(n) or kind in ("menu", "input")):
        parts.append(f"wait {fmt_wait(d['wait'])} s")
    if n == "root" and d.get("listen_after") is not None:
        parts.append(f"(listens from {fmt_wait(d['listen_after'])} s)")
    return "  ".join(parts)


def render_tree(G: nx.DiGraph) -> str:
    head = []
    if G.graph.get("company") or G.graph.get("number"):
        head.append("  ".join(x for x in (G.graph.get("company"), G.graph.get("number")) if x))
    if "root" not in G:
        return "\n".join(head + ["(empty tree)"])
    lines = [f"root  {_describe(G, 'root')}"]

    def walk(n, prefix):
        kids = sorted(G.successors(n), key=lambda c: _key_order(G.edges[n, c]["key"]))
        for i, c in enumerate(kids):
            last = i == len(kids) - 1
            e = G.edges[n, c]
            label = e.get("label") or ("(after entry)" if e.get("role") == "entry" else "(no label heard)")
            lines.append(f"{prefix}{'└─' if last else '├─'} {e['key']}  {label}  {_describe(G, c)}")
            walk(c, prefix + ("   " if last else "│  "))

    walk("root", "")
    return "\n".join(head + lines)


def _event_line(ev: dict) -> str | None:
    span = f"{ev['start']:7.2f}-{ev['end']:7.2f}"
    if ev["type"] == "speech":
        return f"{span}  speech   {ev['text']}"
    if ev["type"] == "dtmf":
        verdict = "accepted" if ev["accepted"] else "ignored"
        return f"{span}  key {ev['key']}    {verdict}  ({ev['level_db']:.0f} dBFS)"
    if ev["type"] == "tone":
        return f"{span}  tone     {ev['name']}"
    if ev["type"] == "music":
        return f"{span}  music"
    return None


def _visit_lines(m: dict) -> list[str]:
    path = "/".join(m["path"]) or "root"
    la = (f"listens from {fmt_wait(m['listen_after'])} s" if m["listen_after"] is not None
          else "listen start unknown")
    extra = f"  entry {m['entry']}" if m.get("entry") else ""
    keyed = f"  keyed {m['keyed']}" if m.get("keyed") else ""
    lines = [f"  {path:<8} {m['kind']:<7} at {m['start']:.2f} s, {la}{extra}{keyed}"]
    for o in m["options"]:
        role = "" if o["role"] == "option" else f" ({o['role']})"
        lines.append(f"           {o['key']}  {o['label']}{role}")
    return lines


def render_timeline(tl: dict) -> str:
    """One call's timeline (``ivrkit.timeline/1``) as text: events, then nodes visited
    (a node's listen start counts from the start of its prompt)."""
    onset = tl["greeting_onset"]
    lines = [f"{tl['file']}  {tl['duration']:.1f} s  answered at {tl['answer']:.2f} s  "
             f"greeting from {'-' if onset is None else f'{onset:.2f}'} s"]
    if tl.get("stop_latency") is not None:
        lines.append(f"prompt stops {tl['stop_latency']:.2f} s after an accepted key (measured)")
    lines.append("")
    lines += [s for s in map(_event_line, tl["events"]) if s is not None]
    lines += ["", "nodes visited (listen starts from the start of each node's prompt):"]
    for m in tl["menus"]:
        lines += _visit_lines(m)
    return "\n".join(lines)
