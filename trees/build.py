"""Merge call timelines into one menu tree.

Each timeline (``ivrkit.timeline/1``) is one call: a walk through the IVR whose
``menus`` list the nodes visited in order. The walk is re-traced here rather than
trusting each visit's ``path``: a visit whose prompt is one already heard on the way
(an ignored press taken for accepted, "to hear these options again", "back to the
main menu") is folded into that node instead of growing a false branch. What every
call says about a node or an option is kept as votes and evidence on the graph, so
a later merge (``map --into``) adds to it instead of overwriting it.
"""
from __future__ import annotations

import datetime as _dt
import math
import re
from collections import Counter
from dataclasses import dataclass, field

import networkx as nx

from . import service_info, textsim
from .reconcile import reconcile_greetings
from .waits import fmt_s, parse_evidence, recommend_waits

SCHEMA = "ivrkit.tree/1"
KINDS = ("menu", "agent", "input", "info", "back", "unknown")
#: Kind hints a visit can vote for; ties go to the first (an input prompt is the
#: most specific, a bare recording the least).
VISIT_KINDS = ("input", "menu", "agent", "info")
#: Roles of an option in a prompt (discovery's ``Option.role``) plus the edge that
#: follows an input node's data entry.
ROLES = ("option", "back", "repeat", "entry")
DTMF_KEYS = frozenset("0123456789*#")
#: Option lists compare as "the same menu" when at least this many of the new
#: visit's options have the same key and label as the earlier menu's...
MIN_SHARED_OPTIONS = 2
#: ...and they are at least this share of the new visit's options.
SHARED_OPTIONS_SHARE = 0.67


#: A prompt that plays on over an ignored press has its next audio within a word gap
#: of the press (discovery bridges gaps under 0.35 s); a key that is taken stops the
#: prompt (100-400 ms) and the next node starts after a transition (0.3-2 s).
CONTINUED_PROMPT_MAX_GAP_S = 0.3
#: The far end's audio did not pause at all after the press (the front end measures
#: ~0 s): nothing happened, whatever the words say; the fastest platforms still take
#: 0.3 s to stop a prompt and start the next.
NO_GAP_S = 0.15
#: How platforms refuse a key, at the start of what they play next (Asterisk's
#: pm-invalid-option "That option is invalid", option-is-invalid, "I'm sorry, I didn't
#: understand", common "that is not a valid option / please try again").
INVALID_KEY_RE = re.compile(r"\b(invalid|not a valid|try again|didn t understand|did not understand|"
                            r"not recognized|not recognised)\b")
#: Keys typed as data (an ID, a phone number) follow each other within this gap
#: (0.3-0.5 s apart for a person, less for a dialer)...
ENTRY_KEY_GAP_S = 0.8
#: ...and come at least this many in a row (the shortest token, 4D, is four keys).
MIN_ENTRY_KEYS = 4
#: Words in a row shared by a visit and the one before it that show the menu started
#: over (a replay repeats whole option sentences; a prompt going on shares at most
#: stock phrases such as "press 2 for").
REPLAY_NGRAM = 4
#: A caller who pressed this long after the last option heard let the menu finish
#: (a barge-in comes during an option or the short gap after it; the menu then waits
#: seconds for a key): every option of the menu was heard.
OPTIONS_DONE_GAP_S = 1.0


def node_id(path) -> str:
    return "root" if not path else "/".join(path)


@dataclass
class _NodeAcc:
    path: tuple[str, ...]
    visits: int = 0
    prompts: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)  # key -> label last heard
    kind_votes: Counter = field(default_factory=Counter)
    entry_votes: Counter = field(default_factory=Counter)
    evidence: list[str] = field(default_factory=list)
    returns_to: list[str] | None = None
    options_complete: bool = False


@dataclass
class _EdgeAcc:
    label_votes: Counter = field(default_factory=Counter)
    role_votes: Counter = field(default_factory=Counter)
    evidence: list[str] = field(default_factory=list)
    heard: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


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


def _agreement(visit: dict, options: dict[str, set]) -> tuple[int, int]:
    """(options of the visit at keys this node offers too, of those with a compatible label)."""
    opts = [o for o in visit.get("options") or [] if (o.get("role") or "option") == "option"
            and o.get("label") and o.get("key") in options]
    agree = sum(1 for o in opts if any(textsim.compatible_labels(o["label"], lab) for lab in options[o["key"]]))
    return len(opts), agree


def _offers_other_things(visit: dict, options: dict[str, set]) -> bool:
    n, agree = _agreement(visit, options)
    return n - agree > agree  # another menu in the same style


def _same_menu(visit: dict, prompts: list[str], options: dict[str, set]) -> str | None:
    """Relation of a visit to a node already known: its words (textsim.prompt_relation),
    else its options (same keys offering compatible labels)."""
    if _offers_other_things(visit, options):
        return None
    n, agree = _agreement(visit, options)
    best = None
    for old in prompts[-8:]:
        rel = textsim.prompt_relation(visit.get("prompt"), old)
        if rel == "same":
            return "same"
        best = best or rel
    if best:
        return best
    if agree >= MIN_SHARED_OPTIONS and agree >= SHARED_OPTIONS_SHARE * n:
        return "replay"
    return None


def _heard_role(visit: dict | None, key: str | None, tree: "_Tree", path) -> str | None:
    """The key's role at a node: as this call heard it, or as any call did (a repeat
    option misheard once is still a repeat option)."""
    e = tree.edges.get((tuple(path), key))
    for r in ("repeat", "back"):
        if e is not None and e.role_votes.get(r):
            return r
    for o in (visit or {}).get("options") or []:
        if o.get("key") == key:
            return o.get("role") or "option"
    return None


def _refused(v: dict) -> bool:
    """The visit opens with the platform refusing the key ("that option is invalid")."""
    return bool(INVALID_KEY_RE.search(" ".join(textsim.normalize(v.get("prompt")).split()[:12])))


def _looks_like_invalid_key(v: dict, key: str | None, options: dict[str, set]) -> bool:
    """A key no call heard offered here, answered by a menu offering this node's keys
    or by the platform's refusal ("that option is invalid, please try again. For
    billing, press 1 ..."): the IVR refused the key and started the menu over."""
    if key is None or key in options or not options:
        return False
    if _refused(v):
        return True
    opts = [o for o in v.get("options") or [] if (o.get("role") or "option") == "option" and o.get("key")]
    known = [o for o in opts if o["key"] in options]
    agree = sum(1 for o in known if any(textsim.compatible_labels(o.get("label"), lab) for lab in options[o["key"]]))
    # half will do: recognizers invent keys ("four billing, press 1" gives a 4)
    return bool(opts) and len(known) * 2 >= len(opts) and agree >= 1 and agree * 2 >= len(known)


def _ngrams(text: str | None, n: int = REPLAY_NGRAM) -> set:
    w = textsim.normalize(text).split()
    return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}


def _prompt_went_on(via: dict, prev: dict, v: dict) -> bool:
    """Whether a visit that sounds like the node the caller was at is that node's prompt
    simply going on (the press was ignored) rather than the menu starting over (a
    repeat, or an invalid key answered with the menu again).

    Starting over replays words the caller already heard in this visit; going on
    does not. Without words on both sides, the gap after the press decides: a prompt
    that never stopped goes on at once."""
    old_text, new_text = textsim.normalize(prev.get("prompt")), textsim.normalize(v.get("prompt"))
    if old_text and new_text:
        old = _ngrams(old_text)
        if not old:  # a few words only: replayed means heard again whole
            return old_text not in new_text
        return not (old & _ngrams(new_text))
    lat = via.get("latency")
    return lat is not None and float(lat) < CONTINUED_PROMPT_MAX_GAP_S


@dataclass
class _Step:
    path: tuple[str, ...]
    origin: float  # file time this node's prompt started (listen times are relative to it)
    mode: str  # "enter" | "revisit" | "rest"
    # a node's listen timing is measured on arrival by its key; arriving again by a
    # repeat / back option skips the greeting, so those visits time something else
    first: bool


def _walk(tl: dict, tree: _Tree) -> list[_Step]:
    """Where each visit of one call lands in the tree."""
    steps: list[_Step] = []
    stack: list[tuple[str, ...]] = []
    menus = tl.get("menus") or []
    # what this call has heard so far, on top of what earlier calls heard
    prompts: dict[tuple, list[str]] = {p: list(a.prompts) for p, a in tree.nodes.items()}
    options: dict[tuple, dict[str, set]] = {}
    for (parent, k), e in tree.edges.items():
        if e.label_votes:
            options.setdefault(parent, {}).setdefault(k, set()).update(e.label_votes)

    def hear(path, v):
        if v.get("prompt"):
            prompts.setdefault(path, []).append(v["prompt"])
        for o in v.get("options") or []:
            if o.get("key") and o.get("label"):
                options.setdefault(path, {}).setdefault(o["key"], set()).add(o["label"])

    for i, v in enumerate(menus):
        start = float(v.get("start") or 0.0)
        if not stack:
            path = tuple(v.get("path") or ())
            stack = [path[:j] for j in range(len(path) + 1)]
            steps.append(_Step(path, start, "enter", True))
            hear(path, v)
            continue
        cur = stack[-1]
        prev = menus[i - 1]
        via = v.get("via") or {}
        key = via.get("key")
        if key is None and v.get("path"):
            key = v["path"][-1]
        target, rel = None, None
        for anc in reversed(stack):
            rel = _same_menu(v, prompts.get(anc, []), options.get(anc, {}))
            if rel:
                target = anc
                break
        if target is None and tuple(v.get("path") or ()) in stack[:-1] + [cur] and \
                tuple(v.get("path") or ()) != cur + (key,):
            target, rel = tuple(v.get("path") or ()), "same"  # discovery folded it itself
        if target is None and _looks_like_invalid_key(v, key, options.get(cur, {})):
            target, rel = cur, "replay"
        if target is None and via.get("latency") is not None and float(via["latency"]) < NO_GAP_S \
                and not _offers_other_things(v, options.get(cur, {})):
            target, rel = cur, "rest"  # the audio never paused: the same prompt going on
        if target is not None:
            role = _heard_role(prev, key, tree, cur)
            announced = role in ("repeat", "back")
            if target == cur and not announced and not _refused(v) and _prompt_went_on(via, prev, v):
                # the prompt went on after the press: it was never taken
                steps.append(_Step(cur, steps[-1].origin, "rest", steps[-1].first))
                hear(cur, {"options": v.get("options")})
                continue
            if key is not None and (target != cur or announced):
                role = "repeat" if target == cur else "back"
                child = cur + (key,)
                tree.node(child).returns_to = list(target)
                tree.edge(cur, key).role_votes[role] += 1
            stack = stack[: stack.index(target) + 1]
            steps.append(_Step(target, start, "revisit", False))
            hear(target, v)
            continue
        if key is None:
            # arrived without a press: after an input node this is what follows the
            # data entry; anywhere else the prompt simply went on
            if prev.get("kind") == "input" and prev.get("entry"):
                key = prev["entry"]
            else:
                steps.append(_Step(cur, steps[-1].origin, "rest", steps[-1].first))
                continue
        child = cur + (key,)
        if key not in options.get(cur, {}) and key in DTMF_KEYS:
            # a key no prompt offered here, landing in a menu already known under
            # another key of this menu: the press was misheard, not a new branch
            for sib in prompts:
                if len(sib) == len(child) and sib[:-1] == cur and sib != child and \
                        _same_menu(v, prompts.get(sib, []), options.get(sib, {})) == "same":
                    child = sib
                    break
        stack.append(child)
        steps.append(_Step(child, start, "enter", True))
        hear(child, v)
    return steps


def _entry_burst(presses: list[dict]) -> set[int]:
    """Indices of a run of keys typed at data-entry pace that ends in an accepted key:
    the IVR took the whole entry (it reacted to its end), even where the front end saw
    the prompt play on over the first digits (platforms buffer typed-ahead digits)."""
    out: set[int] = set()
    run: list[int] = []
    for i, p in enumerate(presses):
        if run and (p.get("time") is None or presses[run[-1]].get("time") is None
                    or float(p["time"]) - float(presses[run[-1]]["time"]) > ENTRY_KEY_GAP_S):
            run = []
        run.append(i)
        if len(run) >= MIN_ENTRY_KEYS and p.get("accepted"):
            out.update(run)
    return out


def _add_call(tl: dict, tree: _Tree) -> dict:
    file = tl.get("file") or "call"
    menus = tl.get("menus") or []
    steps = _walk(tl, tree)
    # presses the walk took for accepted but that only cut the prompt short in the
    # recording: the prompt went on, so the IVR ignored them
    ignored_via = {round(float((menus[i].get("via") or {}).get("time", -1)), 3)
                   for i, s in enumerate(steps) if s.mode == "rest" and menus[i].get("via")}
    heard_at_origin: dict[tuple, set] = {}
    estimate_at: dict[tuple, int] = {}  # (node, origin) -> index of its prompt estimate
    for i, (v, s) in enumerate(zip(menus, steps)):
        acc = tree.node(s.path)
        start = float(v.get("start") or 0.0)
        if s.mode != "rest":
            acc.visits += 1
            if v.get("prompt") and s.first:
                acc.prompts.append(v["prompt"])
            if v.get("kind") in VISIT_KINDS:
                acc.kind_votes[v["kind"]] += 1
            if v.get("entry"):
                acc.entry_votes[v["entry"]] += 1
            la = v.get("listen_after")
            if la is not None and s.first:
                acc.evidence.append(f"{file}@{fmt_s(start + float(la) - s.origin)} prompt")
                estimate_at[(s.path, s.origin)] = len(acc.evidence) - 1
        elif s.first and v.get("listen_after") is not None and (s.path, s.origin) in estimate_at:
            # the front end cut this prompt at a press it took for accepted and clipped its
            # estimate to that press; the rest of the prompt holds the call to action
            j = estimate_at[(s.path, s.origin)]
            t_press = float((v.get("via") or {}).get("time", math.inf)) - s.origin
            if parse_evidence([acc.evidence[j]])[0][1] >= t_press - 0.05:
                acc.evidence[j] = f"{file}@{fmt_s(start + float(v['listen_after']) - s.origin)} prompt"
        opts_v = [o for o in v.get("options") or [] if o.get("end") is not None]
        left = v.get("end")
        if opts_v and left is not None and \
                float(left) - max(float(o["end"]) for o in opts_v) >= OPTIONS_DONE_GAP_S:
            acc.options_complete = True
        heard = heard_at_origin.setdefault((s.path, s.origin), set())
        for o in v.get("options") or []:
            k = o.get("key")
            if not k or k in heard:
                continue
            heard.add(k)
            e = tree.edge(s.path, k)
            if o.get("label"):
                e.label_votes[o["label"]] += 1
                acc.options[k] = o["label"]
            e.role_votes[o.get("role") or "option"] += 1
            if o.get("start") is not None:
                e.heard.append(f"{file}@{fmt_s(o['start'])}")
        presses = v.get("presses") or []
        if not s.first:
            presses = []
        typed = _entry_burst(presses) if v.get("kind") == "input" or v.get("keyed") else set()
        for i_p, p in enumerate(presses):
            t = p.get("time")
            if t is None:
                continue
            accepted = (bool(p.get("accepted")) or i_p in typed) and round(float(t), 3) not in ignored_via
            rel = (float(t) if accepted else float(p.get("end") or t)) - s.origin
            if rel < 0:
                continue  # typed ahead of the prompt: says nothing about when it listens
            acc.evidence.append(f"{file}@{fmt_s(rel)} {'accepted' if accepted else 'ignored'}")
        if not presses and s.first:
            lo, hi = (v.get("listen_bounds") or [None, None])[:2]
            if lo is not None:
                acc.evidence.append(f"{file}@{fmt_s(start + lo - s.origin)} ignored")
            if hi is not None:
                acc.evidence.append(f"{file}@{fmt_s(start + hi - s.origin)} accepted")
        if s.mode == "enter" and i > 0:
            via = v.get("via") or {}
            e = tree.edge(s.path[:-1], s.path[-1])
            if s.path[-1] not in DTMF_KEYS:
                e.role_votes["entry"] += 1
            if via.get("time") is not None:
                e.evidence.append(f"{file}@{fmt_s(via['time'])}")
            if via.get("latency") is not None:
                e.latencies.append(float(via["latency"]))
        if s.mode == "revisit" and i > 0:
            via = v.get("via") or {}
            key = via.get("key")
            parent = steps[i - 1].path
            if key is not None and (parent, key) in tree.edges and (parent + (key,)) in tree.nodes \
                    and tree.nodes[parent + (key,)].returns_to is not None:
                e = tree.edges[(parent, key)]
                if via.get("time") is not None:
                    e.evidence.append(f"{file}@{fmt_s(via['time'])}")
                if via.get("latency") is not None:
                    e.latencies.append(float(via["latency"]))
    src = {"file": file, "sha256": tl.get("sha256"), "duration": tl.get("duration")}
    if tl.get("answer") is not None:
        src["answer"] = tl["answer"]
    if tl.get("greeting_onset") is not None:
        src["greeting_onset"] = tl["greeting_onset"]
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
        acc.evidence.extend(d.get("listen_evidence") or [])
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
        if d.get("label"):
            tree.node(parent).options.setdefault(d["key"], d["label"])


def _key_order(k: str):
    return (0, int(k), "") if k.isdigit() else (1 if k in DTMF_KEYS else 2, 0, k)


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


def _finish(tree: _Tree) -> nx.DiGraph:
    G = nx.DiGraph()
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
    # every path's ancestors exist (a call that started below the root)
    for path in list(tree.nodes):
        for j in range(len(path)):
            tree.node(path[:j])
    children: dict[tuple, list] = {}
    for path in tree.nodes:
        if path:
            children.setdefault(path[:-1], []).append(path[-1])
    for path in sorted(tree.nodes, key=lambda p: (len(p), [_key_order(k) for k in p])):
        acc = tree.nodes[path]
        e = tree.edges.get((path[:-1], path[-1])) if path else None
        role = textsim.top_vote(e.role_votes, prefer=ROLES) if e else None
        if acc.visits == 0 and (acc.returns_to is not None or role in ("back", "repeat")):
            kind = "back"
        elif acc.visits == 0 and not children.get(path):
            kind = "unknown"
        else:
            kind = textsim.top_vote(acc.kind_votes, prefer=VISIT_KINDS)
            entered_options = [k for k in children.get(path, ())
                               if tree.nodes[path + (k,)].visits and k in DTMF_KEYS]
            if kind in (None, "agent", "info") and entered_options:
                kind = "menu"  # a caller pressed on from here to another menu
            if kind is None:
                kind = "menu" if children.get(path) else "info"
            if acc.returns_to is not None and not acc.visits:
                kind = "back"
        if acc.returns_to is not None and kind != "back" and role in ("back", "repeat"):
            kind = "back"
        prompt = _representative(acc.prompts)
        attrs = dict(path=list(path), kind=kind, prompt=prompt, listen_after=None, wait=None,
                     visits=acc.visits, listen_evidence=_unique(acc.evidence))
        if kind == "input":
            attrs["entry"] = textsim.top_vote(_entry_votes(acc.entry_votes))
        if acc.visits:
            attrs["options_complete"] = acc.options_complete
        if acc.kind_votes:
            attrs["kind_votes"] = dict(acc.kind_votes)
        if acc.entry_votes:
            attrs["entry_votes"] = dict(acc.entry_votes)
        if kind == "back":
            attrs["returns_to"] = acc.returns_to if acc.returns_to is not None else (
                list(path[:-1]) if role == "repeat" else [])
            attrs["role"] = "repeat" if role == "repeat" else "back"
        G.add_node(node_id(path), **attrs)
        if path:
            label, agree, total = textsim.vote_label(e.label_votes)
            # agreement with a prior of one vote each way (one hearing 0.67, three
            # agreeing 0.8, a 2:1 split 0.6); a press that took the option confirms it
            taken = len(set(e.evidence))
            conf = (agree + taken + 1) / (total + taken + 2)
            ed = dict(key=path[-1], label=label, confidence=round(conf, 2),
                      evidence=_unique(e.evidence), role=role or "option")
            if e.label_votes:
                ed["label_votes"] = dict(e.label_votes)
            if e.heard:
                ed["heard"] = _unique(e.heard)
            if e.latencies:
                ed["latencies"] = [round(x, 3) for x in e.latencies]
            G.add_edge(node_id(path[:-1]), node_id(path), **ed)
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


def merge_timelines(timelines, company=None, number=None, graph=None) -> nx.DiGraph:
    """One menu tree from the calls' timelines (and from ``graph``, a tree merged before).

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
    # calls read together first: a press that only seemed to leave the greeting
    timelines = list(timelines)
    closed = [tl for tl in timelines if service_info.is_after_hours(tl)]
    timelines = reconcile_greetings([tl for tl in timelines if tl not in closed]) + closed
    merged: list[dict] = []
    for tl in timelines:
        ident = tl.get("sha256") or tl.get("file")
        if ident in seen and ident is not None:
            continue
        seen.add(ident)
        merged.append(tl)
        if service_info.is_after_hours(tl):  # the closed greeting is not the root menu
            sources.append(service_info.after_hours_source(tl))
            continue
        sources.append(_add_call(tl, tree))
    if not tree.nodes:
        tree.node(())
    G = _finish(tree)
    G.graph.update(gattrs)
    G.graph["schema"] = SCHEMA
    G.graph["company"] = company if company is not None else gattrs.get("company")
    G.graph["number"] = number if number is not None else gattrs.get("number")
    G.graph["created"] = gattrs.get("created") or _utc_now()
    if graph is not None:
        G.graph["updated"] = _utc_now()
    G.graph["sources"] = sources
    service_info.add_service_info(G, merged, prior=graph)  # hours, holds, after-hours variant
    recommend_waits(G)
    return G
