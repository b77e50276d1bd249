"""Holds and closed-hours greetings, from one call's timeline.

- ``hold_time``: on an agent node, the seconds from the end of the transfer prompt
  ("please hold ...", the node's speech before its music or ringback) to a person
  answering, or "at least" that long when the call ended on hold.
- A person answering is speech after the hold that is not the IVR's own hold
  announcement: announcements are known phrases ("your call is important to us"),
  repeats of speech already heard in the call, speech the music comes back after
  (a person who answered does not put the music on again), or speech in the voice
  of the IVR's own prompts (``audio.voice``: the speech events' ``voice``
  statistics), which tells an announcement the recognizer garbled past its phrase
  from a person in another voice.
- ``announced_wait_s``: "your estimated wait time is about five minutes" -> 300.
- ``after_hours``: a "we are currently closed" greeting.

The phrases are language data (``grammars/hours/<lang>.json``, the same files as
the opening hours); nothing here is language-specific code.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz

from ivrkit.audio.voice import VoiceStats, voice_distance

from .hours import LANGS, grammar, parse_hours

#: Speech this similar (rapidfuzz token-set ratio, 0-100) to speech heard earlier in
#: the call is the recording playing again (a periodic announcement), not a person:
#: recognizer noise on a replayed recording stays above ~85; two different sentences
#: sharing stock words ("thank you for calling") stay below ~70.
REPEAT_RATIO = 80.0
#: ...both having at least this many words: the token-set ratio of any sentence
#: against a one-word fragment it contains ("for") is 100.
REPEAT_MIN_WORDS = 3
#: A misheard closed notice (rapidfuzz partial ratio, 0-100, against the grammar's
#: ``after_hours_phrases``), in a sentence that carries one of a notice's own words
#: (``after_hours_anchor``: "closed", "close", "outside"): the open-hours prompts and
#: announcements of seeds 2, 5, 7, 8, 9 of benchmarks/hours.py score at most 78
#: ("we are currently assisting other" against "we are currently closed", no anchor);
#: the anchored closed notices misheard there 83-93.
NOTICE_RATIO = 80.0
#: Hold audio adding up to less than this is not a hold (a jingle between prompts).
MIN_HOLD_AUDIO_S = 2.0
#: Music spans shorter than this are the segmenter's flicker (a breath, a tone), not
#: the hold music starting again.
MIN_MUSIC_S = 0.5
#: An agent node plays its transfer prompt ("please hold while we connect you", one
#: sentence, 2-6 s) before the music; a first stretch of "music" this short, then a
#: pause of TRANSFER_PAUSE_S, is that prompt in a voice the segmenter took for music.
TRANSFER_PROMPT_MAX_S = 6.0
TRANSFER_PAUSE_S = 0.3
#: Hold music plays for a while before anything else is said (the simulator: 20-40 s
#: before its first announcement; the same floor as ``audio.holdspeech``'s
#: reference music); shorter music spans between the IVR's worded sentences are its
#: voice taken for music (flite slt; seed 9 Orchard call09, docs/benchmarks-hours.md).
HOLD_MUSIC_MIN_S = 8.0
#: Ringback bursts of one ringing are 4 s apart (US 2 s on / 4 s off; ITU 1 / 3-4).
RING_GAP_S = 4.5
#: Speech shorter than this after the hold is too little to call a person (a click,
#: a breath, the recognizer's "you").
MIN_PERSON_SPEECH_S = 0.4
#: Two stretches of speech this close (``audio.voice.voice_distance``) are one voice.
#: On the benchmark's development calls (seeds 3-4, docs/benchmarks-hours.md) hold
#: announcements against the same call's menu prompts stay at 1.3-2.7 (the nearest
#: prompt), a person answering in another voice at 3.8 and more.
SAME_VOICE_MAX = 3.2
#: Voice statistics of shorter speech are too few frames to compare (a word or two).
MIN_VOICE_S = 1.0
#: Speech that short (or of fewer than REPEAT_MIN_WORDS words) followed by more
#: speech within this gap is one sentence the
#: segmenter cut (at a level dip, not a pause: a pause between sentences is 0.4 s
#: and more in the simulator's and the Asterisk prompts).
FRAGMENT_GAP_S = 0.1
#: A pause between two words of one speech region this long is a sentence boundary
#: the segmenter bridged (words within a sentence are under ~0.3 s apart in
#: Whisper's word times): a greeting after it starts a person's turn.
GREETING_PAUSE_S = 0.5
#: A person's first word (Whisper's word times) starts within this of the speech
#: region the segmenter found for it: 0-0.7 s later on the answered calls of seeds 2,
#: 5, 7, 8, 9 (docs/benchmarks-hours.md) but one, whose region began 1.6 s early in
#: the music's tail.
WORD_ONSET_LAG_S = 1.0
#: The IVR speaks in one voice: a prompt whose pitch is further than this ratio (4
#: semitones) from the median pitch of the call's prompts is mis-tracked (flite kal
#: read at 178 or 242 Hz against its ~105) or not the IVR's, and is no reference.
PITCH_AGREE_RATIO = 1.26


@dataclass(frozen=True)
class Hold:
    """One agent visit's hold: ``seconds`` from the transfer prompt's end to the
    person's first word (or to the call's end, ``at_least``)."""

    seconds: float
    at_least: bool
    hold_start: float
    answered: float | None
    announced_wait_s: float | None


def normalize(text: str | None) -> str:
    """Lower case, apostrophes and punctuation to spaces ("we're" -> "we re")."""
    t = (text or "").lower().replace("’", "'")
    t = re.sub(r"[^\w\s:]", " ", t)
    return re.sub(r"\s+", " ", t).strip()


def _patterns(kind: str, lang: str | None):
    langs = [lang] if lang in LANGS else list(LANGS)
    for x in langs:
        for p in grammar(x).get(kind, []):
            yield x, re.compile(p)


def after_hours(text: str | None, lang: str | None = None) -> str | None:
    """The words of a closed-hours notice in ``text`` ("our offices are currently
    closed"), or None."""
    t = normalize(text)
    for _, rx in _patterns("after_hours", lang):
        m = rx.search(t)
        if m:
            return m.group(0)
    return _misheard_notice(t, lang)


def _misheard_notice(t: str, lang: str | None) -> str | None:
    """The closed notice of the grammar's ``after_hours_phrases`` that normalized
    sentence ``t`` says as the recognizer misheard it ("power off the sis now closed"
    for "our office is now closed"): a match of NOTICE_RATIO in a sentence with an
    ``after_hours_anchor`` word; None otherwise, and for a sentence that states hours
    ("we are closed on weekends")."""
    if len(t.split()) < REPEAT_MIN_WORDS or parse_hours(t, lang) is not None:
        return None
    for x in ([lang] if lang in LANGS else list(LANGS)):
        g = grammar(x)
        if not g.get("after_hours_anchor") or not re.search(g["after_hours_anchor"], t):
            continue
        for phrase in g.get("after_hours_phrases", []):
            # the phrase's best match inside the sentence; a sentence shorter than the
            # phrase is compared whole (a fragment, "our office is now", is no notice)
            r = fuzz.partial_ratio(phrase, t) if len(t) >= len(phrase) else fuzz.ratio(phrase, t)
            if r >= NOTICE_RATIO:
                return phrase
    return None


def is_hold_announcement(text: str | None, lang: str | None = None) -> bool:
    t = normalize(text)
    return any(rx.search(t) for _, rx in _patterns("hold_announcements", lang))


def is_agent_greeting(text: str | None, lang: str | None = None) -> bool:
    t = normalize(text)
    return any(rx.search(t) for _, rx in _patterns("agent_greetings", lang))


def announced_wait_s(text: str | None, lang: str | None = None) -> float | None:
    """Seconds of an announced wait ("about five minutes" -> 300.0), or None."""
    t = normalize(text)
    for x in ([lang] if lang in LANGS else list(LANGS)):
        g = grammar(x)
        rx = g.get("wait_announcements")
        m = re.search(rx, t) if rx else None
        if not m:
            continue
        n = _wait_number(m.group("n"), g)
        unit = g["units"].get(m.group("unit"))
        if n is not None and unit:
            return float(n * unit)
    return None


def _wait_number(words: str, g: dict) -> float | None:
    """'5', 'five', 'a few', 'two or' -> a number (the longest known prefix)."""
    nums = g.get("wait_numbers", {})
    parts = words.split()
    for k in range(len(parts), 0, -1):
        w = " ".join(parts[:k])
        if w.isdigit():
            return float(w)
        if w in nums:
            return float(nums[w])
    return None


def _hold_audio(events, start: float, end: float) -> list[tuple[float, float, str]]:
    """Music and ringback spans inside [start, end]: music spans of at least
    MIN_MUSIC_S, ringback bursts (2 s on, 4 s off) as one span per ringing. Spans are
    not merged across the speech between them: music resuming after an announcement
    is what tells the announcement from a person."""
    music = [(max(start, e["start"]), min(end, e["end"])) for e in events if e["type"] == "music"]
    ring = [(max(start, e["start"]), min(end, e["end"])) for e in events
            if e["type"] == "tone" and e.get("name") == "ringback"]
    spans = [(s, e, "music") for s, e in music if e - s >= MIN_MUSIC_S]
    spans += [(s, e, "ringback") for s, e in _merge([x for x in ring if x[1] > x[0]], RING_GAP_S)]
    return sorted(spans)


def _merge(spans, gap_s: float):
    out: list[list[float]] = []
    for s, e in sorted(spans):
        if out and s - out[-1][1] <= gap_s:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def hold_time(visit: dict, events: list[dict], heard_before: list[str] = (),
              lang: str | None = None) -> Hold | None:
    """The hold of one agent visit (a timeline ``menus`` entry) from the call's events;
    None when the visit has no hold (no music or ringback after its first speech).
    ``heard_before``: texts of speech earlier in the call (a replayed announcement)."""
    v0, v1 = float(visit["start"]), float(visit["end"])
    hold = _hold_audio(events, v0, v1)
    speech = [e for e in events if e["type"] == "speech" and v0 - 0.05 <= e["start"] < v1]
    if sum(e - s for s, e, _ in hold) < MIN_HOLD_AUDIO_S:
        return None
    hold = _lasting_hold(hold, speech, lang)
    first_hold = hold[0][0]
    transfer = _transfer_prompt([e for e in speech if e["start"] < first_hold])
    hold_start = max([e["end"] for e in transfer], default=first_hold)
    if not transfer and len(hold) > 1 and hold[0][2] == "music" and hold[0][1] - hold[0][0] <= TRANSFER_PROMPT_MAX_S \
            and hold[1][0] - hold[0][1] >= TRANSFER_PAUSE_S:
        # no speech before the music, but a sentence-long stretch of "music" then a
        # pause: the transfer prompt, a voice the segmenter took for music
        hold_start = hold[0][1]
        hold = hold[1:]
    heard = list(heard_before) + [e.get("text") or "" for e in transfer]
    ivr_voices = ivr_references([_voice(e) for e in events if e["type"] == "speech"
                                 and e["end"] <= hold_start + 0.05])
    waits = [w for w in (announced_wait_s(e.get("text"), lang) for e in speech) if w is not None]
    for k, e in enumerate(speech):
        if e["start"] < hold_start or e["end"] - e["start"] < MIN_PERSON_SPEECH_S:
            continue
        cand = _candidate(speech, k, lang)
        if cand is None:
            continue
        e, text, before_person = cand
        if before_person is not None:
            heard.append(before_person)
        if ivr_voice(e, ivr_voices):
            heard.append(text)  # the IVR's voice: its own announcement, however heard
            continue
        if _is_person(e, text, heard, hold, lang):
            return Hold(round(e["start"] - hold_start, 2), False, round(hold_start, 3),
                        round(e["start"], 3), waits[0] if waits else None)
        heard.append(text)
    return Hold(round(v1 - hold_start, 2), True, round(hold_start, 3), None, waits[0] if waits else None)


def _candidate(speech: list[dict], k: int, lang: str | None) -> tuple[dict, str, str | None] | None:
    """Speech event ``speech[k]`` as it is judged for a person: ``(event, text,
    words before a greeting inside it or None)``, or None when it is no candidate
    (a second and more without a word)."""
    e = speech[k]
    text, before = e.get("text") or "", None
    part = _greeting_part(e, lang)
    if part is not None:
        # the recording's tail and a person's greeting in one speech region:
        # the person starts at the greeting (the words before are not theirs)
        before = " ".join(w["word"] for w in e["words"][:part])
        e = {**e, "start": e["words"][part]["start"], "voice": None}
        text = " ".join(w["word"] for w in e["words"][part:])
    if not normalize(text) and e["end"] - e["start"] >= MIN_VOICE_S:
        # a second and more of "speech" without a word is music or noise (Whisper
        # gives words for a second of speech), not the onset of what follows it
        return None
    nxt = speech[k + 1] if k + 1 < len(speech) else None
    if nxt is not None and nxt["start"] - e["end"] <= FRAGMENT_GAP_S and (
            e["end"] - e["start"] < MIN_VOICE_S or len(normalize(text).split()) < REPEAT_MIN_WORDS):
        # too short to judge alone and run on without a pause: one sentence the
        # segmenter split ("Your call" | "is important to us"), judged whole
        text = f"{text} {nxt.get('text') or ''}"
        e = {**e, "end": nxt["end"], "voice": nxt.get("voice"),
             "words": list(e.get("words") or []) + list(nxt.get("words") or [])}
    return _from_first_word(e), text, before


def _from_first_word(e: dict) -> dict:
    """Speech event ``e`` from its first word on when that word starts more than
    WORD_ONSET_LAG_S after the event: the segmenter began the region in the
    music's tail (seed 7 Orchard call10: 1.6 s before "Hi")."""
    words = e.get("words") or []
    if words and words[0]["start"] - e["start"] > WORD_ONSET_LAG_S:
        return {**e, "start": words[0]["start"]}
    return e


def _lasting_hold(hold: list, speech: list[dict], lang: str | None) -> list:
    """The hold audio from the hold's start on. Shorter music spans than
    HOLD_MUSIC_MIN_S before the first lasting one (or ringback), with the IVR's
    worded speech after them, are not the hold when nothing before them asked the
    caller to hold (no ``hold_announcements`` phrase: "please hold", "the next
    available representative"): the prompt's voice taken for music between its
    sentences. After "please hold", a short stretch of music and an announcement
    are the hold."""
    lasting = next((k for k, (s, e, kind) in enumerate(hold)
                    if kind == "ringback" or e - s >= HOLD_MUSIC_MIN_S), None)
    if not lasting:
        return hold
    before = [e for e in speech if e["start"] < hold[0][0]]
    between = [e for e in speech if hold[0][0] <= e["start"] < hold[lasting][0]]
    if not any(normalize(e.get("text")) for e in between) \
            or any(is_hold_announcement(e.get("text"), lang) for e in before):
        return hold
    return hold[lasting:]


def _greeting_part(e: dict, lang: str | None) -> int | None:
    """Index of the word of speech event ``e`` at which a person's greeting begins
    after a pause inside the event (GREETING_PAUSE_S between words; "... assisting
    other callers. | Hello, you're speaking with Tim"), or None. The segmenter
    bridges a short pause between a hold announcement and the person answering; a
    greeting (``agent_greetings``, matched at the part's start) after it is where
    the person starts; not when the words before already greet."""
    words = e.get("words") or []
    for k in range(1, len(words)):
        if words[k]["start"] - words[k - 1]["end"] < GREETING_PAUSE_S:
            continue
        if is_agent_greeting(" ".join(w["word"] for w in words[:k]), lang):
            return None  # the person was already speaking: "Hi, thanks for holding. | My name is ..."
        rest = normalize(" ".join(w["word"] for w in words[k:k + 8]))
        if any(rx.match(rest) for _, rx in _patterns("agent_greetings", lang)):
            return k
    return None


def _transfer_prompt(before: list[dict]) -> list[dict]:
    """The speech of the transfer prompt among the speech before the first hold
    audio: up to its last event with words. Word-less "speech" after the prompt is
    the start of the hold music read as speech (its voice test or the segmenter's),
    not more of the prompt; when nothing has words, all of it is the prompt."""
    worded = [k for k, e in enumerate(before) if normalize(e.get("text"))]
    return before[:worded[-1] + 1] if worded else before


def _voice(e: dict) -> VoiceStats | None:
    """The voice statistics of a speech event at least MIN_VOICE_S long, or None."""
    v = e.get("voice")
    if not v or e["end"] - e["start"] < MIN_VOICE_S:
        return None
    return VoiceStats(v.get("pitch_hz"), tuple(v.get("mfcc") or ()))


def ivr_references(voices: list[VoiceStats | None]) -> list[VoiceStats]:
    """The prompts' voices that agree with the IVR's median pitch (PITCH_AGREE_RATIO)."""
    pitched = [v for v in voices if v is not None and v.pitch_hz]
    if not pitched:
        return []
    med = float(np.median([v.pitch_hz for v in pitched]))
    return [v for v in pitched if 1 / PITCH_AGREE_RATIO <= v.pitch_hz / med <= PITCH_AGREE_RATIO]


def ivr_voice(e: dict, ivr_voices: list[VoiceStats]) -> bool:
    """Whether speech event ``e`` is in the voice of one of the IVR's prompts
    (``ivr_voices``, their statistics) within SAME_VOICE_MAX."""
    v = _voice(e)
    return v is not None and any(len(v.mfcc) == len(w.mfcc) and voice_distance(v, w) <= SAME_VOICE_MAX
                                 for w in ivr_voices)


def is_repeat(text: str, heard: list[str]) -> bool:
    """Whether ``text`` is one of the ``heard`` texts played again (REPEAT_RATIO,
    REPEAT_MIN_WORDS)."""
    t = normalize(text)
    if len(t.split()) < REPEAT_MIN_WORDS:
        return False
    return any(fuzz.token_set_ratio(t, h) >= REPEAT_RATIO
               for h in (normalize(x) for x in heard) if len(h.split()) >= REPEAT_MIN_WORDS)


def _is_person(e: dict, text: str, heard: list[str], hold, lang) -> bool:
    """Speech after the hold music that a person said: not followed by more hold
    audio, not a known announcement (unless it greets as a person does), not a
    repeat of something heard before."""
    if any(s > e["end"] - 0.1 for s, _, _ in hold):
        return False  # the music came back: this was the IVR between its music
    norm = normalize(text)
    if not norm:
        return False  # no word recognized: music or noise the segmenter took for speech
    if is_repeat(norm, heard):
        return False
    if (is_hold_announcement(text, lang) or announced_wait_s(text, lang) is not None) \
            and not is_agent_greeting(text, lang):
        return False
    return True
