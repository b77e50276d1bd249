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
from .model import node_id as _p
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


def _same_lang(old, pa, new, pb) -> bool:
    """Options' labels are in their menu's language: a counterpart is searched among
    options of menus in the same language (unknown language matches any)."""
    la, lb = old.nodes[pa].get("lang"), new.nodes[pb].get("lang")
    return la is None or lb is None or la == lb


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


class _Matcher:
    """Pairs the nodes of two trees (see the module docstring): ``pairs`` matched,
    ``pool_old`` / ``pool_new`` the options still unpaired, each with its parent."""

    def __init__(self, old: nx.DiGraph, new: nx.DiGraph):
        self.old, self.new = old, new
        self.pairs: list[tuple[str, str]] = [("root", "root")]
        self.queue = [("root", "root")]
        self.pool_old: list[tuple[str, str]] = []  # (old node, matched old parent)
        self.pool_new: list[tuple[str, str]] = []
        self.matched_old, self.matched_new = {"root"}, {"root"}
        self.partner = {"root": "root"}

    def pair(self, a, b) -> None:
        self.matched_old.add(a)
        self.matched_new.add(b)
        self.partner[a] = b
        self.pairs.append((a, b))
        self.queue.append((a, b))

    def expand(self) -> None:
        """Pair the children of paired menus at the same key with similar labels."""
        old, new = self.old, self.new
        while self.queue:
            o, n = self.queue.pop(0)
            co, cn = _children(old, o), _children(new, n)
            for k in sorted(set(co) | set(cn)):
                a, b = co.get(k), cn.get(k)
                if a is not None and b is not None and (
                        textsim.same_label(_label(old, a), _label(new, b))
                        # a label nobody heard is no evidence of a change
                        or _label(old, a) is None or _label(new, b) is None):
                    self.pair(a, b)
                    continue
                if a is not None:
                    self.pool_old.append((a, o))
                if b is not None:
                    self.pool_new.append((b, n))

    def _prune(self) -> None:
        self.pool_old[:] = [x for x in self.pool_old if x[0] not in self.matched_old]
        self.pool_new[:] = [x for x in self.pool_new if x[0] not in self.matched_new]

    def moved(self) -> list[dict]:
        """The same words elsewhere (best-scoring pairs first)."""
        old, new = self.old, self.new
        cands = []
        for a, pa in self.pool_old:
            if _nav(old, pa, a):
                continue  # "return to the main menu" is in every submenu: no identity
            for b, pb in self.pool_new:
                la, lb = _label(old, a), _label(new, b)
                if la and lb and textsim.same_label(la, lb) and not _nav(new, pb, b) and _same_lang(old, pa, new, pb):
                    cands.append((textsim.label_similarity(la, lb), a, b))
        out = []
        for _, a, b in sorted(cands, reverse=True):
            if a in self.matched_old or b in self.matched_new:
                continue
            self.pair(a, b)
            out.append({"label": _label(new, b), "from": _path(old, a), "to": _path(new, b)})
        self._prune()
        return out

    def relabelled(self) -> list[dict]:
        """The same key under the same (matched) menu, reworded."""
        old, new = self.old, self.new
        out = []
        for a, pa in list(self.pool_old):
            for b, pb in list(self.pool_new):
                if b in self.matched_new or self.partner.get(pa) != pb:
                    continue
                if old.edges[pa, a]["key"] != new.edges[pb, b]["key"]:
                    continue
                la, lb = _label(old, a), _label(new, b)
                if textsim.label_similarity(la, lb) >= textsim.RELABEL_RATIO or \
                        _subtree_similarity(old, a, new, b) >= 0.5:
                    self.pair(a, b)
                    out.append({"path": _path(new, pb), "key": new.edges[pb, b]["key"], "old": la, "new": lb})
                    break
        self._prune()
        return out

    def run(self, out: dict) -> None:
        self.expand()
        while True:
            moved = self.moved()
            relabelled = self.relabelled()
            out["moved"] += moved
            out["relabelled"] += relabelled
            progressed = bool(moved or relabelled)
            if self.queue:
                self.expand()
                progressed = True
            if not progressed:
                break


def _file_unpaired(m: _Matcher, out: dict) -> list[dict]:
    """Options left unpaired on either side: removed / added, or unconfirmed (why)."""
    unconfirmed = []
    back = {v: k for k, v in m.partner.items()}
    for change, G, other, pool, counterpart in (("removed", m.old, m.new, m.pool_old, m.partner),
                                                 ("added", m.new, m.old, m.pool_new, back)):
        for n, parent in pool:
            item = {"path": _path(G, parent), "key": G.edges[parent, n]["key"], "label": _label(G, n)}
            why = ("incomplete" if not _complete(other, counterpart.get(parent))
                   else "weak" if _weak(G, parent, n) else None)
            if why is None:
                out[change].append(item)
            else:
                unconfirmed.append(dict(item, change=change, why=why, menu=_label(G, parent)))
    return unconfirmed


def _node_changes(m: _Matcher, out: dict) -> None:
    """Entry tokens and timings of the paired nodes."""
    for a, b in m.pairs:
        da, db = m.old.nodes[a], m.new.nodes[b]
        if da.get("entry") and db.get("entry") and da.get("entry") != db.get("entry"):
            out["entry"].append({"path": _path(m.new, b), "old": da.get("entry"), "new": db.get("entry")})
        for f in TIMING_FIELDS:
            x, y = da.get(f), db.get(f)
            if x is None or y is None:
                continue  # no evidence on one side (the wait is compared instead)
            if _apart(da, db, f) >= TIMING_CHANGE_S:
                out["timing"].append({"path": _path(m.new, b), "field": f, "old": x, "new": y})
            break  # the wait follows listen_after: one change, reported once


def diff_trees(old: nx.DiGraph, new: nx.DiGraph) -> dict:
    """The contract's diff of two trees of one company (see the module docstring)."""
    out = {"added": [], "removed": [], "moved": [], "relabelled": [], "entry": [], "timing": []}
    m = _Matcher(old, new)
    m.run(out)
    unconfirmed = _file_unpaired(m, out)
    _node_changes(m, out)
    if unconfirmed:
        out["unconfirmed"] = unconfirmed
    return out


def _tenths(v):
    return fmt_wait(v) if isinstance(v, (int, float)) else v


#: One line per change, in this order: (change, how its item reads).
_LINES = (
    ("added", lambda x: f"+ added      {_p(x['path'])}: {x['key']}  {x['label']}"),
    ("removed", lambda x: f"- removed    {_p(x['path'])}: {x['key']}  {x['label']}"),
    ("moved", lambda x: f"~ moved      {x['label']}: {','.join(x['from'])} -> {','.join(x['to'])}"),
    ("relabelled", lambda x: f"~ relabelled {_p(x['path'])}: {x['key']}  \"{x['old']}\" -> \"{x['new']}\""),
    ("entry", lambda x: f"~ entry      {_p(x['path'])}: {x['old']} -> {x['new']}"),
    ("timing", lambda x: f"~ timing     {_p(x['path'])}: {x['field']} {_tenths(x['old'])} s -> {_tenths(x['new'])} s"),
)


def format_diff(d: dict) -> str:
    """The diff as lines a person reads ("no changes" when there are none)."""
    lines = [line(x) for change, line in _LINES for x in d.get(change, [])]
    for x in d.get("unconfirmed", []):
        # say which tree holds it: "? removed" under a path read as a claim it is gone
        mine, other = ("old", "new") if x["change"] == "removed" else ("new", "old")
        why = (f"heard in few of the {mine} calls' visits, never entered" if x.get("why") == "weak"
               else f"the {other} calls never heard that menu to its end")
        # a path means another menu in the other tree when options moved: name the menu
        where = _p(x["path"]) + (f" ({x['menu']})" if x.get("menu") else "")
        lines.append(f"? only {mine:3}   {where}: {x['key']}  {x['label']}  (unconfirmed: {why})")
    return "\n".join(lines) if lines else "no changes"
