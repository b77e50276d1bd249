"""Navigation verdicts, decided once: which presses the IVR took and where each
visit of a call landed in the tree.

Two passes over a company's calls (``Timeline`` records):

1. **Read together** (``read_together``): a key pressed in the greeting right where a
   sentence ends looks, in that call alone, exactly like a barge-in: the prompt stops
   at the key and, after a pause, something else is heard. Whether that something is
   the next node or just the greeting's next sentence, the call cannot tell; the other
   calls can. Every call starts at the root, and a greeting plays the same words at
   the same offset from its onset in every call. So when what a call heard after such
   a press is what another call heard at that offset *in the root*, with no key
   taken, the press was ignored and the root went on (the visit is folded into the
   root). Where the recognizer garbled the words, the keys give it away: the visit
   offers the keys another call's root offered at the same seconds from the greeting
   onset.
2. **Walk** (``decide_call``): each call is re-walked against what the calls before
   it heard, rather than trusting each visit's ``path``: a visit whose prompt is one
   already heard on the way (an ignored press taken for accepted, "to hear these
   options again", "back to the main menu") lands on that node instead of growing a
   false branch, and a press whose prompt simply went on is ignored.

Pure: it reads records and a ``Known`` view and returns corrected records and
decisions (``Decided``: a ``Step`` per visit, a ``Return`` per back / repeat option
found, the final accepted / ignored verdict of each press); ``build`` merges them
into the graph. It never touches audio.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from rapidfuzz import fuzz

from . import textsim
from .model import DTMF_KEYS, MIN_ENTRY_KEYS, NAV_ROLES, RESUME_GAP_S, Press, Timeline, Visit, clip_listen, entry_runs

# -- pass 1: calls read together (the greeting's presses) -------------------------

#: Seconds of the next visit's words compared with the other call's root...
COMPARE_S = 3.0
#: ...which must have gone on at least this long past the offset of the press (so it
#: heard the words that follow it).
MIN_HEARD_AFTER_S = 2.0
#: The other call's window starts this much before the matching offset (onsets and
#: pauses differ by a few tenths between calls).
SLACK_S = 1.0
#: Words in the comparison: fewer than this are too little to recognise a sentence.
MIN_CHARS = 12
#: partial_ratio of the two texts (0-100) above which they are the same words: the
#: recognizer mishears a synthetic voice differently call to call ("the local new
#: flight" / "the welcome to flight"), but not that differently.
SAME_WORDS_RATIO = 75.0
#: Option starts (from the greeting onset) closer than this are the same moment of the
#: greeting in two calls: onsets and synthesis pauses differ by a few tenths.
SAME_OFFSET_S = 0.6
#: Options (same key at the same offset) that make a visit the greeting going on, when
#: the words are too garbled to compare: the recognizer mishears a synthetic voice's
#: labels ("it will can look like" for "to book a new flight") but rarely its keys,
#: and two menus offering the same two keys at the same seconds of a call are one.
MIN_SAME_OPTIONS = 2


def _words(tl: Timeline) -> list[tuple[float, str]]:
    """(start time, word) of every word heard; a speech event without word times has
    its text spread evenly over the event."""
    out = []
    for e in tl.events:
        if e.type != "speech":
            continue
        if e.words:
            out += [(float(w.start), w.word) for w in e.words]
        else:
            ws = (e.text or "").split()
            step = (float(e.end) - float(e.start)) / max(1, len(ws))
            out += [(float(e.start) + k * step, w) for k, w in enumerate(ws)]
    return sorted(out)


def _text(words, a: float, b: float) -> str:
    return textsim.normalize(" ".join(w for t, w in words if a <= t < b))


def _roots_of_others(i: int, tls: list[Timeline]):
    """(index, root visit) of every other call that starts at the root."""
    for j, other in enumerate(tls):
        if j != i and other.menus and not other.menus[0].path:
            yield j, other.menus[0]


def _root_went_on_in_others(i: int, tls: list[Timeline], words: list[list], offset_s: float,
                            text: str) -> bool | None:
    """True when another call heard ``text`` in its root around ``offset_s`` from the
    greeting; False when calls heard the root there and it said something else; None
    when no other call heard the root that far."""
    verdicts = []
    for j, root in _roots_of_others(i, tls):
        s0, end = float(root.start), float(root.end)
        if end - s0 < offset_s + MIN_HEARD_AFTER_S:
            continue
        theirs = _text(words[j], s0 + offset_s - SLACK_S, s0 + offset_s + COMPARE_S + SLACK_S)
        if len(theirs) < MIN_CHARS:
            continue
        verdicts.append(fuzz.partial_ratio(text, theirs) >= SAME_WORDS_RATIO)
    if not verdicts:
        return None
    return any(verdicts)


def _options_at(menu: Visit, s0: float) -> list[tuple[str, float]]:
    return [(o.key, float(o.start) - s0) for o in menu.options
            if o.key and o.start is not None and o.role == "option"]


def _same_options_in_others(i: int, tls: list[Timeline], nxt: Visit, s0: float) -> bool:
    """True when another call's root offered at least MIN_SAME_OPTIONS of the keys this
    visit offered, each at the same offset from the greeting onset."""
    mine = _options_at(nxt, s0)
    if len(mine) < MIN_SAME_OPTIONS:
        return False
    for _, root in _roots_of_others(i, tls):
        theirs = _options_at(root, float(root.start))
        same = sum(any(k == k2 and abs(t - t2) <= SAME_OFFSET_S for k2, t2 in theirs) for k, t in mine)
        if same >= MIN_SAME_OPTIONS:
            return True
    return False


def _ignore_press(tl: Timeline, t_press: float | None) -> tuple[Timeline, Visit]:
    """The call with the root's press at ``t_press`` set ignored (in the root's presses
    and in the events); the root's lower listen bound moved past it."""
    root = tl.menus[0]
    s0 = float(root.start)
    presses, bounds = [], root.listen_bounds
    for p in root.presses:
        if t_press is not None and abs(float(p.time) - float(t_press)) < 1e-3:
            p = replace(p, accepted=False)
            lo = float(p.end or p.time) - s0
            bounds = (lo if bounds[0] is None else max(bounds[0], lo), None)
        presses.append(p)
    events = tuple(replace(e, accepted=False) if e.type == "dtmf" and t_press is not None
                   and abs(float(e.start) - float(t_press)) < 1e-3 else e for e in tl.events)
    return replace(tl, events=events), replace(root, presses=tuple(presses), listen_bounds=bounds)


def _root_listen(root: Visit, nxt: Visit, s0: float) -> tuple[float | None, tuple]:
    """When the root listens now that its prompt went on: its first call to action,
    kept after the ignored press and before any press it took; and its bounds."""
    starts = [float(o.start) - s0 for o in root.options if o.start is not None]
    est = min(starts) if starts else (None if nxt.listen_after is None
                                      else float(nxt.listen_after) + float(nxt.start) - s0)
    lo, hi = root.listen_bounds[0], None
    for p in root.presses:
        if p.accepted and float(p.time) - s0 > (lo or 0.0):
            hi = float(p.time) - s0
            break
    if est is not None:
        est = clip_listen(est, lo or 0.0, hi)
    elif lo is not None:
        est = lo
    return (None if est is None else round(est, 3)), (lo, hi)


def _fold_into_root(tl: Timeline) -> Timeline:
    """The call with its second visit merged into the root: its press was ignored."""
    nxt = tl.menus[1]
    key = nxt.via.key if nxt.via is not None else None
    tl, root = _ignore_press(tl, nxt.via.time if nxt.via is not None else None)
    s0 = float(root.start)
    have = {o.key for o in root.options}
    options = root.options + tuple(o for o in nxt.options if o.key not in have)
    root = replace(root, end=nxt.end, prompt=" ".join(x for x in (root.prompt, nxt.prompt) if x),
                   options=options, presses=root.presses + nxt.presses,
                   entry=root.entry or nxt.entry, keyed=root.keyed or nxt.keyed,
                   kind="menu" if options and root.kind not in ("menu", "input") else root.kind)
    listen_after, bounds = _root_listen(root, nxt, s0)
    root = replace(root, listen_after=listen_after, listen_bounds=bounds)
    rest = tuple(replace(m, path=m.path[1:]) if key is not None and m.path[:1] == (key,) else m
                 for m in tl.menus[2:])
    return replace(tl, menus=(root,) + rest)


def _greeting_went_on(i: int, tls: list[Timeline], words: list[list]) -> bool:
    """Whether call ``i``'s second visit is its root going on (its press ignored)."""
    root, nxt = tls[i].menus[0], tls[i].menus[1]
    via = nxt.via
    if via is None or via.time is None or (nxt.path or (None,))[:-1] != ():
        return False
    if any(o.key == via.key and o.role in NAV_ROLES for o in root.options):
        return False  # "press 9 to hear these options again": the replay is meant
    offset = float(via.time) - float(root.start)
    if _same_options_in_others(i, tls, nxt, float(root.start)):
        return True
    mine = _text(words[i], float(nxt.start), float(nxt.start) + COMPARE_S)
    if len(mine) < MIN_CHARS:
        return False
    # where the other calls' roots are, in time: this call's pause after the key stands
    # in for the pause between the greeting's sentences
    at = offset + (float(nxt.start) - float(via.time))
    return _root_went_on_in_others(i, tls, words, at, mine) is True


def read_together(timelines: list[Timeline]) -> list[Timeline]:
    """The calls with every press that only seemed to leave the root set ignored (see
    the module docstring); calls read earlier in the list are seen already corrected."""
    tls = list(timelines)
    words = [_words(t) for t in tls]
    for i in range(len(tls)):
        while len(tls[i].menus) >= 2 and not tls[i].menus[0].path and _greeting_went_on(i, tls, words):
            tls[i] = _fold_into_root(tls[i])
    return tls


# -- pass 2: each call walked against what earlier calls heard ---------------------

#: Option lists compare as "the same menu" when at least this many of the new
#: visit's options have the same key and label as the earlier menu's...
MIN_SHARED_OPTIONS = 2
#: ...and they are at least this share of the new visit's options.
SHARED_OPTIONS_SHARE = 0.67
# A prompt that plays on over an ignored press has its next audio within
# model.RESUME_GAP_S of the press; a key that is taken stops the prompt and the next
# node starts after a transition.
#: The far end's audio did not pause at all after the press (the front end measures
#: ~0 s): nothing happened, whatever the words say; the fastest platforms still take
#: 0.3 s to stop a prompt and start the next.
NO_GAP_S = 0.15
#: Words in a row shared by a visit and the one before it that show the menu started
#: over (a replay repeats whole option sentences; a prompt going on shares at most
#: stock phrases such as "press 2 for").
REPLAY_NGRAM = 4


@dataclass
class Known:
    """What the calls merged before heard: prompts per node path, option labels per
    node path and key, and the (path, key) options heard as back / repeat."""
    prompts: dict[tuple, list[str]] = field(default_factory=dict)
    options: dict[tuple, dict[str, set]] = field(default_factory=dict)
    nav_roles: dict[tuple, set] = field(default_factory=dict)

    def hear(self, path: tuple, prompt: str | None, options) -> None:
        if prompt:
            self.prompts.setdefault(path, []).append(prompt)
        for o in options:
            if o.key and o.label:
                self.options.setdefault(path, {}).setdefault(o.key, set()).add(o.label)


@dataclass(frozen=True)
class Step:
    """Where one visit landed. ``origin``: file time this node's prompt started (listen
    times are relative to it); ``mode``: "enter" | "revisit" | "rest" (the prompt of
    the node before simply went on); ``first``: a node's listen timing is measured on
    arrival by its key; arriving again by a repeat / back option skips the greeting,
    so those visits time something else."""
    path: tuple[str, ...]
    origin: float
    mode: str
    first: bool


@dataclass(frozen=True)
class Return:
    """An option found to lead back: ``parent + (key,)`` returns to ``target``."""
    parent: tuple[str, ...]
    key: str
    target: tuple[str, ...]
    role: str  # "repeat" | "back"


# -- how a visit relates to a node already heard --------------------------------------


def _agreement(visit: Visit, options: dict[str, set]) -> tuple[int, int]:
    """(options of the visit at keys this node offers too, of those with a compatible label)."""
    opts = [o for o in visit.options if (o.role or "option") == "option" and o.label and o.key in options]
    agree = sum(1 for o in opts if any(textsim.compatible_labels(o.label, lab) for lab in options[o.key]))
    return len(opts), agree


def _offers_other_things(visit: Visit, options: dict[str, set]) -> bool:
    n, agree = _agreement(visit, options)
    return n - agree > agree  # another menu in the same style


def same_menu(visit: Visit, prompts: list[str], options: dict[str, set]) -> str | None:
    """Relation of a visit to a node already known: its words (textsim.prompt_relation),
    else its options (same keys offering compatible labels)."""
    if _offers_other_things(visit, options):
        return None
    n, agree = _agreement(visit, options)
    best = None
    for old in prompts[-8:]:
        rel = textsim.prompt_relation(visit.prompt, old)
        if rel == "same":
            return "same"
        best = best or rel
    if best:
        return best
    if agree >= MIN_SHARED_OPTIONS and agree >= SHARED_OPTIONS_SHARE * n:
        return "replay"
    return None


def _heard_role(visit: Visit | None, key: str | None, known: Known, path) -> str | None:
    """The key's role at a node: as this call heard it, or as any call did (a repeat
    option misheard once is still a repeat option)."""
    roles = known.nav_roles.get((tuple(path), key), set())
    for r in NAV_ROLES[::-1]:  # "repeat" first, then "back"
        if r in roles:
            return r
    for o in visit.options if visit is not None else ():
        if o.key == key:
            return o.role or "option"
    return None


def refused(v: Visit) -> bool:
    """The visit opens with the platform refusing the key ("that option is invalid"):
    discovery reads that with the prompt's language grammar (``kind.refusal``) and
    marks the visit ``refused``."""
    return bool(v.extra.get("refused"))


def _looks_like_invalid_key(v: Visit, key: str | None, options: dict[str, set]) -> bool:
    """A key no call heard offered here, answered by a menu offering this node's keys
    or by the platform's refusal ("that option is invalid, please try again. For
    billing, press 1 ..."): the IVR refused the key and started the menu over."""
    if key is None or key in options or not options:
        return False
    if refused(v):
        return True
    opts = [o for o in v.options if (o.role or "option") == "option" and o.key]
    known = [o for o in opts if o.key in options]
    agree = sum(1 for o in known if any(textsim.compatible_labels(o.label, lab) for lab in options[o.key]))
    # half will do: recognizers invent keys ("four billing, press 1" gives a 4)
    return bool(opts) and len(known) * 2 >= len(opts) and agree >= 1 and agree * 2 >= len(known)


def _ngrams(text: str | None, n: int = REPLAY_NGRAM) -> set:
    w = textsim.normalize(text).split()
    return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}


def _prompt_went_on(v: Visit, prev: Visit) -> bool:
    """Whether a visit that sounds like the node the caller was at is that node's prompt
    simply going on (the press was ignored) rather than the menu starting over (a
    repeat, or an invalid key answered with the menu again).

    Starting over replays words the caller already heard in this visit; going on
    does not. Without words on both sides, the gap after the press decides: a prompt
    that never stopped goes on at once."""
    old_text, new_text = textsim.normalize(prev.prompt), textsim.normalize(v.prompt)
    if old_text and new_text:
        old = _ngrams(old_text)
        if not old:  # a few words only: replayed means heard again whole
            return old_text not in new_text
        return not (old & _ngrams(new_text))
    lat = v.via.latency if v.via is not None else None
    return lat is not None and float(lat) < RESUME_GAP_S


# -- the walk -------------------------------------------------------------------------


def _via_key(v: Visit) -> str | None:
    key = v.via.key if v.via is not None else None
    if key is None and v.path:
        key = v.path[-1]
    return key


def _known_target(v: Visit, stack: list[tuple], key, known: Known) -> tuple | None:
    """The node on the way (or the one the caller is at) this visit is, if any: the
    same words or options, discovery's own fold, an invalid key answered with the menu
    again, or audio that never paused."""
    cur = stack[-1]
    for anc in reversed(stack):
        if same_menu(v, known.prompts.get(anc, []), known.options.get(anc, {})):
            return anc
    if v.path in stack and v.path != cur + (key,):
        return v.path  # discovery folded it itself
    if _looks_like_invalid_key(v, key, known.options.get(cur, {})):
        return cur  # the menu replayed
    if v.via is not None and v.via.latency is not None and float(v.via.latency) < NO_GAP_S \
            and not _offers_other_things(v, known.options.get(cur, {})):
        return cur  # the audio never paused: the same prompt going on
    return None


def _misheard_sibling(v: Visit, cur: tuple, child: tuple, key: str, known: Known) -> tuple:
    """A key no prompt offered here, landing in a menu already known under another
    key of this menu: the press was misheard, not a new branch."""
    if key not in known.options.get(cur, {}) and key in DTMF_KEYS:
        for sib in known.prompts:
            if len(sib) == len(child) and sib[:-1] == cur and sib != child and \
                    same_menu(v, known.prompts.get(sib, []), known.options.get(sib, {})) == "same":
                return sib
    return child


class _Walker:
    """State of one call's walk: the nodes on the way (a stack), steps so far."""

    def __init__(self, known: Known):
        self.known = known
        self.steps: list[Step] = []
        self.returns: list[Return] = []
        self.stack: list[tuple] = []

    def rest(self) -> None:
        self.steps.append(Step(self.stack[-1], self.steps[-1].origin, "rest", self.steps[-1].first))

    def start(self, v: Visit) -> None:
        self.stack = [v.path[:j] for j in range(len(v.path) + 1)]
        self.steps.append(Step(v.path, float(v.start or 0.0), "enter", True))
        self.known.hear(v.path, v.prompt, v.options)

    def arrive_known(self, v: Visit, prev: Visit, key, target: tuple) -> None:
        cur = self.stack[-1]
        role = _heard_role(prev, key, self.known, cur)
        announced = role in NAV_ROLES
        if target == cur and not announced and not refused(v) and _prompt_went_on(v, prev):
            self.rest()  # the prompt went on after the press: it was never taken
            self.known.hear(cur, None, v.options)
            return
        if key is not None and (target != cur or announced):
            role = "repeat" if target == cur else "back"
            self.returns.append(Return(cur, key, target, role))
            self.known.nav_roles.setdefault((cur, key), set()).add(role)
        self.stack = self.stack[: self.stack.index(target) + 1]
        self.steps.append(Step(target, float(v.start or 0.0), "revisit", False))
        self.known.hear(target, v.prompt, v.options)

    def arrive_new(self, v: Visit, prev: Visit, key) -> None:
        cur = self.stack[-1]
        if key is None:
            # arrived without a press: after an input node this is what follows the
            # data entry; anywhere else the prompt simply went on
            if prev.kind == "input" and prev.entry:
                key = prev.entry
            else:
                self.rest()
                return
        child = _misheard_sibling(v, cur, cur + (key,), key, self.known)
        self.stack.append(child)
        self.steps.append(Step(child, float(v.start or 0.0), "enter", True))
        self.known.hear(child, v.prompt, v.options)


def walk(tl: Timeline, known: Known) -> tuple[list[Step], list[Return]]:
    """Where each visit of one call lands (one ``Step`` per visit), and the back /
    repeat options the walk found. ``known`` is what earlier calls heard; the walk
    adds this call's hearings to it."""
    w = _Walker(known)
    for i, v in enumerate(tl.menus):
        if not w.stack:
            w.start(v)
            continue
        key = _via_key(v)
        target = _known_target(v, w.stack, key, known)
        if target is not None:
            w.arrive_known(v, tl.menus[i - 1], key, target)
        else:
            w.arrive_new(v, tl.menus[i - 1], key)
    return w.steps, w.returns


# -- press verdicts -------------------------------------------------------------------


def ignored_vias(tl: Timeline, steps: list[Step]) -> set[float]:
    """Press times (ms-rounded) the front end took for accepted but that only cut the
    prompt short in the recording: the prompt went on, so the IVR ignored them."""
    return {round(float(-1 if v.via.time is None else v.via.time), 3)
            for v, s in zip(tl.menus, steps) if s.mode == "rest" and v.via is not None}


def _entry_burst(presses: tuple[Press, ...]) -> set[int]:
    """Indices of a run of keys typed at data-entry pace that ends in an accepted key:
    the IVR took the whole entry (it reacted to its end), even where the front end saw
    the prompt play on over the first digits (platforms buffer typed-ahead digits)."""
    out: set[int] = set()
    times = [None if p.time is None else float(p.time) for p in presses]
    for run in entry_runs(times):
        for j, i in enumerate(run):
            if j + 1 >= MIN_ENTRY_KEYS and presses[i].accepted:
                out.update(run[:j + 1])
    return out


def press_verdicts(v: Visit, step: Step, ignored_via: set[float]) -> list[tuple[Press, bool]]:
    """(press, accepted) for the presses of a visit that times its node (a first
    arrival); presses without a time are left out."""
    if not step.first:
        return []
    typed = _entry_burst(v.presses) if v.kind == "input" or v.keyed else set()
    # an inferred press's time is a guess (trees.infer): no timing evidence
    return [(p, (p.accepted or i in typed) and round(float(p.time), 3) not in ignored_via)
            for i, p in enumerate(v.presses) if p.time is not None and not p.inferred]


@dataclass(frozen=True)
class Decided:
    """One call's navigation, decided: the call as read together with the others,
    where each visit landed, the back / repeat options found, and the presses the
    front end took for accepted whose prompt went on (ignored after all)."""
    timeline: Timeline
    steps: tuple[Step, ...]
    returns: tuple[Return, ...]
    ignored_via: frozenset

    def verdicts(self, i: int) -> list[tuple[Press, bool]]:
        """(press, accepted) of visit ``i`` when it times its node (``press_verdicts``)."""
        return press_verdicts(self.timeline.menus[i], self.steps[i], self.ignored_via)


def decide_call(tl: Timeline, known: Known) -> Decided:
    """Walk one call (read together with the others already) against ``known``."""
    steps, returns = walk(tl, known)
    return Decided(tl, tuple(steps), tuple(returns), frozenset(ignored_vias(tl, steps)))
