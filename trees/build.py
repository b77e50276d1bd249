"""Merge call timelines into one menu tree.

Each timeline (``ivrkit.timeline/1``, read as ``model.Timeline`` records) is one
call: a walk through the IVR whose ``menus`` list the nodes visited in order. The
navigation is decided by ``navigate`` (the calls read together, then each walked:
where each visit landed, which presses the IVR took); this module only merges those
decided visits. What every call says about a node or an option is kept as votes and
evidence on the graph, so a later merge (``map --into``) adds to it instead of
overwriting it.
"""
from __future__ import annotations

import datetime as _dt
import math
from collections import Counter
from dataclasses import dataclass, field

import networkx as nx

from . import infer, service_info, textsim
from .model import DTMF_KEYS, KINDS, NAV_ROLES, ROLES, VISIT_KINDS, Evidence, Timeline, Visit  # noqa: F401
from .model import TREE_SCHEMA as SCHEMA
from .model import fmt_s, node_id, path_order
from .navigate import Decided, Known, Step, decide_call, read_together
from .waits import recommend_waits

#: A caller who pressed this long after the last option heard let the menu finish
#: (a barge-in comes during an option or the short gap after it; the menu then waits
#: seconds for a key): every option of the menu was heard.
OPTIONS_DONE_GAP_S = 1.0


@dataclass
class _NodeAcc:
    path: tuple[str, ...]
    visits: int = 0
    prompts: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)  # key -> label last heard
    kind_votes: Counter = field(default_factory=Counter)
    entry_votes: Counter = field(default_factory=Counter)
    lang_votes: Counter = field(default_factory=Counter)  # BCP-47 code of each visit's prompt
    evidence: list[Evidence] = field(default_factory=list)
    returns_to: list[str] | None = None
    options_complete: bool = False


@dataclass
class _EdgeAcc:
    label_votes: Counter = field(default_factory=Counter)
    role_votes: Counter = field(default_factory=Counter)
    evidence: list[str] = field(default_factory=list)
    heard: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    inferred: list[str] = field(default_factory=list)  # file@t of inferred presses (trees.infer)


class _Tree:
    """Accumulators for nodes and edges while merging."""

    def __init__(self):
        self.nodes: dict[tuple, _NodeAcc] = {}
        self.edges: dict[tuple, _EdgeAcc] = {}

    def node(self, path) -> _NodeAcc:
        path = tuple(path)
        if path not in self.nodes:
            self.nodes[path] = _NodeAcc(path)
        return self.nodes[path]

    def edge(self, parent, key) -> _EdgeAcc:
        k = (tuple(parent), key)
        if k not in self.edges:
            self.edges[k] = _EdgeAcc()
        return self.edges[k]

    def known(self) -> Known:
        """What the calls merged so far heard (a copy the next call's walk adds to)."""
        k = Known(prompts={p: list(a.prompts) for p, a in self.nodes.items()})
        for (parent, key), e in self.edges.items():
            if e.label_votes:
                k.options.setdefault(parent, {}).setdefault(key, set()).update(e.label_votes)
            roles = {r for r in NAV_ROLES if e.role_votes.get(r)}
            if roles:
                k.nav_roles[(parent, key)] = roles
        return k


def _vote_visit(acc: _NodeAcc, v: Visit, s: Step, file: str, estimate_at: dict) -> None:
    """A visit that arrived at its node: its prompt, kind, entry and prompt estimate."""
    start = v.origin_s
    acc.visits += 1
    if v.prompt and s.first:
        acc.prompts.append(v.prompt)
    if v.kind in VISIT_KINDS:
        acc.kind_votes[v.kind] += 1
    if v.entry:
        acc.entry_votes[v.entry] += 1
    if v.extra.get("lang"):
        acc.lang_votes[v.extra["lang"]] += 1
    if v.listen_after is not None and s.first:
        acc.evidence.append(Evidence.at(file, start + float(v.listen_after) - s.origin, "prompt"))
        estimate_at[(s.path, s.origin)] = len(acc.evidence) - 1


def _prompt_went_on_estimate(acc: _NodeAcc, v: Visit, s: Step, file: str, estimate_at: dict) -> None:
    """The front end cut this prompt at a press it took for accepted and clipped its
    estimate to that press; the rest of the prompt (this visit) holds the call to action."""
    if not (s.first and v.listen_after is not None and (s.path, s.origin) in estimate_at):
        return
    j = estimate_at[(s.path, s.origin)]
    t_press = float(math.inf if v.via is None or v.via.time is None else v.via.time) - s.origin
    if acc.evidence[j].t >= t_press - 0.05:
        acc.evidence[j] = Evidence.at(file, v.origin_s + float(v.listen_after) - s.origin, "prompt")


def _hear_options(tree: _Tree, acc: _NodeAcc, v: Visit, s: Step, file: str, heard: set) -> None:
    """The options a visit announced (each key once per prompt heard from its start)."""
    opts_v = [o for o in v.options if o.end is not None]
    if opts_v and v.end is not None and \
            float(v.end) - max(float(o.end) for o in opts_v) >= OPTIONS_DONE_GAP_S:
        acc.options_complete = True
    for o in v.options:
        k = o.key
        if not k or k in heard:
            continue
        heard.add(k)
        e = tree.edge(s.path, k)
        if o.label:
            e.label_votes[o.label] += 1
            acc.options[k] = o.label
        e.role_votes[o.role or "option"] += 1
        if o.start is not None:
            e.heard.append(f"{file}@{fmt_s(o.start)}")


def _listen_evidence(acc: _NodeAcc, v: Visit, s: Step, file: str, verdicts) -> None:
    """What the visit's presses (their final verdicts; without presses, its bounds)
    say about when the node listens."""
    for p, accepted in verdicts:
        rel = (float(p.time) if accepted else float(p.end or p.time)) - s.origin
        if rel < 0:
            continue  # typed ahead of the prompt: says nothing about when it listens
        acc.evidence.append(Evidence.at(file, rel, "accepted" if accepted else "ignored"))
    if not v.presses and s.first:
        lo, hi = v.listen_bounds
        if lo is not None:
            acc.evidence.append(Evidence.at(file, v.origin_s + lo - s.origin, "ignored"))
        if hi is not None:
            acc.evidence.append(Evidence.at(file, v.origin_s + hi - s.origin, "accepted"))


def _taken(e: _EdgeAcc, v: Visit, file: str) -> None:
    """The press that took the option, and how long the next node took to start."""
    if v.extra.get("inferred") and v.via is not None and v.via.time is not None:
        e.inferred.append(f"{file}@{fmt_s(v.via.time)}")  # no tone: not a heard press
        return
    if v.via is not None and v.via.time is not None:
        e.evidence.append(f"{file}@{fmt_s(v.via.time)}")
    if v.via is not None and v.via.latency is not None:
        e.latencies.append(float(v.via.latency))


def _arrival(tree: _Tree, v: Visit, s: Step, prev: Step, file: str) -> None:
    """The edge a visit came in by (a first entry, or a back / repeat option)."""
    if s.mode == "enter":
        e = tree.edge(s.path[:-1], s.path[-1])
        if s.path[-1] not in DTMF_KEYS:
            e.role_votes["entry"] += 1
        _taken(e, v, file)
    elif s.mode == "revisit":
        key = v.via.key if v.via is not None else None
        parent = prev.path
        if key is not None and (parent, key) in tree.edges and (parent + (key,)) in tree.nodes \
                and tree.nodes[parent + (key,)].returns_to is not None:
            _taken(tree.edges[(parent, key)], v, file)


def _add_call(call: Decided, tree: _Tree) -> dict:
    """Merge one call's decided visits into the accumulators; returns its source entry."""
    tl, steps = call.timeline, call.steps
    file = tl.file or "call"
    for r in call.returns:
        tree.node(r.parent + (r.key,)).returns_to = list(r.target)
        tree.edge(r.parent, r.key).role_votes[r.role] += 1
    heard_at_origin: dict[tuple, set] = {}
    estimate_at: dict[tuple, int] = {}  # (node, origin) -> index of its prompt estimate
    for i, (v, s) in enumerate(zip(tl.menus, steps)):
        acc = tree.node(s.path)
        if s.mode != "rest":
            _vote_visit(acc, v, s, file, estimate_at)
        else:
            _prompt_went_on_estimate(acc, v, s, file, estimate_at)
        _hear_options(tree, acc, v, s, file, heard_at_origin.setdefault((s.path, s.origin), set()))
        _listen_evidence(acc, v, s, file, call.verdicts(i))
        if i > 0:
            _arrival(tree, v, s, steps[i - 1], file)
    src = {"file": file, "sha256": tl.sha256, "duration": tl.duration}
    if tl.answer is not None:
        src["answer"] = tl.answer
    if tl.greeting_onset is not None:
        src["greeting_onset"] = tl.greeting_onset
    return src


def _seed(G: nx.DiGraph, tree: _Tree) -> None:
    """Accumulators from a tree merged before (its votes and evidence carry over)."""
    for n, d in G.nodes(data=True):
        path = tuple(d.get("path") or ())
        acc = tree.node(path)
        acc.visits = int(d.get("visits") or (0 if d.get("kind") in ("back", "unknown") else 1))
        if d.get("prompt"):
            acc.prompts.append(d["prompt"])
        if d.get("kind") in VISIT_KINDS:
            acc.kind_votes.update(d.get("kind_votes") or {d["kind"]: max(acc.visits, 1)})
        if d.get("entry"):
            acc.entry_votes.update(d.get("entry_votes") or {d["entry"]: max(acc.visits, 1)})
        if d.get("lang"):
            acc.lang_votes.update(d.get("lang_votes") or {d["lang"]: max(acc.visits, 1)})
        # parsed once here; a string that is not evidence is dropped
        acc.evidence.extend(e for e in map(Evidence.parse, d.get("listen_evidence") or []) if e is not None)
        if d.get("returns_to") is not None:
            acc.returns_to = list(d["returns_to"])
        acc.options_complete = bool(d.get("options_complete"))
        if acc.visits == 0 and d.get("kind") in ("back", "unknown") and acc.returns_to is None:
            del tree.nodes[path]  # structural leaf: rebuilt from the edge below
    for u, v, d in G.edges(data=True):
        parent = tuple(G.nodes[u].get("path") or ())
        e = tree.edge(parent, d.get("key"))
        if d.get("label_votes"):
            e.label_votes.update(d["label_votes"])
        elif d.get("label"):
            e.label_votes[d["label"]] += 1
        e.role_votes.update(d.get("role_votes") or {d.get("role") or "option": 1})
        e.evidence.extend(d.get("evidence") or [])
        e.heard.extend(d.get("heard") or [])
        e.latencies.extend(d.get("latencies") or ([d["latency"]] if d.get("latency") is not None else []))
        e.inferred.extend(d.get("inferred") or [])
        if d.get("label"):
            tree.node(parent).options.setdefault(d["key"], d["label"])


def _misheard_keys(tree: _Tree) -> list[tuple]:
    """Options that are another key of the same menu misheard: never taken, and every
    label heard for them is the label more hearings gave another key ("to refill a
    prescription, press 4" once, "... press 1" in the other calls). A menu rarely
    offers one thing under two keys, and then says both in one breath ("to return to
    the main menu, press star or 9"): keys announced together are both kept."""
    out = []
    for (parent, key), e in tree.edges.items():
        child = tree.nodes.get(parent + (key,))
        if e.evidence or not e.label_votes or (child is not None and child.visits):
            continue
        if any(len(p) > len(parent) + 1 and p[:len(parent) + 1] == parent + (key,) for p in tree.nodes):
            continue
        n = sum(e.label_votes.values())
        for (p2, k2), e2 in tree.edges.items():
            if p2 != parent or k2 == key or sum(e2.label_votes.values()) <= n:
                continue
            if all(any(textsim.same_label(a, b) for b in e2.label_votes) for a in e.label_votes) \
                    and not _heard_together(e.heard, e2.heard):
                out.append((parent, key))
                break
    return out


#: Two keys announced within this many seconds of each other in one call were said in
#: one sentence ("press star or 9"), not misheard in two hearings of the menu.
TOGETHER_S = 3.0


def _heard_together(a: list[str], b: list[str]) -> bool:
    """Whether some call announced both options (``file@time`` lists) together."""
    def at(items):
        out = []
        for x in items:
            f, _, t = str(x).rpartition("@")
            try:
                out.append((f, float(t)))
            except ValueError:
                continue
        return out
    return any(f1 == f2 and abs(t1 - t2) <= TOGETHER_S for f1, t1 in at(a) for f2, t2 in at(b))


def _complete(tree: _Tree) -> dict[tuple, list]:
    """Drop misheard options, give every edge its two nodes and every path its
    ancestors (a call that started below the root); returns children keys per path."""
    for parent, key in _misheard_keys(tree):
        del tree.edges[(parent, key)]
        tree.nodes.pop(parent + (key,), None)
        if parent in tree.nodes:
            tree.nodes[parent].options.pop(key, None)
    for (parent, key), e in tree.edges.items():
        tree.node(parent)
        child = parent + (key,)
        if child not in tree.nodes:
            tree.node(child)
    for path in list(tree.nodes):
        for j in range(len(path)):
            tree.node(path[:j])
    children: dict[tuple, list] = {}
    for path in tree.nodes:
        if path:
            children.setdefault(path[:-1], []).append(path[-1])
    return children


def _node_kind(tree: _Tree, path: tuple, role: str | None, children: dict) -> str:
    """A node's kind: what its visits voted, a menu when callers pressed on from it, a
    back node when it only leads back, unknown when never entered."""
    acc = tree.nodes[path]
    if acc.visits == 0 and (acc.returns_to is not None or role in NAV_ROLES):
        return "back"
    if acc.visits == 0 and not children.get(path):
        return "unknown"
    kind = textsim.top_vote(acc.kind_votes, prefer=VISIT_KINDS)
    entered_options = [k for k in children.get(path, ()) if tree.nodes[path + (k,)].visits and k in DTMF_KEYS]
    if kind in (None, "agent", "info") and entered_options:
        kind = "menu"  # a caller pressed on from here to another menu
    if kind is None:
        kind = "menu" if children.get(path) else "info"
    if acc.returns_to is not None and role in NAV_ROLES:
        kind = "back"
    return kind


def _node_attrs(acc: _NodeAcc, path: tuple, kind: str, role: str | None) -> dict:
    attrs = dict(path=list(path), kind=kind, prompt=_representative(acc.prompts), listen_after=None, wait=None,
                 visits=acc.visits, listen_evidence=_unique([str(e) for e in acc.evidence]))
    if kind == "input":
        attrs["entry"] = textsim.top_vote(_entry_votes(acc.entry_votes))
    if acc.visits:
        attrs["options_complete"] = acc.options_complete
    if acc.kind_votes:
        attrs["kind_votes"] = dict(acc.kind_votes)
    if acc.entry_votes:
        attrs["entry_votes"] = dict(acc.entry_votes)
    if acc.lang_votes:  # the language most visits heard (labels stay in it)
        attrs["lang"] = textsim.top_vote(acc.lang_votes)
        attrs["lang_votes"] = dict(acc.lang_votes)
    if kind == "back":
        attrs["returns_to"] = acc.returns_to if acc.returns_to is not None else (
            list(path[:-1]) if role == "repeat" else [])
        attrs["role"] = "repeat" if role == "repeat" else "back"
    return attrs


def _edge_attrs(e: _EdgeAcc, key: str, role: str | None) -> dict:
    label, agree, total = textsim.vote_label(e.label_votes)
    # agreement with a prior of one vote each way (one hearing 0.67, three
    # agreeing 0.8, a 2:1 split 0.6); a press that took the option confirms it
    taken = len(set(e.evidence))
    conf = (agree + taken + 1) / (total + taken + 2)
    ed = dict(key=key, label=label, confidence=round(conf, 2), evidence=_unique(e.evidence), role=role or "option")
    if e.label_votes:
        ed["label_votes"] = dict(e.label_votes)
    if e.heard:
        ed["heard"] = _unique(e.heard)
    if e.latencies:
        ed["latencies"] = [round(x, 3) for x in e.latencies]
    if e.inferred:
        ed["inferred"] = _unique(e.inferred)
    return ed


def _finish(tree: _Tree) -> nx.DiGraph:
    """The graph of the accumulators (contract node / edge attributes plus votes)."""
    G = nx.DiGraph()
    children = _complete(tree)
    for path in sorted(tree.nodes, key=path_order):
        e = tree.edges.get((path[:-1], path[-1])) if path else None
        role = textsim.top_vote(e.role_votes, prefer=ROLES) if e else None
        G.add_node(node_id(path), **_node_attrs(tree.nodes[path], path, _node_kind(tree, path, role, children), role))
        if path:
            G.add_edge(node_id(path[:-1]), node_id(path), **_edge_attrs(e, path[-1], role))
    return G


def _entry_votes(votes: Counter) -> Counter:
    """A call that heard "ID" supports "ID#" heard by another: the terminator is said
    last, and callers typing over the prompt cut it off before it."""
    out = Counter({k: v for k, v in votes.items() if k})
    for k in [k for k in out if k[-1] not in "#*"]:
        ends = [t for t in out if t[:-1] == k and t[-1] in "#*"]
        if ends:
            out[max(ends, key=lambda t: (out[t], t))] += out.pop(k)
    return out


def _unique(items):
    seen, out = set(), []
    for x in items:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


def _representative(prompts: list[str]) -> str | None:
    """The prompt closest to all the others (a medoid): one garbled hearing loses."""
    ps = [p for p in prompts if p]
    if len(ps) <= 2:
        return max(ps, key=len) if ps else None
    ps = ps[-15:]
    scores = [sum(textsim.label_similarity(a, b) for b in ps) for a in ps]
    return ps[max(range(len(ps)), key=lambda i: (scores[i], len(ps[i])))]


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _merge_order(timelines) -> list[Timeline]:
    """Records in the order they are merged: the calls with heard keys read together
    first (a press that only seemed to leave the greeting), then after-hours calls,
    then the calls with no tone, not read together (their root runs on over every node
    they went to until their presses are inferred from what the others heard)."""
    open_calls, closed = [], []
    for tl in map(Timeline.from_json, timelines):
        (closed if service_info.is_after_hours(tl.extra) else open_calls).append(tl)
    return (read_together([t for t in open_calls if not infer.toneless(t)]) + closed
            + [t for t in open_calls if infer.toneless(t)])


def _set_graph_attrs(G: nx.DiGraph, gattrs: dict, company, number, sources: list, updated: bool) -> None:
    """The tree's graph attributes: those of the tree merged before, then this merge's."""
    G.graph.update(gattrs)
    G.graph["schema"] = SCHEMA
    G.graph["company"] = company if company is not None else gattrs.get("company")
    G.graph["number"] = number if number is not None else gattrs.get("number")
    G.graph["created"] = gattrs.get("created") or _utc_now()
    if updated:
        G.graph["updated"] = _utc_now()
    G.graph["sources"] = sources


def merge_timelines(timelines, company=None, number=None, graph=None, infer_presses: bool = True,
                    calls_out: list | None = None) -> nx.DiGraph:
    """One menu tree from the calls' timelines (and from ``graph``, a tree merged before).

    ``infer_presses``: in calls with no key tone, presses are inferred from what the
    IVR did (``trees.infer``; False leaves such a call at its root). ``calls_out``: a
    list that gets the timeline dicts as merged (with their inferred presses).

    A call already in ``graph`` (same sha256, or same file name when there is no hash)
    is not counted twice. Sets ``listen_after`` / ``wait`` with the default margin.
    """
    tree = _Tree()
    sources: list[dict] = []
    gattrs: dict = {}
    if graph is not None:
        _seed(graph, tree)
        gattrs = {k: v for k, v in graph.graph.items() if k not in ("schema", "sources")}
        sources = [dict(s) for s in graph.graph.get("sources") or []]
    seen = {(s.get("sha256") or s.get("file")) for s in sources}
    timelines = _merge_order(timelines)
    merged: list[dict] = []
    catalog = infer.Catalog()
    placed = not infer_presses
    for i, tl in enumerate(timelines):
        ident = tl.sha256 or tl.file
        if ident in seen and ident is not None:
            continue
        seen.add(ident)
        if service_info.is_after_hours(tl.extra):  # the closed greeting is not the root menu
            merged.append(tl.to_json())
            sources.append(service_info.after_hours_source(merged[-1]))
            continue
        known = tree.known()
        if not placed and infer.toneless(tl):  # the toneless calls come last: read them together
            timelines[i:] = infer.infer_calls(timelines[i:], catalog, known)
            tl, placed = timelines[i], True
        merged.append(tl.to_json())
        decided = decide_call(tl, known)
        if not infer.toneless(tl):  # what heard keys showed, for the toneless calls after
            infer.add_call(catalog, decided.timeline, decided.steps)
        sources.append(_add_call(decided, tree))
    if not tree.nodes:
        tree.node(())
    G = _finish(tree)
    _set_graph_attrs(G, gattrs, company, number, sources, updated=graph is not None)
    if calls_out is not None:
        calls_out.extend(merged)
    service_info.add_service_info(G, merged, prior=graph)  # hours, holds, after-hours variant
    recommend_waits(G)
    return G
