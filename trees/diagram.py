"""Menu trees and tree diffs as pictures: Mermaid text and SVG (matplotlib).

Works on the plain networkx trees of ``ivrkit.trees`` (contract node / edge
attributes) and the contract's diff dict; no audio imports. The SVG is drawn with
matplotlib (no graphviz binary: it is not installable from pip) on a tidy layout
where leaves sit on evenly spaced slots and each parent is centred over its children.
"""
from __future__ import annotations

import math
import os
import textwrap
from pathlib import Path
from typing import Iterable

import networkx as nx

#: Children are drawn in the order a keypad reads (1-9, then *, 0, #): the order
#: prompts announce options in, so the picture reads like the menu sounds.
KEY_ORDER = "123456789*0#ABCD"

#: Node text is wrapped to this many characters: wide enough for a typical option
#: label ("technical support for television") in two lines at 8 pt.
WRAP_CHARS = 24
#: ...and in an ellipse (``back`` nodes) to this many.
ELLIPSE_WRAP_CHARS = 15

#: Diff colours: the usual review palette (green added, red removed), plus distinct
#: hues for the three kinds of "same option, something changed".
DIFF_COLOURS = {
    "added": "#2e7d32",
    "removed": "#c62828",
    "moved": "#ef6c00",
    "relabelled": "#1565c0",
    "changed": "#6a1b9a",  # timing / entry changes
    "unconfirmed": "#8d6e63",  # added / removed, but one menu was not heard to its end
}
DIFF_FILLS = {
    "added": "#e8f5e9",
    "removed": "#ffebee",
    "moved": "#fff3e0",
    "relabelled": "#e3f2fd",
    "changed": "#f3e5f5",
    "unconfirmed": "#efebe9",
}
#: When a node has several changes its outline shows the most structural one.
STATUS_PRIORITY = ("added", "removed", "moved", "relabelled", "unconfirmed", "changed")

#: Changes drawn dashed: what is gone, and what is not sure.
_DASHED = ("removed", "unconfirmed")
#: Changes to the tree's shape: their edges are coloured too.
_STRUCTURAL = ("added", "removed", "moved", "unconfirmed")

KIND_FILLS = {
    "menu": "#dbe9f6",
    "agent": "#dcefdc",
    "input": "#fdf0d5",
    "info": "#ece4f3",
    "back": "#eeeeee",
    "unknown": "#ffffff",
}
KINDS = tuple(KIND_FILLS)


# -- shared helpers ---------------------------------------------------------------


def _require_matplotlib() -> None:
    """matplotlib is an optional extra: say how to get it instead of a bare ImportError."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("drawing a tree as SVG needs matplotlib: pip install 'ivrkit[plot]'") from None


def _key_rank(key: str) -> tuple[int, str]:
    k = str(key)
    return (KEY_ORDER.index(k), k) if k in KEY_ORDER else (len(KEY_ORDER), k)


def _root(G: nx.DiGraph):
    if "root" in G:
        return "root"
    roots = [n for n in G if G.in_degree(n) == 0]
    if not roots:
        raise ValueError("tree has no root node")
    return roots[0]


def ordered_children(G: nx.DiGraph, node) -> list:
    """Children of ``node`` in keypad order of the edge key."""
    return sorted(G.successors(node), key=lambda c: _key_rank(G.edges[node, c].get("key", "")))


def tree_layout(G: nx.DiGraph, root=None) -> dict:
    """Tidy layout of a tree: ``{node: (x, depth)}``.

    Leaves take consecutive integer slots left to right (keypad order), and every
    parent sits at the midpoint of its first and last child, so no two subtrees
    overlap and a parent is always centred over what it leads to.
    """
    root = _root(G) if root is None else root
    pos: dict = {}
    next_leaf = 0.0

    def place(node, depth: int) -> float:
        nonlocal next_leaf
        kids = ordered_children(G, node)
        if not kids:
            x = next_leaf
            next_leaf += 1.0
        else:
            xs = [place(c, depth + 1) for c in kids]
            x = (xs[0] + xs[-1]) / 2.0
        pos[node] = (x, depth)
        return x

    place(root, 0)
    return pos


def _fmt_s(v) -> str:
    return f"{float(v):.1f} s"


def _wrap_chars(kind: str | None) -> int:
    """An ellipse is narrow at its top and bottom: its text wraps shorter, so the shape
    grows a little in height instead of a lot."""
    return ELLIPSE_WRAP_CHARS if kind == "back" else WRAP_CHARS


def _node_lines(G: nx.DiGraph, node) -> list[str]:
    """What a person needs at a node: the option's words, kind, entry, wait."""
    label, detail = _node_text(G, node)
    return label + detail


def _node_text(G: nx.DiGraph, node) -> tuple[list[str], list[str]]:
    """(option words wrapped, [kind and entry, wait])."""
    attrs = G.nodes[node]
    preds = list(G.predecessors(node))
    if preds:
        label = G.edges[preds[0], node].get("label") or ""
    else:
        label = "main menu"
    kind = attrs.get("kind") or "unknown"
    role = attrs.get("role") or (G.edges[preds[0], node].get("role") if preds else None)
    if kind == "back" and role == "repeat":  # "hear these options again" stays in the same menu
        kind = "back · repeat"
    words = textwrap.wrap(label, _wrap_chars(kind)) or ["(no label)"]
    detail = [kind + (f" · keys {attrs['entry']}" if attrs.get("entry") else "")]
    if attrs.get("wait") is not None:
        detail.append(f"wait {_fmt_s(attrs['wait'])}")
    elif attrs.get("listen_after") is not None:
        detail.append(f"listens after {_fmt_s(attrs['listen_after'])}")
    return words, detail


def _path_id(path: Iterable[str]) -> str:
    path = [str(k) for k in path]
    return "/".join(path) if path else "root"


def _node_by_path(G: nx.DiGraph) -> dict[tuple, object]:
    out = {}
    for n, a in G.nodes(data=True):
        p = a.get("path")
        if p is None:
            p = [] if n == "root" else str(n).split("/")
        out[tuple(str(k) for k in p)] = n
    return out


# -- Mermaid ----------------------------------------------------------------------

_MERMAID_SHAPES = {
    "menu": ('["', '"]'),
    "agent": ('(["', '"])'),
    "input": ('[/"', '"/]'),
    "info": ('[["', '"]]'),
    "back": ('(("', '"))'),
    "unknown": ('["', '"]'),
}


def _mermaid_escape_text(text: str) -> str:
    out = []
    for ch in str(text):
        if ch == "#":
            out.append("#35;")
        elif ch == '"':
            out.append("#quot;")
        elif ch in "<>":
            out.append("#lt;" if ch == "<" else "#gt;")
        else:
            out.append(ch)
    return "".join(out)


def _mermaid_header(graph: dict, suffix: str | None = None) -> list[str]:
    title = " ".join(str(graph[k]) for k in ("company", "number") if graph.get(k))
    if suffix:
        title = f"{title}: {suffix}" if title else suffix
    # YAML front matter; quoted because a title may hold ':' or '#'
    return ["---", "title: " + '"' + title.replace('"', "'") + '"', "---"] if title else []


def _mermaid_id(node) -> str:
    s = str(node)
    if s == "root":
        return "root"
    return "n_" + "_".join({"*": "star", "#": "hash"}.get(k, k) for k in s.split("/"))


def _mermaid_node(mid: str, kind: str, lines: list[str], cls: str | None = None) -> str:
    left, right = _MERMAID_SHAPES.get(kind, _MERMAID_SHAPES["unknown"])
    text = "<br/>".join(_mermaid_escape_text(l) for l in lines)
    suffix = f":::{cls}" if cls else ""
    return f"    {mid}{left}{text}{right}{suffix}"


def tree_to_mermaid(G: nx.DiGraph) -> str:
    """The tree as a Mermaid ``flowchart TD``.

    Node shape by kind (menu rectangle, agent stadium, input parallelogram, info
    subroutine, back circle, unknown dashed rectangle); the key on each edge; the
    option's words, entry and recommended wait in each node.
    """
    root = _root(G)
    order = list(nx.dfs_preorder_nodes(G, root, sort_neighbors=lambda ns: sorted(
        ns, key=lambda c: _key_rank(next(iter(G.pred[c].values()), {}).get("key", "")))))
    lines = _mermaid_header(G.graph) + ["flowchart TD"]
    for n in order:
        kind = G.nodes[n].get("kind") or "unknown"
        lines.append(_mermaid_node(_mermaid_id(n), kind, _node_lines(G, n), "unknown" if kind == "unknown" else None))
    for n in order:
        for c in ordered_children(G, n):
            key = G.edges[n, c].get("key", "")
            lines.append(f'    {_mermaid_id(n)} -->|"{_mermaid_escape_text(key)}"| {_mermaid_id(c)}')
    lines.append("    classDef unknown stroke-dasharray:5 4,color:#666,fill:#fff")
    return "\n".join(lines) + "\n"


# -- diff: one graph showing both trees --------------------------------------------

def _mark(U: nx.DiGraph, node, status: str, note: str | None = None) -> None:
    U.nodes[node]["status"].add(status)
    if note:
        U.nodes[node]["notes"].append(note)


def _option_at(at: dict, item: dict):
    return at.get(tuple(map(str, item["path"])) + (str(item["key"]),))


def _graft_gone(U: nx.DiGraph, old: nx.DiGraph, diff: dict, new_at: dict, old_at: dict) -> None:
    """Removed (and unconfirmed removed) branches of ``old`` added under their parents in
    ``U`` as ``"old:<id>"`` nodes."""
    gone = [(i, "removed", None) for i in diff.get("removed", [])]
    gone += [(i, "unconfirmed", "? removed, unconfirmed") for i in diff.get("unconfirmed", [])
             if i.get("change") == "removed"]
    for item, status, note in sorted(gone, key=lambda g: len(g[0]["path"])):
        on = _option_at(old_at, item)
        if on is None or "old:" + str(on) in U:
            continue
        parent_path = _old_to_new(tuple(map(str, item["path"])), diff.get("moved", []))
        parent = new_at.get(parent_path)
        if parent is None:
            parent = "old:" + _path_id(parent_path)
            if parent not in U:
                continue
        for d in nx.dfs_preorder_nodes(old, on):
            if d == on:
                src = parent
                edge = old.edges[next(iter(old.predecessors(on))), on] if old.in_degree(on) else {}
            else:
                p = next(iter(old.predecessors(d)))
                src, edge = "old:" + str(p), old.edges[p, d]
            uid = "old:" + str(d)
            U.add_node(uid, **{**old.nodes[d], "status": {status}, "notes": [note] if note and d == on else []})
            U.add_edge(src, uid, **edge)


def _fmt_change(v) -> str:
    return "?" if v is None else f"{float(v):.1f}"


def _mark_changes(U: nx.DiGraph, diff: dict, new_at: dict) -> None:
    """Status and notes on the new tree's nodes for every kept-but-changed option."""
    def at(path):
        return new_at.get(tuple(map(str, path)))

    # changes the diff could not confirm (the menu was not heard to its end in one of
    # the trees): shown, but in their own muted style
    for item in diff.get("unconfirmed", []):
        if item.get("change") == "added" and (n := _option_at(new_at, item)) is not None:
            _mark(U, n, "unconfirmed", "? added, unconfirmed")
    for item in diff.get("moved", []):
        if (n := at(item["to"])) is not None:
            _mark(U, n, "moved", "moved from " + (",".join(map(str, item["from"])) or "root"))
    for item in diff.get("relabelled", []):
        if (n := _option_at(new_at, item)) is not None:
            _mark(U, n, "relabelled", f"was: {item.get('old', '')}")
    for item in diff.get("entry", []):
        if (n := at(item["path"])) is not None:
            _mark(U, n, "changed", f"Δ entry {item.get('old') or '–'} → {item.get('new') or '–'}")
    for item in diff.get("timing", []):
        if (n := at(item["path"])) is not None:
            field = str(item.get("field", "timing")).replace("_", " ")
            _mark(U, n, "changed", f"Δ {field} {_fmt_change(item.get('old'))} → {_fmt_change(item.get('new'))} s")


def diff_graph(old: nx.DiGraph, new: nx.DiGraph, diff: dict) -> nx.DiGraph:
    """The new tree plus the removed parts of the old one, annotated for drawing.

    Every node gets ``status`` (a set of "added" / "removed" / "moved" /
    "relabelled" / "unconfirmed" / "changed") and ``notes`` (short lines saying what changed).
    Removed nodes get ids ``"old:<id>"`` so they never clash with a new option
    that took their key.
    """
    U = nx.DiGraph()
    U.graph.update(new.graph)
    for n, a in new.nodes(data=True):
        U.add_node(n, **{**a, "status": set(), "notes": []})
    for u, v, a in new.edges(data=True):
        U.add_edge(u, v, **a)
    new_at, old_at = _node_by_path(new), _node_by_path(old)
    for item in diff.get("added", []):
        if (n := _option_at(new_at, item)) is not None:
            for d in [n, *nx.descendants(new, n)]:
                _mark(U, d, "added")
    _graft_gone(U, old, diff, new_at, old_at)
    _mark_changes(U, diff, new_at)
    return U


def _old_to_new(path: tuple, moved) -> tuple:
    """Where an old tree's menu is now: a removed option's ``path`` names its parent
    in the old tree, and that parent may itself have moved (billing 1 -> 2)."""
    best = None
    for m in moved:
        frm = tuple(map(str, m["from"]))
        if path[:len(frm)] == frm and (best is None or len(frm) > len(best[0])):
            best = (frm, tuple(map(str, m["to"])))
    return best[1] + path[len(best[0]):] if best else path


def _primary_status(status: set) -> str | None:
    for s in STATUS_PRIORITY:
        if s in status:
            return s
    return None


def diff_to_mermaid(old: nx.DiGraph, new: nx.DiGraph, diff: dict) -> str:
    """The new tree with the old tree's removed options, changes coloured:
    added green, removed red dashed, moved orange, relabelled blue, timing / entry
    changes purple (with the old and new values in the node)."""
    U = diff_graph(old, new, diff)
    root = _root(U)
    order = list(nx.dfs_preorder_nodes(U, root, sort_neighbors=lambda ns: sorted(
        ns, key=lambda c: _key_rank(next(iter(U.pred[c].values()), {}).get("key", "")))))
    ids = {n: ("old_" + _mermaid_id(str(n)[4:]) if str(n).startswith("old:") else _mermaid_id(n)) for n in U}
    lines = _mermaid_header(U.graph, "menu changes") + ["flowchart TD"]
    for n in order:
        a = U.nodes[n]
        kind = a.get("kind") or "unknown"
        status = _primary_status(a["status"])
        cls = status or ("unknown" if kind == "unknown" else None)
        lines.append(_mermaid_node(ids[n], kind, _node_lines(U, n) + a["notes"], cls))
    link_styles = []
    i = 0
    for n in order:
        for c in ordered_children(U, n):
            key = U.edges[n, c].get("key", "")
            status = _primary_status(U.nodes[c]["status"])
            arrow = "-.->" if status in _DASHED else "-->"
            lines.append(f'    {ids[n]} {arrow}|"{_mermaid_escape_text(key)}"| {ids[c]}')
            if status in _STRUCTURAL:
                dash = ",stroke-dasharray:5 4" if status in _DASHED else ""
                link_styles.append(f"    linkStyle {i} stroke:{DIFF_COLOURS[status]},stroke-width:2px{dash}")
            i += 1
    lines.extend(link_styles)
    for s in STATUS_PRIORITY:
        dash = ",stroke-dasharray:5 4" if s in _DASHED else ""
        lines.append(f"    classDef {s} fill:{DIFF_FILLS[s]},stroke:{DIFF_COLOURS[s]},stroke-width:2px{dash}")
    lines.append("    classDef unknown stroke-dasharray:5 4,color:#666,fill:#fff")
    return "\n".join(lines) + "\n"


# -- SVG via matplotlib ---------------------------------------------------------------

#: Drawing units: one leaf slot is SLOT_IN inches wide, one tree level LEVEL_IN tall.
SLOT_IN = 2.05
LEVEL_IN = 1.45
BOX_W = 1.80          # box width in slot units (inches here: 1 unit = 1 inch)
LINE_H = 0.15         # inches per text line at FONT_PT
FONT_PT = 7.5
#: Width of a character at FONT_PT (DejaVu Sans averages ~0.6 em; bold ~0.65).
CHAR_W_IN = 0.65 * FONT_PT / 72
#: Air between a node's text and its outline, and between neighbouring shapes.
TEXT_PAD_IN = 0.06
SHAPE_GAP_IN = 0.15


def _shape_patch(kind: str, x: float, y: float, w: float, h: float, **style):
    """A matplotlib patch of the kind's shape centred at (x, y)."""
    from matplotlib.patches import Ellipse, FancyBboxPatch, PathPatch, Polygon
    from matplotlib.path import Path as MPath

    x0, y0 = x - w / 2, y - h / 2
    if kind == "agent":  # stadium: fully rounded ends
        r = h / 2
        return FancyBboxPatch((x0, y0), w, h, boxstyle=f"round,pad=0,rounding_size={r}", **style)
    if kind == "input":  # parallelogram: data the caller keys in
        s = 0.12
        return Polygon([(x0 + s, y0 + h), (x0 + w, y0 + h), (x0 + w - s, y0), (x0, y0)], closed=True,
                       **style)
    if kind == "info":  # document: wavy bottom edge
        a = 0.06
        verts = [(x0, y0 + h), (x0 + w, y0 + h), (x0 + w, y0 + a),
                 (x0 + 0.75 * w, y0 - a), (x0 + 0.25 * w, y0 + 3 * a), (x0, y0),
                 (x0, y0 + h)]
        codes = [MPath.MOVETO, MPath.LINETO, MPath.LINETO,
                 MPath.CURVE4, MPath.CURVE4, MPath.CURVE4, MPath.CLOSEPOLY]
        return PathPatch(MPath(verts, codes), **style)
    if kind == "back":
        return Ellipse((x, y), w, h * 1.15, **style)
    if kind == "unknown":
        style = dict(style, linestyle=(0, (4, 3)))
    return FancyBboxPatch((x0, y0), w, h, boxstyle="square,pad=0", **style)


def _svg_id(node) -> str:
    """XML-safe id: "2/1" -> "n_2_1", removed "old:0" -> "old_n_0"."""
    s = str(node)
    return "old_" + _mermaid_id(s[4:]) if s.startswith("old:") else _mermaid_id(s)


def _styled_lines(U: nx.DiGraph, n, diff_mode: bool) -> list[tuple[str, tuple[str, str, str]]]:
    """Node text lines with (colour, weight, style): words bold, details grey,
    change notes italic in their change's colour."""
    a = U.nodes[n]
    status = _primary_status(a.get("status", set())) if diff_mode else None
    faded = status in _DASHED or (a.get("kind") or "unknown") == "unknown"
    words, detail = _node_text(U, n)
    out = [(w, ("#777777" if faded else "#1a1a1a", "bold", "normal")) for w in words]
    out += [(d, ("#777777" if faded else "#555555", "normal", "normal")) for d in detail]
    for note in a.get("notes", []):
        colour = DIFF_COLOURS["changed"] if note.startswith("Δ") else DIFF_COLOURS.get(status or "", "#1a1a1a")
        out += [(w, (colour, "normal", "italic")) for w in textwrap.wrap(note, _wrap_chars(a.get("kind")) + 4)]
    return out


def _shape_size(kind: str, lines: list[str]) -> tuple[float, float]:
    """Width and height (inches) of a node's shape that holds its text lines with a
    margin: boxes are ``BOX_W`` wide unless the text needs more; an ellipse is sized so
    the text's corners sit inside it (a rectangle's corners touch the ellipse through
    them at sqrt(2) times its half sides), widened up to a slot, then made taller."""
    text_w = max((len(t) for t in lines), default=0) * CHAR_W_IN
    text_h = len(lines) * LINE_H
    max_w = SLOT_IN - SHAPE_GAP_IN
    if kind != "back":
        return min(max(BOX_W, text_w + 2 * TEXT_PAD_IN), max_w), text_h + 0.16
    a = min(max(BOX_W, (text_w / 2 + TEXT_PAD_IN) * math.sqrt(2) * 2), max_w) / 2
    half_w = min(text_w / 2 + TEXT_PAD_IN, 0.95 * a)
    b = (text_h / 2 + TEXT_PAD_IN) / math.sqrt(1.0 - (half_w / a) ** 2)
    return 2 * a, 2 * b


def _canvas(U: nx.DiGraph, pos: dict, sizes: dict, title: str | None):
    """Figure, axes and ``centre(node) -> (x, y)`` for the layout."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n_slots = max(x for x, _ in pos.values()) + 1
    depth = max(d for _, d in pos.values()) + 1
    level_h = max(LEVEL_IN, max(h for _w, h in sizes.values()) + 0.69)
    title_h = 0.35 if title else 0.0
    width = max(n_slots * SLOT_IN, 4.0)
    height = depth * level_h + 0.55 + title_h  # + the legend's band
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    x_off = (width - n_slots * SLOT_IN) / 2
    if title:
        ax.text(width / 2, height - 0.2, title, ha="center", va="center", fontsize=10, fontweight="bold")

    def centre(n):
        x, d = pos[n]
        return x_off + (x + 0.5) * SLOT_IN, height - title_h - (d + 0.5) * level_h

    return fig, ax, centre


_EDGE_Z = {"removed": 1.0, "unconfirmed": 1.0, None: 1.1, "relabelled": 1.1, "changed": 1.1, "moved": 1.2,
           "added": 1.3}


def _draw_edge(ax, U, u, v, a, centre, sizes, diff_mode: bool) -> None:
    """Elbow connector with one bus per parent just below it (siblings share the bus, so
    edges never cross and the keys line up in a row), and the key's disc."""
    (x1, y1), (x2, y2) = centre(u), centre(v)
    y1 -= sizes[u][1] / 2
    y2 += sizes[v][1] / 2
    status = _primary_status(U.nodes[v].get("status", set())) if diff_mode else None
    structural = status in _STRUCTURAL
    colour = DIFF_COLOURS[status] if structural else "#555555"
    ym = y1 - 0.22
    # the parent's stem stays neutral: it is shared by all its options
    ax.plot([x1, x1], [y1, ym], color="#555555", lw=1.0, zorder=1.1)
    ax.plot([x1, x2, x2], [ym, ym, y2], color=colour, lw=1.6 if structural else 1.0,
            ls=(0, (4, 3)) if status in _DASHED else "-", solid_joinstyle="miter", zorder=_EDGE_Z.get(status, 1.1))
    key_colour = DIFF_COLOURS.get(status or "") if status in (*_STRUCTURAL, "relabelled") else None
    ax.text(x2, y2 + 0.2, str(a.get("key", "")), ha="center", va="center", fontsize=FONT_PT + 1,
            fontweight="bold", color="white" if key_colour else "#222222", gid=f"key-{_svg_id(v)}",
            bbox=dict(boxstyle="circle,pad=0.22", fc=key_colour or "#ffffff", ec=key_colour or "#555555", lw=1.0),
            zorder=4)


def _node_style(a: dict, kind: str, diff_mode: bool) -> tuple[dict, str | None]:
    status = _primary_status(a.get("status", set())) if diff_mode else None
    if diff_mode:
        fc = DIFF_FILLS[status] if status else "#ffffff"
        ec = DIFF_COLOURS[status] if status else "#777777"
        lw = 1.8 if status else 0.9
    else:
        fc, ec, lw = KIND_FILLS.get(kind, "#ffffff"), "#4a4a4a", 1.0
    style = dict(facecolor=fc, edgecolor=ec, linewidth=lw, zorder=2)
    if status in _DASHED:
        style["linestyle"] = (0, (4, 3))
    return style, status


def _draw_node(ax, U, n, centre, size, styled, diff_mode: bool) -> None:
    a = U.nodes[n]
    kind = a.get("kind") or "unknown"
    (cx, cy), (w, h) = centre(n), size
    style, status = _node_style(a, kind, diff_mode)
    patch = _shape_patch(kind, cx, cy, w, h, **style)
    patch.set_gid(f"node-{_svg_id(n)}")
    ax.add_patch(patch)
    if diff_mode and "changed" in a.get("status", set()) and status != "changed":
        # a second, inner purple outline: "also its timing / entry changed"
        ax.add_patch(_shape_patch(kind, cx, cy, w - 0.08, h - 0.08, facecolor="none",
                                  edgecolor=DIFF_COLOURS["changed"], linewidth=1.0, zorder=2))
    top = cy + (len(styled) - 1) * LINE_H / 2
    for i, (line, (colour, weight, fstyle)) in enumerate(styled):
        ax.text(cx, top - i * LINE_H, line, ha="center", va="center", fontsize=FONT_PT,
                fontweight=weight, color=colour, fontstyle=fstyle, zorder=3, gid=f"text-{_svg_id(n)}")


def _legend(ax, U, diff_mode: bool) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if diff_mode:
        handles = [Patch(facecolor=DIFF_FILLS[s], edgecolor=DIFF_COLOURS[s], lw=1.5,
                         ls="--" if s in _DASHED else "-",
                         label={"changed": "timing / entry changed"}.get(s, s)) for s in STATUS_PRIORITY
                   if s != "unconfirmed" or any(s in U.nodes[n].get("status", ()) for n in U)]
        handles.append(Patch(facecolor="#ffffff", edgecolor="#777777", label="unchanged"))
    else:
        handles = [Patch(facecolor=KIND_FILLS[k], edgecolor="#4a4a4a", ls="--" if k == "unknown" else "-", label=k)
                   for k in KINDS if any((U.nodes[n].get("kind") or "unknown") == k for n in U)]
        handles.append(Line2D([], [], marker="o", ls="", markerfacecolor="white", markeredgecolor="#555",
                              markersize=9, label="key to press"))
    ax.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=FONT_PT, frameon=False,
              bbox_to_anchor=(0.5, 0.0), handlelength=1.6)


def _draw(U: nx.DiGraph, out_path, *, diff_mode: bool, title: str | None) -> None:
    _require_matplotlib()
    pos = tree_layout(U, _root(U))
    styled = {n: _styled_lines(U, n, diff_mode) for n in U}
    sizes = {n: _shape_size(U.nodes[n].get("kind") or "unknown", [t for t, _ in styled[n]]) for n in U}
    fig, ax, centre = _canvas(U, pos, sizes, title)
    for u, v, a in U.edges(data=True):
        _draw_edge(ax, U, u, v, a, centre, sizes, diff_mode)
    for n in U:
        _draw_node(ax, U, n, centre, sizes[n], styled[n], diff_mode)
    _legend(ax, U, diff_mode)
    _save_atomic(fig, out_path)


def _save_atomic(fig, out_path) -> None:
    import matplotlib

    out = Path(out_path)
    fmt = out.suffix.lstrip(".").lower() or "svg"
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        # text stays text in the SVG: searchable, selectable and small
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "ivrkit"}):
            fig.savefig(tmp, format=fmt, dpi=110)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def tree_to_svg(G: nx.DiGraph, out_path) -> None:
    """Draw the tree to ``out_path`` (SVG; a ``.png`` suffix gives a PNG).

    Boxes by kind, the key on each edge, the option's words, entry and wait in each
    node. Written to a temporary file and renamed, so a reader never sees half a file.
    """
    U = G.copy()
    title = " ".join(x for x in (G.graph.get("company"), G.graph.get("number")) if x) or None
    _draw(U, out_path, diff_mode=False, title=title)


def diff_to_svg(old: nx.DiGraph, new: nx.DiGraph, diff: dict, out_path) -> None:
    """Draw the diff: the new tree with removed options of the old one, coloured
    as in :func:`diff_to_mermaid`, with a legend."""
    U = diff_graph(old, new, diff)
    company = new.graph.get("company") or old.graph.get("company")
    title = f"{company}: menu changes" if company else "menu changes"
    _draw(U, out_path, diff_mode=True, title=title)
