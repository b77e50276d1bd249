"""What a call says beside the keys: opening hours, a closed-hours greeting, holds.

``annotate(timeline, words)`` adds to a timeline (``ivrkit.timeline/1``):

- ``menus[i].hours``: ``[{"osm": "Mo-Fr 09:00-17:00", "tz": null, "lang": "en",
  "time": 4.1, "sentence": "..."}]`` where the node's prompt states opening hours;
- ``menus[i].hold`` on agent visits with a hold: ``{"s": 95.0, "at_least": false,
  "start": 31.2, "answered": 126.2, "announced_wait_s": 300.0}``;
- ``after_hours``: ``{"time": 4.1, "sentence": "..."}`` when the greeting says the
  company is closed now (trees keeps such a call out of the root menu).
"""
from __future__ import annotations

import re
from typing import Sequence

from . import holds
from .hours import parse_hours

#: A word ending with one of these ends a sentence (the recognizer punctuates).
SENTENCE_END = re.compile(r"[.!?;]$")


def sentences(words: Sequence) -> list[tuple[float, str]]:
    """(start_s, text) of each sentence in recognized words (``Word`` objects)."""
    out: list[tuple[float, str]] = []
    cur: list = []
    for w in words:
        cur.append(w)
        if SENTENCE_END.search(w.word.strip()):
            out.append((cur[0].start_s, " ".join(x.word.strip() for x in cur)))
            cur = []
    if cur:
        out.append((cur[0].start_s, " ".join(x.word.strip() for x in cur)))
    return out


def hours_observation(words: Sequence, lang: str | None = None) -> dict | None:
    """The opening hours a prompt states, with the sentences that state them."""
    sents = sentences(words)
    if not sents:
        return None
    h = parse_hours(" ".join(s for _, s in sents), lang)
    if h is None:
        return None
    said = [(t, s) for t, s in sents if parse_hours(s, h.lang) is not None]
    if not said:
        said = sents
    obs = {"osm": h.osm, "tz": h.tz, "lang": h.lang, "time": round(float(said[0][0]), 3),
           "sentence": " ".join(s for _, s in said)}
    if h.unpaired_days:  # days the prompt named whose hours were not heard
        obs["unpaired_days"] = list(h.unpaired_days)
    return obs


def _closed_greeting(menus, words, lang) -> dict | None:
    if not menus or menus[0].get("path"):
        return None
    root = menus[0]
    end = root["end"]
    for m in menus[1:] if not root.get("options") else ():
        if m.get("options"):
            break
        end = m["end"]  # a greeting without options goes on past a key it ignored
    for t, s in sentences([w for w in words if root["start"] - 0.05 <= w.start_s < end]):
        if holds.after_hours(s, lang):
            return {"time": round(float(t), 3), "sentence": s}
    return None


def annotate(tl: dict, words: Sequence) -> dict:
    """Add hours, holds and the closed-hours mark to timeline ``tl`` (in place; also
    returned). ``words``: the call's recognized words, sorted by time."""
    menus = tl.get("menus") or []
    events = tl.get("events") or []
    for m in menus:
        mw = [w for w in words if m["start"] - 0.05 <= (w.start_s + w.end_s) / 2 < m["end"]]
        obs = hours_observation(mw, m.get("lang"))
        if obs is not None:
            m["hours"] = [obs]
        if m.get("kind") == "agent":
            before = [e.get("text") or "" for e in events
                      if e["type"] == "speech" and e["end"] <= m["start"] + 0.05]
            h = holds.hold_time(m, events, before, m.get("lang"))
            if h is not None:
                m["hold"] = {"s": h.seconds, "at_least": h.at_least, "start": h.hold_start,
                             "answered": h.answered, "announced_wait_s": h.announced_wait_s}
    closed = _closed_greeting(menus, words, menus[0].get("lang") if menus else None)
    if closed is not None:
        tl["after_hours"] = closed
    return tl
