"""The tree as indented plain text a person reads at a glance."""
from __future__ import annotations

import re

import networkx as nx

from .waits import fmt_s

#: Hebrew, Arabic (and their presentation forms): text a terminal or a picture must
#: be given in display order, or it reads backwards.
RTL_RE = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")


def visual(text: str | None) -> str | None:
    """``text`` in display order (python-bidi's Unicode bidi algorithm) when it holds
    right-to-left letters, for media that draw characters left to right (terminals,
    matplotlib); unchanged otherwise. Files (JSON, CSV, Mermaid) keep logical order."""
    if not text or not RTL_RE.search(text):
        return text
    from bidi import get_display

    return get_display(text)


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
        parts.append(f"wait {d['wait']:.1f} s")
    if n == "root" and d.get("listen_after") is not None:
        parts.append(f"(listens from {fmt_s(d['listen_after'])} s)")
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
            lines.append(f"{prefix}{'└─' if last else '├─'} {e['key']}  {label}  {_describe(G, c)}")
            walk(c, prefix + ("   " if last else "│  "))

    walk("root", "")
    return "\n".join(head + lines)
