"""What changed between two trees of one company (the contract's diff JSON).

Nodes are matched top-down: an option at the same key of matched menus with a
similar label is the same option; then options left over anywhere are paired by
label (``moved``: same words, new key or place); then left-overs at the same key and
place with a related label are ``relabelled``. Only what is still unpaired is
``added`` / ``removed`` (reported at the top of the subtree that appeared or went).

Mapped trees only know the options their calls heard: when no call heard a menu to
its end (``options_complete`` false), an option missing on one side is listed under
the extra key ``unconfirmed`` instead of ``added`` / ``removed``, with ``why``
``"incomplete"``; so is an option heard in few visits and never entered (``"weak"``).
``menu`` names the menu it belongs to, in the tree that has it.
"""
from __future__ import annotations

import networkx as nx

from . import textsim
from .render import fmt_wait

#: Timing differences under this are measurement noise, not a change (contract).
TIMING_CHANGE_S = 1.0
TIMING_FIELDS = ("listen_after", "wait")
#: Share of a menu's visits an option must be heard in to count as added / removed
#: when nobody entered it.
WEAK_OPTION_SHARE = 1 / 3


def _children(G, n):
    return {G.edges[n, c]["key"]: c for c in G.successors(n)}


def _label(G, n):
    preds = list(G.predecessors(n))
    return G.edges[preds[0], n].get("label") if preds else None


def _path(G, n):
    return list(G.nodes[n].get("path") or [])


def _effective(d: dict, field: str) -> float:
    """The listen start to compare. A mapped node whose estimate sits on its earliest
    accepted press knows only "listening by then", somewhere after its latest ignored
    press (or 0): the middle of that span stands for it."""
    x = float(d[field])
    lo, hi = (d.get("listen_bounds") or [None, None])[:2]
    if field == "listen_after" and hi is not None and x >= hi - 1e-6:
        return ((lo if lo is not None else 0.0) + x) / 2
    return x


def _apart(da: dict, db: dict, field: str) -> float:
    return abs(_effective(db, field) - _effective(da, field))


def _nav(G, parent, n) -> bool:
    return G.edges[parent, n].get("role") in ("back", "repeat")


def _complete(G, n) -> bool:
    """Whether every option of menu ``n`` was heard (true trees say nothing: complete).
    An option missing from a menu nobody heard to the end may simply not have been
    reached, so its absence is not reported as a change."""
    if n is None:
        return True
    return G.nodes[n].get("options_complete", True) is not False


def _weak(G, parent, n) -> bool:
    """An option nobody entered that was heard in under a third of the visits to its
    menu: more likely a recognizer's invention than an option (true trees: never)."""
    d = G.nodes[n]
    if d.get("kind") != "unknown" or "heard" not in G.edges[parent, n]:
        return False
    visits = G.nodes[parent].get("visits") or 1
    return len(G.edges[parent, n]["heard"]) < WEAK_OPTION_SHARE * visits


def _subtree_similarity(old, o, new, n) -> float:
    """Share of child labels two nodes have in common (0 when either has none)."""
    lo = [_label(old, c) for c in old.successors(o)]
    ln = [_label(new, c) for c in new.successors(n)]
    if not lo or not ln:
        return 0.0
    hits = sum(1 for a in lo if any(textsim.same_label(a, b) for b in ln))
    return hits / max(len(lo), len(ln))


def diff_trees(old: nx.DiGraph, new: nx.DiGraph) -> dict:
    out = {"added": [], "removed": [], "moved": [], "relabelled": [], "entry": [], "timing": []}
    unconfirmed = []
    pairs: list[tuple[str, str]] = [("root", "root")]
    queue = [("root", "root")]
    pool_old: list[tuple[str, str]] = []  # (old node, matched old parent)
    pool_new: list[tuple[str, str]] = []
    matched_old, matched_new = {"root"}, {"root"}
    partner = {"root": "root"}

    def expand():
        while queue:
            o, n = queue.pop(0)
            co, cn = _children(old, o), _children(new, n)
            for k in sorted(set(co) | set(cn)):
                a, b = co.get(k), cn.get(k)
                if a is not None and b is not None and (
                        textsim.same_label(_label(old, a), _label(new, b))
                        # a label nobody heard is no evidence of a change
                        or _label(old, a) is None or _label(new, b) is None):
                    pair(a, b)
                    continue
                if a is not None:
                    pool_old.append((a, o))
                if b is not None:
                    pool_new.append((b, n))

    def pair(a, b):
        matched_old.add(a)
        matched_new.add(b)
        partner[a] = b
        pairs.append((a, b))
        queue.append((a, b))

    expand()
    while True:
        progressed = False
        # moved: the same words elsewhere (best-scoring pairs first)
        cands = []
        for a, pa in pool_old:
            if _nav(old, pa, a):
                continue  # "return to the main menu" is in every submenu: no identity
            for b, pb in pool_new:
                la, lb = _label(old, a), _label(new, b)
                if la and lb and textsim.same_label(la, lb) and not _nav(new, pb, b):
                    cands.append((textsim.label_similarity(la, lb), a, b))
        for _, a, b in sorted(cands, reverse=True):
            if a in matched_old or b in matched_new:
                continue
            pair(a, b)
            out["moved"].append({"label": _label(new, b), "from": _path(old, a), "to": _path(new, b)})
            progressed = True
        pool_old[:] = [x for x in pool_old if x[0] not in matched_old]
        pool_new[:] = [x for x in pool_new if x[0] not in matched_new]
        # relabelled: same key under the same (matched) menu, reworded
        for a, pa in list(pool_old):
            for b, pb in list(pool_new):
                if b in matched_new or partner.get(pa) != pb:
                    continue
                if old.edges[pa, a]["key"] != new.edges[pb, b]["key"]:
                    continue
                la, lb = _label(old, a), _label(new, b)
                if textsim.label_similarity(la, lb) >= textsim.RELABEL_RATIO or \
                        _subtree_similarity(old, a, new, b) >= 0.5:
                    pair(a, b)
                    out["relabelled"].append({"path": _path(new, pb), "key": new.edges[pb, b]["key"],
                                              "old": la, "new": lb})
                    progressed = True
                    break
        pool_old[:] = [x for x in pool_old if x[0] not in matched_old]
        pool_new[:] = [x for x in pool_new if x[0] not in matched_new]
        if queue:
            expand()
            progressed = True
        if not progressed:
            break
    back = {v: k for k, v in partner.items()}
    for change, G, other, pool, counterpart in (("removed", old, new, pool_old, partner),
                                                 ("added", new, old, pool_new, back)):
        for n, parent in pool:
            item = {"path": _path(G, parent), "key": G.edges[parent, n]["key"], "label": _label(G, n)}
            why = ("incomplete" if not _complete(other, counterpart.get(parent))
                   else "weak" if _weak(G, parent, n) else None)
            if why is None:
                out[change].append(item)
            else:
                unconfirmed.append(dict(item, change=change, why=why, menu=_label(G, parent)))
    for a, b in pairs:
        da, db = old.nodes[a], new.nodes[b]
        if da.get("entry") and db.get("entry") and da.get("entry") != db.get("entry"):
            out["entry"].append({"path": _path(new, b), "old": da.get("entry"), "new": db.get("entry")})
        for f in TIMING_FIELDS:
            x, y = da.get(f), db.get(f)
            if x is None or y is None:
                continue  # no evidence on one side (the wait is compared instead)
            if _apart(da, db, f) >= TIMING_CHANGE_S:
                out["timing"].append({"path": _path(new, b), "field": f, "old": x, "new": y})
            break  # the wait follows listen_after: one change, reported once
    if unconfirmed:
        out["unconfirmed"] = unconfirmed
    return out


def _p(path) -> str:
    return "/".join(path) if path else "root"


def format_diff(d: dict) -> str:
    lines = []
    for x in d.get("added", []):
        lines.append(f"+ added      {_p(x['path'])}: {x['key']}  {x['label']}")
    for x in d.get("removed", []):
        lines.append(f"- removed    {_p(x['path'])}: {x['key']}  {x['label']}")
    for x in d.get("moved", []):
        lines.append(f"~ moved      {x['label']}: {','.join(x['from'])} -> {','.join(x['to'])}")
    for x in d.get("relabelled", []):
        lines.append(f"~ relabelled {_p(x['path'])}: {x['key']}  \"{x['old']}\" -> \"{x['new']}\"")
    for x in d.get("entry", []):
        lines.append(f"~ entry      {_p(x['path'])}: {x['old']} -> {x['new']}")
    for x in d.get("timing", []):
        old_s, new_s = (fmt_wait(v) if isinstance(v, (int, float)) else v for v in (x["old"], x["new"]))
        lines.append(f"~ timing     {_p(x['path'])}: {x['field']} {old_s} s -> {new_s} s")
    for x in d.get("unconfirmed", []):
        # say which tree holds it: "? removed" under a path read as a claim it is gone
        mine, other = ("old", "new") if x["change"] == "removed" else ("new", "old")
        why = (f"heard in few of the {mine} calls' visits, never entered" if x.get("why") == "weak"
               else f"the {other} calls never heard that menu to its end")
        # a path means another menu in the other tree when options moved: name the menu
        where = _p(x["path"]) + (f" ({x['menu']})" if x.get("menu") else "")
        lines.append(f"? only {mine:3}   {where}: {x['key']}  {x['label']}  (unconfirmed: {why})")
    return "\n".join(lines) if lines else "no changes"
