"""When each node starts listening, and how long a caller should wait there.

Evidence lives on the node as ``listen_evidence`` strings ``"call03.wav@5.1 ignored"``:
the time is seconds from the start of the node's prompt in that call (root: from the
greeting onset), and the word says what it is:

- ``ignored``: a press the IVR played over: the node was not listening yet (a lower bound);
- ``accepted``: a press the IVR acted on: it was listening by then (an upper bound);
- ``prompt``: the prompt-based estimate of that visit (its first call to action).

Across calls the bracket is [latest ignored, earliest accepted] (contradictions are
settled by the listen start that contradicts the least evidence); the estimate is the
median prompt estimate clipped into it. Keeping raw evidence (not just the result) is
what lets ``map --into`` add calls to a tree without losing what it knew.
"""
from __future__ import annotations

import math
from statistics import median

from .model import LEAF_KINDS, Evidence, clip_listen, fmt_s, node_id  # noqa: F401  (fmt_s: imported from here too)

#: Safety margin added to the listen-start estimate: covers the spread of a prompt
#: estimate (word timings of the recognizer are ~30 ms, the first call to action may
#: be a sentence early) while keeping waits within the corpus target (need + 1.5 s).
DEFAULT_MARGIN_S = 0.5

#: Platforms do not all start listening right at the first call to action: some a
#: little before, some up to ~0.8 s into it (the simulator's platforms span -0.4..+0.8 s).
#: A wait resting on a prompt estimate alone gets this much more on top of the margin;
#: an accepted press soon after the estimate shrinks it (the platform listened by then).
LATE_LISTEN_S = 0.4

def evidence_records(items) -> list[Evidence]:
    """``model.Evidence`` for each well-formed evidence string (records pass as they are)."""
    out = []
    for s in items or []:
        e = s if isinstance(s, Evidence) else Evidence.parse(s)
        if e is not None:
            out.append(e)
    return out


def parse_evidence(items) -> list[tuple[str, float, str]]:
    """``(file, seconds, what)`` for each well-formed evidence string or record."""
    return [(e.file, e.t, e.what) for e in evidence_records(items)]


#: Weight of an accepted press against an ignored one when calls contradict each
#: other. A detector's false key (talk-off on a prompt) always looks ignored, since the
#: prompt plays on; an accepted one moved the call to another menu, which is hard to
#: fake. (Northwind v2 as mapped from its recordings: two calls with a false "5" in the
#: greeting against one accepted press.) Ties go to the later start.
ACCEPTED_WEIGHT = 3.0


def _split_evidence(evidence):
    ev = parse_evidence(evidence)
    ign = [(t, f) for f, t, w in ev if w == "ignored"]
    acc = [(t, f) for f, t, w in ev if w == "accepted"]
    return ign, acc


def contradicted(evidence) -> list[tuple[float, str]]:
    """Ignored presses disregarded because accepted presses say the node listened
    earlier (see ``listen_bracket``): ``[(seconds, file), ...]``."""
    ign, acc = _split_evidence(evidence)
    if not ign or not acc or max(ign)[0] < min(acc)[0]:
        return []
    # candidate listen starts: just after each press; cost = evidence it contradicts
    cands = sorted({t for t, _ in ign} | {t for t, _ in acc})
    best = None
    for c in cands:
        for start in (c, c + 1e-6):
            cost = sum(1.0 for t, _ in ign if t >= start) + sum(ACCEPTED_WEIGHT for t, _ in acc if t < start)
            # ties go to the later start: waiting longer is the safe side
            if best is None or cost < best[0] or (cost == best[0] and start > best[1]):
                best = (cost, start)
    start = best[1]
    return sorted((t, f) for t, f in ign if t >= start)


def listen_bracket(evidence) -> tuple[float | None, float | None]:
    """(latest ignored press, earliest accepted press), seconds from the prompt start.

    When calls contradict each other (an ignored press later than an accepted one),
    the listen start that contradicts the least evidence is kept: ignored presses past
    it are set aside (``contradicted``), and accepted presses before it no longer cap.
    """
    ign, acc = _split_evidence(evidence)
    bad = set(contradicted(evidence))
    ign = [x for x in ign if x not in bad]
    lower = max((t for t, _ in ign), default=None)
    upper = min((t for t, _ in acc if lower is None or t > lower), default=None)
    return lower, upper


def estimate_listen_after(evidence) -> float | None:
    """Point estimate: median prompt estimate clipped into the press bracket. (Learning
    a per-company offset between the call to action and the listen start from presses
    was tried: the presses that would show it are rare, and one wrong verdict moved
    every wait of the company.)"""
    ev = parse_evidence(evidence)
    lower, upper = listen_bracket(evidence)
    prompt = [t for _, t, w in ev if w == "prompt"]
    if prompt:
        clipped = [clip_listen(t, lower, upper) for t in prompt]
        est = min(clipped) if _two_calls_disagree(clipped) else median(clipped)
    elif lower is not None and upper is not None:
        est = (lower + upper) / 2
    elif lower is not None:
        est = lower
    elif upper is not None:
        est = upper
    else:
        return None
    return max(0.0, float(est))


#: Two calls whose prompt estimates differ by more than the spread of word timings:
#: the recognizer lost words in the later one (a lost "To hear your balance," moves the
#: first call to action to "press 1"); it hardly ever invents an early one. With three
#: calls or more the median already sets such a loss aside.
TWO_CALLS_DISAGREE_S = 0.75


def _two_calls_disagree(estimates) -> bool:
    return len(estimates) == 2 and abs(estimates[0] - estimates[1]) > TWO_CALLS_DISAGREE_S


def _median_or_none(xs):
    xs = [float(x) for x in xs if x is not None]
    return float(median(xs)) if xs else None


def _ceil_tenth(x: float) -> float:
    # waits round up: a wait shorter than needed loses the key
    return math.ceil(round(x * 10, 6)) / 10


def update_listen(G) -> None:
    """Set ``listen_after`` and ``listen_bounds`` on nodes, ``latency`` on edges and
    their target nodes, and the graph's ``answer_to_onset``, from the stored evidence."""
    for n, d in G.nodes(data=True):
        ev = evidence_records(d.get("listen_evidence"))  # parsed once per node
        lower, upper = listen_bracket(ev)
        est = estimate_listen_after(ev)
        d["listen_after"] = None if est is None else round(est, 2)
        d["listen_bounds"] = [lower, upper]
    for u, v, d in G.edges(data=True):
        lat = _median_or_none(d.get("latencies") or [])
        if lat is None and d.get("latency") is not None:
            lat = float(d["latency"])
        d["latency"] = None if lat is None else round(lat, 3)
        G.nodes[v]["latency"] = d["latency"]
    onsets = [s["greeting_onset"] - s.get("answer", 0.0) for s in G.graph.get("sources") or []
              if s.get("greeting_onset") is not None]
    a2o = _median_or_none(onsets)
    if a2o is not None:
        G.graph["answer_to_onset"] = round(a2o, 3)
    else:
        G.graph.setdefault("answer_to_onset", None)


def recommend_waits(G, margin_s: float = DEFAULT_MARGIN_S, late_s: float = LATE_LISTEN_S) -> None:
    """Set each node's ``wait``: its listen start plus ``margin_s`` (plus up to ``late_s``
    while only the prompt says when it listens), never less than the latest ignored
    press plus the margin; with only an accepted press known (no ignored one), never
    more than that press (it worked then). None without any evidence."""
    update_listen(G)
    for n, d in G.nodes(data=True):
        la = d.get("listen_after")
        lower, upper = d.get("listen_bounds") or (None, None)
        if la is None or (d.get("kind") in LEAF_KINDS and not G.out_degree(n)):
            d["wait"] = None  # nothing to press there
            continue
        late = late_s if upper is None else max(0.0, min(late_s, upper - la))
        w = la + margin_s + late
        if lower is not None:
            w = max(w, lower + margin_s)
        elif upper is not None:
            w = min(w, upper)
        d["wait"] = _ceil_tenth(max(0.0, w))


def node_name(G, node) -> str:
    if node == "root":
        return "root"
    return f"menu {node}" if G.nodes[node].get("kind") == "menu" else f"{G.nodes[node].get('kind', 'node')} {node}"


def explain_listen(G, node) -> str:
    """Why the tree says this node listens when it does, in one sentence."""
    if isinstance(node, (list, tuple)):
        node = node_id(node)
    d = G.nodes[node]
    records = evidence_records(d.get("listen_evidence"))
    ev = parse_evidence(records)
    name = node_name(G, node)
    la = d.get("listen_after")
    if la is None:
        return f"{name}: no evidence of when it starts listening (no presses, no prompt timing)"
    parts = []
    bad = contradicted(records)
    ign = [(t, f) for f, t, w in ev if w == "ignored" and (t, f) not in bad]
    acc = [(t, f) for f, t, w in ev if w == "accepted" and (not ign or t > max(ign)[0])]
    pro = [t for f, t, w in ev if w == "prompt"]
    if ign:
        t, f = max(ign)
        parts.append(f"ignored press at {t:.1f} s in {f}")
    if acc:
        t, f = min(acc)
        parts.append(f"accepted at {t:.1f} s in {f}")
    if pro:
        if _two_calls_disagree(pro):
            parts.append(f"first call to action at {min(pro):.1f} s (the earlier of 2 calls; "
                         f"the other, {max(pro):.1f} s, lost words)")
        else:
            calls = "call" if len(pro) == 1 else f"median of {len(pro)} calls"
            parts.append(f"first call to action at {median(pro):.1f} s ({calls})")
    for t, f in bad:
        parts.append(f"set aside: ignored press at {t:.1f} s in {f}, contradicted by accepted presses")
    text = f"{name} listens from {la:.1f} s ({', '.join(parts)})"
    if d.get("wait") is not None:
        text += f"; wait {d['wait']:.1f} s"
    return text
