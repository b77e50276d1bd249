"""The crawler: which call to place next, its route with the learned waits, when to hang up.

A crawl is a loop of calls to one number. Call 1 listens to the root menu until it has
been heard to its end and hangs up. Between calls every recording is analysed with the
pipeline (``analyse_call`` -> ``map_timelines``) and the tree rebuilt; each next call
follows the known route to one option never entered yet, presses it, hears the node it
leads to and hangs up. At each menu on the way the key is sent at the node's learned
``wait`` (seconds after its prompt began; the tree puts it after the part that ignores
keys), or, with no wait known, once the prompt has ended.

The crawler never takes a person's time: it hangs up when the node it hears turns into
continuous sound (hold music) or goes silent (a menu or input prompt waiting), and it
never enters ``back`` / ``repeat`` options. Calls are kept in the calls folder
(``callNN.wav`` both sides mixed, ``caller/callNN.wav`` the caller side alone,
``callNN.keys.json`` the keys sent, ``crawl.json`` the crawl's log), each written once the
call has ended, so a stopped crawl resumes with no finished call lost.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np

from . import sip

#: Sound / silence threshold of the far side (dBFS RMS of a 20 ms frame). A prompt is
#: spoken at about -20 dBFS; line noise on a G.711 trunk sits far below -45.
SOUND_DB = -40.0
#: A node's prompt has begun after this much silence following a press (the old prompt
#: stops within the platform's barge latency, ~0.1-0.3 s; then the transition is silent).
GAP_BEFORE_ONSET_S = 0.25
#: A menu / input prompt has been heard to its end once this much silence follows it
#: (platforms wait ~5 s for a key before repeating: the crawler hangs up before that).
HEARD_END_S = 2.5
#: A prompt has ended (to press after it when no wait is known): a pause longer than
#: any between two sentences of one prompt (0.3-0.8 s).
PROMPT_END_S = 1.2
#: Hold music: the segmenter (``ivrkit.audio.segment``) calls most of the last
#: MUSIC_WINDOW_S music, checked every MUSIC_CHECK_S; hanging up then keeps the crawler
#: < 5 s connected after the transfer prompt. 3 s windows were classified right on
#: Asterisk's hold tracks and festival / flite prompts (4 s windows, all correct).
MUSIC_WINDOW_S = 3.0
MUSIC_SHARE = 0.8
MUSIC_CHECK_S = 0.5
#: Sound with no pause at all for this long is not a prompt either (music the
#: segmenter doubts, a tone): a sentence pauses within a few seconds.
MUSIC_S = 8.0
#: Pauses shorter than this do not break a stretch of sound (a stop consonant).
PAUSE_S = 0.15
#: An option still never entered after this many calls meant to enter it is given up.
MAX_TRIES = 2
STATE_FILE = "crawl.json"


# --------------------------------------------------------------------------- plan


#: Seconds between the digits of a data entry (a person types ~3 keys/s).
DIGIT_GAP_S = 0.3


@dataclass(frozen=True)
class Step:
    """Press ``key`` ``wait_s`` seconds after the node's prompt began (None: after it
    ended); a ``key`` of several characters is a data entry, typed digit by digit."""

    key: str
    wait_s: float | None


@dataclass(frozen=True)
class CallPlan:
    """One call: the keys to the node to hear (``target``; ``()`` the root)."""

    target: tuple
    steps: tuple
    reason: str

    def describe(self) -> str:
        if not self.steps:
            return f"listen to the root menu to its end ({self.reason})"
        keys = ", ".join(f"{s.key} at {'prompt end' if s.wait_s is None else f'{s.wait_s:.1f} s'}"
                         for s in self.steps)
        return f"enter {'/'.join(self.target)}: press {keys}; hear it, hang up ({self.reason})"


def node_by_path(G: nx.DiGraph, path) -> str | None:
    path = list(path)
    for n, d in G.nodes(data=True):
        if list(d.get("path") or []) == path:
            return n
    return None


def route_steps(G: nx.DiGraph, target: tuple, fallback: nx.DiGraph | None = None) -> tuple:
    """The keys to ``target`` with each menu's learned wait (``wait`` of the tree; of
    ``fallback``, an older tree, for a menu ``G`` does not time yet)."""
    steps = []
    for i, key in enumerate(target):
        w = None
        for T in (G, fallback):
            n = node_by_path(T, target[:i]) if T is not None else None
            if n is not None and T.nodes[n].get("wait") is not None:
                w = T.nodes[n]["wait"]
                break
        steps.append(Step(key, None if w is None else round(float(w), 2)))
    return tuple(steps)


def _key_order(k: str) -> tuple:
    return (0, int(k)) if k.isdigit() else (1, k)


def unexplored(G: nx.DiGraph) -> list[tuple]:
    """Key paths of options heard but never entered, breadth first, in key order."""
    out = []
    for n in nx.bfs_tree(G, "root"):
        d = G.nodes[n]
        if d.get("kind") not in ("menu", None) and n != "root":
            continue
        for _, v, e in sorted(G.out_edges(n, data=True), key=lambda x: _key_order(str(x[2].get("key")))):
            if e.get("role", "option") != "option":
                continue  # back / repeat / entry: known from the prompt, never entered
            dv = G.nodes[v]
            if dv.get("kind") == "unknown" or not dv.get("visits"):
                out.append(tuple(dv.get("path") or list(d.get("path") or []) + [str(e["key"])]))
    return out


def entry_targets(G: nx.DiGraph, entries: dict) -> list[tuple]:
    """Input prompts the crawler may answer: ``entries`` maps a node id (``1/2``) or an
    entry token (``Tel#``) to the digits to type; the target is what follows the entry."""
    out = []
    for n, d in G.nodes(data=True):
        if d.get("kind") != "input" or not d.get("entry") or not d.get("visits"):
            continue
        digits = entries.get(n) or entries.get(d["entry"])
        child = node_by_path(G, list(d.get("path") or []) + [d["entry"]])
        if digits and (child is None or not G.nodes[child].get("visits")):
            out.append((tuple(d.get("path") or []) + (d["entry"],), digits))
    return out


def next_plans(G: nx.DiGraph | None, tried: dict, n: int = 1, skip=None,
               entries: dict | None = None) -> list[CallPlan]:
    """The next ``n`` calls: the root first, then options not yet entered (and not
    ``skip(G, path)``: options known from an earlier crawl), then data entries given
    in ``entries`` (see ``entry_targets``); an input prompt is otherwise a leaf."""
    if G is None or "root" not in G:
        return [CallPlan((), (), "first call")][: max(n, 0)]
    plans = []
    for path, digits in entry_targets(G, entries or {}):
        if tried.get(path, 0) < MAX_TRIES and len(plans) < n:
            steps = route_steps(G, path[:-1]) + (Step(digits, None),)
            plans.append(CallPlan(path, steps, "data entry given"))
    for path in unexplored(G):
        if len(plans) >= n:
            break
        if tried.get(path, 0) >= MAX_TRIES or (skip is not None and skip(G, path)):
            continue
        plans.append(CallPlan(path, route_steps(G, path), "never entered" if not tried.get(path)
                              else f"try {tried[path] + 1}"))
    return plans


def recrawl_targets(old: nx.DiGraph) -> list[tuple]:
    """One call per menu of a known tree, the root first, breadth first."""
    return [tuple(old.nodes[n].get("path") or []) for n in nx.bfs_tree(old, "root")
            if n == "root" or old.nodes[n].get("kind") == "menu"]


def _in_label(G: nx.DiGraph, n: str) -> str:
    preds = list(G.predecessors(n))
    return G.edges[preds[0], n].get("label") or "" if preds else ""


def known_options(old: nx.DiGraph):
    """A predicate on (new tree, key path): the option leads to an agent / info leaf the
    old tree had, under the same label below a menu of the same label (wherever a
    renumbering moved it). Menus and input prompts (whose entry may change) are not
    known: a recrawl hears them again."""
    from ivrkit.trees import textsim

    pairs = [(_in_label(old, u), old.edges[u, v].get("label") or "") for u, v in old.edges
             if old.nodes[v].get("kind") in ("agent", "info")]

    def known(G: nx.DiGraph, path: tuple) -> bool:
        n = node_by_path(G, path)
        if n is None:
            return False
        here, parent = _in_label(G, n), next(iter(G.predecessors(n)), None)
        up = _in_label(G, parent) if parent is not None else ""
        return any(textsim.same_label(here, b) and (textsim.same_label(up, a) if (up or a) else True)
                   for a, b in pairs)
    return known


# --------------------------------------------------------------------------- one call


def frame_db(y: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(y, dtype=np.float64))) + 1e-9)) if len(y) else -120.0


@dataclass
class Ear:
    """Follows the far side frame by frame. A stretch of sound goes on over pauses
    shorter than PAUSE_S (a quiet bar of music, a stop consonant); ``sound_s`` is how
    long it has lasted, ``silence_s`` how long since the last sound."""

    call: "sip.SipCall"
    deadline_s: float
    sound_since: float | None = None
    last_sound: float | None = None
    recent: list = field(default_factory=list)   # the last MUSIC_WINDOW_S of frames

    @property
    def sound(self) -> bool:
        return self.last_sound is not None and self.silence_s < PAUSE_S

    @property
    def sound_s(self) -> float:
        return self.last_sound - self.sound_since if self.sound else 0.0

    @property
    def silence_s(self) -> float:
        return self.call.now_s - self.last_sound if self.last_sound is not None else self.call.now_s

    def tick(self) -> bool:
        """Hear one frame; False once the call has ended or hit its time limit."""
        if self.call.now_s >= self.deadline_s:
            return False
        y = self.call.listen(sip.FRAME_S)  # empty once the far side has hung up
        if not len(y):
            return False
        self.recent.append(y)
        del self.recent[: -int(round(MUSIC_WINDOW_S / sip.FRAME_S))]
        if frame_db(y) > SOUND_DB:
            now = self.call.now_s
            if not self.sound:
                self.sound_since = now - sip.FRAME_S
            self.last_sound = now
        return True


def wait_onset(ear: Ear, after_gap: bool) -> float | None:
    """Call seconds at which the next prompt begins (after a silent gap when
    ``after_gap``: the previous prompt may still be stopping); None if the call ended."""
    gap_seen = not after_gap
    while ear.tick():
        if ear.silence_s >= GAP_BEFORE_ONSET_S:
            gap_seen = True
        if gap_seen and ear.sound:
            return ear.sound_since
    return None


def is_music(frames: list) -> bool:
    """Most of ``frames`` (the last MUSIC_WINDOW_S) is music, by the segmenter."""
    from ivrkit.audio.segment import segment

    y = np.concatenate(frames)
    music = sum(r.duration_s for r in segment(y, sip.SR) if r.kind == "music")
    return music >= MUSIC_SHARE * len(y) / sip.SR


def hear_out(ear: Ear, end_silence_s: float) -> str:
    """Listen until the node has been heard: ``silence`` (a prompt waiting for a key),
    ``music`` (hold), ``ended`` (the far side hung up) or ``limit``."""
    heard, n = False, 0
    every = int(round(MUSIC_CHECK_S / sip.FRAME_S))
    ear.recent.clear()
    while ear.tick():
        heard |= ear.sound
        n += 1
        if heard and ear.silence_s >= end_silence_s:
            return "silence"
        full = len(ear.recent) * sip.FRAME_S >= MUSIC_WINDOW_S - 1e-6
        if ear.sound_s >= MUSIC_S or (ear.sound and full and n % every == 0 and is_music(ear.recent)):
            return "music"
    return "ended" if ear.call.ended else "limit"


@dataclass
class CallResult:
    """What one call did: keys sent, why it was hung up, how long it lasted."""

    keys: list = field(default_factory=list)
    outcome: str = ""
    duration_s: float = 0.0


def place_call(call: "sip.SipCall", plan: CallPlan, max_call_s: float) -> CallResult:
    """Drive one answered call along ``plan``; hangs up at the end and returns what it did."""
    ear = Ear(call, max_call_s)
    res = CallResult()
    try:
        after_gap = False
        for step in plan.steps:
            onset = wait_onset(ear, after_gap)
            if onset is None:
                res.outcome = "ended before the route" if call.ended else "limit"
                return res
            if step.wait_s is None:
                if hear_out(ear, PROMPT_END_S) != "silence":
                    res.outcome = "the prompt never paused"
                    return res
            else:
                while call.now_s < onset + step.wait_s and ear.tick():
                    pass
                if call.ended or call.now_s >= max_call_s:
                    res.outcome = "ended before the route"
                    return res
            for i, k in enumerate(step.key):
                if i:
                    call.listen(DIGIT_GAP_S)
                res.keys.append(call.press(k))
            after_gap = True
        if wait_onset(ear, after_gap) is None:
            res.outcome = "ended" if call.ended else "limit"
            return res
        res.outcome = hear_out(ear, HEARD_END_S)
        return res
    finally:
        call.hangup()
        res.duration_s = round(call.now_s, 2)


# ------------------------------------------------------------------------ storage


def call_name(n: int) -> str:
    return f"call{n:02d}"


def load_state(calls_dir: Path) -> dict:
    p = Path(calls_dir) / STATE_FILE
    if p.exists():
        return json.loads(p.read_text(encoding="utf-8"))
    return {"schema": "ivrkit.crawl/1", "calls": []}


def _write_json(path: Path, obj) -> None:
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def save_call(calls_dir: Path, n: int, call: "sip.SipCall") -> Path:
    """The call's recordings and keys log; the mixed WAV is written last (atomically),
    so a call is on disk exactly when its ``callNN.wav`` is."""
    from ivrkit.audio.io import write_wav

    name = call_name(n)
    (calls_dir / "caller").mkdir(exist_ok=True)
    write_wav(calls_dir / "caller" / f"{name}.wav", call.rec.caller_side(), sip.SR)
    _write_json(calls_dir / f"{name}.keys.json", [asdict(k) for k in call.keys])
    write_wav(calls_dir / f"{name}.wav", call.rec.mixed(), sip.SR)
    return calls_dir / f"{name}.wav"


def tried_counts(state: dict) -> dict:
    out: dict = {}
    for c in state["calls"]:
        t = tuple(c["target"])
        out[t] = out.get(t, 0) + 1
    return out


# -------------------------------------------------------------------------- crawl


@dataclass(frozen=True)
class Limits:
    max_calls: int = 40
    max_call_s: float = 90.0
    pause_s: float = 2.0
    lines: int = 1


class Analyst:
    """Timelines of the crawl's calls (each analysed once, cached beside the call)
    and the tree they make."""

    def __init__(self, calls_dir: Path, number: str | None, company: str | None = None, engine=None):
        self.dir, self.number, self.company, self.engine = Path(calls_dir), number, company, engine
        self.timelines: dict[str, dict] = {}

    def add(self, wav: Path) -> None:
        from .pipeline import analyse_call

        cache = wav.with_suffix(".timeline.json")
        if cache.exists():
            self.timelines[wav.name] = json.loads(cache.read_text(encoding="utf-8"))
            return
        if self.engine is None:
            from .asr import make_engine

            self.engine = make_engine("auto")
        tl = analyse_call(wav, self.engine)
        _write_json(cache, tl)
        self.timelines[wav.name] = tl

    def tree(self) -> nx.DiGraph | None:
        from .pipeline import map_timelines

        if not self.timelines:
            return None
        tls = [self.timelines[k] for k in sorted(self.timelines)]
        return map_timelines(tls, company=self.company, number=self.number)


def run_calls(dial, plans: list[CallPlan], limits: Limits) -> list:
    """Place the planned calls (up to ``limits.lines`` at once); returns (plan, call, result)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(plan):
        call = dial()
        return plan, call, place_call(call, plan, limits.max_call_s)

    if len(plans) == 1:
        return [one(plans[0])]
    with ThreadPoolExecutor(len(plans)) as ex:
        return list(ex.map(one, plans))


def crawl(dial, calls_dir, tree_out, number: str, limits: Limits = Limits(), company: str | None = None,
          engine=None, on_event=None, only: list[tuple] | None = None, route_tree: nx.DiGraph | None = None,
          skip=None, entries: dict | None = None) -> nx.DiGraph | None:
    """Crawl a number: plan, call, analyse, update the tree, until nothing is left
    to enter or ``limits.max_calls`` calls are in ``calls_dir`` (resumes a crawl there).

    ``dial()`` places one call and returns the answered ``sip.SipCall``; ``on_event``
    gets one line per call (for the CLI); ``only``: the targets to call, each once,
    routed by the waits learned so far, else ``route_tree``'s (a recrawl: the old
    tree); ``skip(G, path)``: options not to enter; ``entries``: data to type at
    input prompts (``next_plans``).
    Returns the tree (also written to ``tree_out`` after every call).
    """
    import time

    calls_dir = Path(calls_dir)
    calls_dir.mkdir(parents=True, exist_ok=True)
    state = load_state(calls_dir)
    state["number"] = number
    an = Analyst(calls_dir, number, company, engine)
    for c in state["calls"]:
        an.add(calls_dir / c["file"])
    G = an.tree()
    done = tried_counts(state)
    queue = [t for t in only if t not in done] if only is not None else None
    while len(state["calls"]) < limits.max_calls:
        room = min(limits.lines, limits.max_calls - len(state["calls"]))
        if queue is not None:
            plans = [CallPlan(t, route_steps(G, t, route_tree), "confirm the menu")
                     for t in queue[:room]]
            queue = queue[room:]
        else:
            plans = next_plans(G, tried_counts(state), room, skip, entries)
        if not plans:
            break
        for plan, call, res in run_calls(dial, plans, limits):
            n = len(state["calls"]) + 1
            wav = save_call(calls_dir, n, call)
            state["calls"].append({"n": n, "file": wav.name, "target": list(plan.target),
                                   "keys": [asdict(k) for k in res.keys], "outcome": res.outcome,
                                   "duration_s": res.duration_s})
            _write_json(calls_dir / STATE_FILE, state)
            an.add(wav)
            if on_event:
                on_event(f"{wav.name}: {plan.describe()} -> {res.outcome} after {res.duration_s:.1f} s")
        G = an.tree()
        from ivrkit.trees import write_tree

        write_tree(G, tree_out)
        if limits.pause_s > 0:
            time.sleep(limits.pause_s)
    return G


def carry_leaves(new_entries: list[dict], old_entries: list[dict]) -> list[dict]:
    """A recrawl hears every menu again but does not enter the leaves it knew: a service
    heard again under the same name keeps the old leaf's kind (flagged ``carried``), so
    only its keys or waits can make it a change."""
    from ivrkit.trees import textsim

    out = []
    for e in new_entries:
        if e.get("kind") == "unknown":
            o = next((o for o in old_entries
                      if textsim.same_label(o.get("service") or "", e.get("service") or "")), None)
            if o is not None:
                e = {**e, "kind": o["kind"], "carried": True}
        out.append(e)
    return out
