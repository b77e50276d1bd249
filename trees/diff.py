"""What changed between two trees of one company (the contract's diff JSON).

Nodes are matched top-down: an option at the same key of matched menus with a
similar label is the same option; then options left over anywhere are paired by
label (``moved``: same words, new key or place); then left-overs at the same key and
place with a related label are ``relabelled``. Only what is still unpaired is
``added`` / ``removed`` (reported at the top of the subtree that appeared or went).
"""
from __future__ import annotations

import networkx as nx

from . import textsim

#: Timing differences under this are measurement noise, not a change (contract).
TIMING_CHANGE_S = 1.0
TIMING_FIELDS = ("listen_after", "wait")


def _children(G, n):
    return {G.edges[n, c]["key"]: c for c in G.successors(n)}


def _label(G, n):
    preds = list(G.predecessors(n))
    return G.edges[preds[0], n].get("label") if preds else None


def _path(G, n):
    return list(G.nodes[n].get("path") or [])


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
                        or (_label(old, a) is None and _label(new, b) is None)):
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
            for b, pb in pool_new:
                la, lb = _label(old, a), _label(new, b)
                if la and lb and textsim.same_label(la, lb):
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
    for a, pa in pool_old:
        out["removed"].append({"path": _path(old, pa), "key": old.edges[pa, a]["key"], "label": _label(old, a)})
    for b, pb in pool_new:
        out["added"].append({"path": _path(new, pb), "key": new.edges[pb, b]["key"], "label": _label(new, b)})
    for a, b in pairs:
        da, db = old.nodes[a], new.nodes[b]
        if (da.get("kind") == "input" or db.get("kind") == "input") and da.get("entry") != db.get("entry") \
                and (da.get("entry") or db.get("entry")):
            out["entry"].append({"path": _path(new, b), "old": da.get("entry"), "new": db.get("entry")})
        for f in TIMING_FIELDS:
            x, y = da.get(f), db.get(f)
            if x is not None and y is not None and abs(float(y) - float(x)) >= TIMING_CHANGE_S:
                out["timing"].append({"path": _path(new, b), "field": f, "old": x, "new": y})
                break  # the wait follows listen_after: one change, reported once
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
        lines.append(f"~ timing     {_p(x['path'])}: {x['field']} {x['old']} s -> {x['new']} s")
    return "\n".join(lines) if lines else "no changes"
