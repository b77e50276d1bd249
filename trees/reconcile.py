"""Presses one call cannot judge, judged by the other calls of the same company.

A key pressed in the greeting right where a sentence ends looks, in that call alone,
exactly like a barge-in: the prompt stops at the key and, after a pause, something
else is heard. Whether that something is the next node or just the greeting's next
sentence, the call cannot tell; the other calls can. Every call starts at the root, and
a greeting plays the same words at the same offset from its onset in every call. So
when what a call heard after such a press is what another call heard at that offset
*in the root*, with no key taken, the press was ignored and the root went on. Where
the recognizer garbled the words, the keys give it away: the visit offers the keys
another call's root offered at the same seconds from the greeting onset.

Works on the call records of ``ivrkit.trees.model`` (timeline dicts are read with
``Timeline.from_json``) and returns corrected copies; it never touches audio.
"""
from __future__ import annotations

import copy
from dataclasses import replace

from rapidfuzz import fuzz

from . import textsim
from .model import NAV_ROLES, Timeline, Visit, clip_listen

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


def reconcile_records(timelines: list[Timeline]) -> list[Timeline]:
    """The calls with every press that only seemed to leave the root set ignored (see
    the module docstring); calls read earlier in the list are seen already corrected."""
    tls = list(timelines)
    words = [_words(t) for t in tls]
    for i in range(len(tls)):
        while len(tls[i].menus) >= 2 and not tls[i].menus[0].path and _greeting_went_on(i, tls, words):
            tls[i] = _fold_into_root(tls[i])
    return tls


def reconcile_greetings(timelines: list) -> list:
    """Copies of the timelines where a press that left the root is set ignored when the
    other calls show the root simply went on with the words heard after it. Takes and
    returns ``Timeline`` records or timeline dicts (a dict's copy is unchanged unless
    the call was corrected)."""
    tls = [Timeline.from_json(t) for t in timelines]
    out = reconcile_records(tls)
    return [o if isinstance(t, Timeline) else (copy.deepcopy(t) if o is r else o.to_json())
            for t, r, o in zip(timelines, tls, out)]
