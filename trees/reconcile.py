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

Works on timeline dicts (``ivrkit.timeline/1``) and returns corrected copies; it never
touches audio.
"""
from __future__ import annotations

import copy

from rapidfuzz import fuzz

from . import textsim

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


def _words(tl: dict) -> list[tuple[float, str]]:
    """(start time, word) of every word heard; a speech event without word times has
    its text spread evenly over the event."""
    out = []
    for e in tl.get("events") or []:
        if e.get("type") != "speech":
            continue
        if e.get("words"):
            out += [(float(w["start"]), w["word"]) for w in e["words"]]
        else:
            ws = (e.get("text") or "").split()
            step = (float(e["end"]) - float(e["start"])) / max(1, len(ws))
            out += [(float(e["start"]) + k * step, w) for k, w in enumerate(ws)]
    return sorted(out)


def _text(words, a: float, b: float) -> str:
    return textsim.normalize(" ".join(w for t, w in words if a <= t < b))


def _root_went_on_in_others(i: int, tls: list[dict], words: list[list], offset_s: float, text: str) -> bool | None:
    """True when another call heard ``text`` in its root around ``offset_s`` from the
    greeting; False when calls heard the root there and it said something else; None
    when no other call heard the root that far."""
    verdicts = []
    for j, other in enumerate(tls):
        if j == i or not other.get("menus"):
            continue
        root = other["menus"][0]
        if root.get("path"):
            continue
        s0, end = float(root["start"]), float(root["end"])
        if end - s0 < offset_s + MIN_HEARD_AFTER_S:
            continue
        theirs = _text(words[j], s0 + offset_s - SLACK_S, s0 + offset_s + COMPARE_S + SLACK_S)
        if len(theirs) < MIN_CHARS:
            continue
        verdicts.append(fuzz.partial_ratio(text, theirs) >= SAME_WORDS_RATIO)
    if not verdicts:
        return None
    return any(verdicts)


def _options_at(menu: dict, s0: float) -> list[tuple[str, float]]:
    return [(o["key"], float(o["start"]) - s0) for o in menu.get("options") or []
            if o.get("key") and o.get("start") is not None and o.get("role", "option") == "option"]


def _same_options_in_others(i: int, tls: list[dict], nxt: dict, s0: float) -> bool:
    """True when another call's root offered at least MIN_SAME_OPTIONS of the keys this
    visit offered, each at the same offset from the greeting onset."""
    mine = _options_at(nxt, s0)
    if len(mine) < MIN_SAME_OPTIONS:
        return False
    for j, other in enumerate(tls):
        if j == i or not other.get("menus") or other["menus"][0].get("path"):
            continue
        root = other["menus"][0]
        theirs = _options_at(root, float(root["start"]))
        same = sum(any(k == k2 and abs(t - t2) <= SAME_OFFSET_S for k2, t2 in theirs) for k, t in mine)
        if same >= MIN_SAME_OPTIONS:
            return True
    return False


def _fold_into_root(tl: dict) -> None:
    """Merge the second visit into the root: its press was ignored."""
    menus = tl["menus"]
    root, nxt = menus[0], menus[1]
    key = (nxt.get("via") or {}).get("key")
    t_press = (nxt.get("via") or {}).get("time")
    s0 = float(root["start"])
    for p in root.get("presses") or []:
        if t_press is not None and abs(float(p["time"]) - float(t_press)) < 1e-3:
            p["accepted"] = False
            lo = float(p.get("end") or p["time"]) - s0
            bounds = list(root.get("listen_bounds") or [None, None])
            bounds[0] = lo if bounds[0] is None else max(bounds[0], lo)
            bounds[1] = None
            root["listen_bounds"] = bounds
    for e in tl.get("events") or []:
        if e.get("type") == "dtmf" and t_press is not None and abs(float(e["start"]) - float(t_press)) < 1e-3:
            e["accepted"] = False
    root["end"] = nxt["end"]
    root["prompt"] = " ".join(x for x in (root.get("prompt"), nxt.get("prompt")) if x)
    have = {o["key"] for o in root.get("options") or []}
    root["options"] = list(root.get("options") or []) + [o for o in nxt.get("options") or [] if o["key"] not in have]
    root["presses"] = list(root.get("presses") or []) + list(nxt.get("presses") or [])
    for k in ("entry", "keyed"):
        root[k] = root.get(k) or nxt.get(k)
    if root["options"] and root.get("kind") not in ("menu", "input"):
        root["kind"] = "menu"
    # when the root listens: its first call to action, now that the prompt went on,
    # kept after the ignored press and before any press it took
    starts = [float(o["start"]) - s0 for o in root["options"] if o.get("start") is not None]
    est = min(starts) if starts else (None if nxt.get("listen_after") is None
                                      else float(nxt["listen_after"]) + float(nxt["start"]) - s0)
    lo, hi = root["listen_bounds"][0], None
    for p in root["presses"]:
        if p.get("accepted") and float(p["time"]) - s0 > (lo or 0.0):
            hi = float(p["time"]) - s0
            break
    if est is not None:
        est = max(est, lo or 0.0)
        if hi is not None:
            est = min(est, hi)
    elif lo is not None:
        est = lo
    root["listen_after"] = None if est is None else round(est, 3)
    root["listen_bounds"] = [lo, hi]
    del menus[1]
    for m in menus[1:]:
        if key is not None and (m.get("path") or [])[:1] == [key]:
            m["path"] = m["path"][1:]


def reconcile_greetings(timelines: list[dict]) -> list[dict]:
    """Copies of the timelines where a press that left the root is set ignored when the
    other calls show the root simply went on with the words heard after it."""
    tls = [copy.deepcopy(t) for t in timelines]
    words = [_words(t) for t in tls]
    for i, tl in enumerate(tls):
        while len(tl.get("menus") or []) >= 2 and not tl["menus"][0].get("path"):
            root, nxt = tl["menus"][0], tl["menus"][1]
            via = nxt.get("via") or {}
            if via.get("time") is None or (nxt.get("path") or [None])[:-1] != []:
                break
            if any(o.get("key") == via.get("key") and o.get("role") in ("repeat", "back")
                   for o in root.get("options") or []):
                break  # "press 9 to hear these options again": the replay is meant
            offset = float(via["time"]) - float(root["start"])
            if not _same_options_in_others(i, tls, nxt, float(root["start"])):
                mine = _text(words[i], float(nxt["start"]), float(nxt["start"]) + COMPARE_S)
                if len(mine) < MIN_CHARS:
                    break
                # where the other calls' roots are, in time: this call's pause after the
                # key stands in for the pause between the greeting's sentences
                at = offset + (float(nxt["start"]) - float(via["time"]))
                if _root_went_on_in_others(i, tls, words, at, mine) is not True:
                    break
            _fold_into_root(tl)
    return tls
