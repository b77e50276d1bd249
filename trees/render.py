"""The tree as indented plain text a person reads at a glance."""
from __future__ import annotations

import re

import networkx as nx

from .model import key_order as _key_order


def fmt_wait(x: float) -> str:
    """A wait or listen start as printed everywhere (tree, explanation, timeline,
    diagram): tenths of a second, so one figure never shows as both 5.45 and 5.5."""
    return f"{float(x):.1f}"

#: Hebrew, Arabic (and their presentation forms): text a terminal or a picture must
#: be given in display order, or it reads backwards.
RTL_RE = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")
#: Arabic letters take a different form by position in the word; a medium that draws
#: one character at a time (matplotlib, most terminals) needs them given as those
#: presentation forms (arabic-reshaper), else every letter shows isolated.
ARABIC_RE = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff]")


def visual(text: str | None) -> str | None:
    """``text`` in display order (python-bidi's Unicode bidi algorithm) when it holds
    right-to-left letters, Arabic letters joined (``ARABIC_RE``), for media that draw
    characters left to right (terminals, matplotlib); unchanged otherwise. Files
    (JSON, CSV, Mermaid) keep logical order."""
    if not text or not RTL_RE.search(text):
        return text
    from bidi import get_display

    if ARABIC_RE.search(text):
        import arabic_reshaper

        text = arabic_reshaper.reshape(text)
    return get_display(text)


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


def render_tree(G: nx.DiGraph, display_order: bool = False) -> str:
    """The tree as indented lines; ``display_order``: right-to-left labels (Hebrew,
    Arabic) reordered for a terminal that draws left to right (``visual``)."""
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
            if display_order:
                label = visual(label)
            # taken only by presses inferred in calls with no tone (trees.infer)
            guess = "  (key inferred, no tone heard)" if e.get("inferred") and not e.get("evidence") else ""
            lines.append(f"{prefix}{'└─' if last else '├─'} {e['key']}  {label}  {_describe(G, c)}{guess}")
            walk(c, prefix + ("   " if last else "│  "))

    walk("root", "")
    return "\n".join(head + lines)


def _event_line(ev: dict) -> str | None:
    span = f"{ev['start']:7.2f}-{ev['end']:7.2f}"
    if ev["type"] == "speech":
        return f"{span}  speech   {ev['text']}"
    if ev["type"] == "dtmf":
        verdict = "accepted" if ev["accepted"] else "ignored"
        level = f"{ev['level_db']:.0f} dBFS" if ev.get("level_db") is not None else "no tone heard"
        how = ", from the key list" if ev.get("source") == "sidecar" else ""
        return f"{span}  key {ev['key']}    {verdict}  ({level}{how})"
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
