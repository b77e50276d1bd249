"""One call recording -> the contract's timeline (``ivrkit.timeline/1``).

The call is read as a walk through the IVR: it starts at the root menu (the
greeting), and every key press the IVR *accepted* moves it to another node. A press
is accepted when the prompt it was pressed over stops within the platform's stop
latency (barge-in), or when it falls in a pause where the menu is waiting; it is
ignored when the prompt plays straight on over it. Presses at an input node are the
caller's data (``keyed``) until its terminator.

Everything here works on the signal analysis (``ivrkit.audio``) and the recognizer's
words; nothing is printed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ivrkit.audio.vocab import bridge_spans
from ivrkit.trees.model import (MIN_ENTRY_KEYS, RESUME_GAP_S, TERMINATORS, TIMELINE_SCHEMA, clip_listen,
                                entry_runs)
from ivrkit.trees.model import Event, Option, Press, Timeline, Via, Visit
from ivrkit.trees.model import Word as WordRecord
from ivrkit.trees.model import round_s as _r

from . import keys as keys_mod
from . import prompts, service
from .holds import HOLD_MUSIC_MIN_S, is_hold_announcement
from .asr import Engine, Utterance, Word

SCHEMA = TIMELINE_SCHEMA

#: Longest time from a key press to the end of the prompt it interrupted that still
#: counts as the prompt stopping for the key (barge-in). Platforms stop prompts within
#: 100-400 ms (Asterisk's Background() stops at the next 20 ms frame plus jitter
#: buffer); 0.75 s leaves room for recordings with a slow far end, and is far below
#: the seconds an ignored press is played over.
STOP_LATENCY_MAX_S = 0.75
#: With clear barge-ins in the call, the stop latency is measured and a press counts
#: as accepted when the prompt stopped within this many times the median latency
#: (never less than STOP_LATENCY_MIN_S: word ends blur the stop by ~0.1-0.2 s).
STOP_LATENCY_FACTOR = 2.0
STOP_LATENCY_MIN_S = 0.35
#: Barge-ins clear enough to measure the latency from.
CLEAR_BARGE_IN_S = 0.45
#: Shortest far-end sound that can be the first audio of the next node (shorter bits
#: are the tail of the interrupted prompt or noise).
NEXT_AUDIO_MIN_S = 0.25
#: Gaps in the far-end audio shorter than this are still one stretch of prompt
#: (the segmenter already bridges pauses between words; a next prompt comes
#: after a transition of 0.3 s or more).
CONTINUITY_GAP_S = 0.2
#: Audio just before a press must be this close for the press to be "over" the prompt.
OVER_PROMPT_S = 0.15
# RESUME_GAP_S (a prompt playing on after a press), TERMINATORS and the entry pace
# (ENTRY_KEY_GAP_S, MIN_ENTRY_KEYS) are ivrkit.trees.model's: the merge applies them too.


def entry_bursts(presses) -> set[int]:
    """Indices of presses typed at data-entry pace: runs (``entry_runs``, a terminator
    ending a run) of at least MIN_ENTRY_KEYS keys."""
    runs = entry_runs([p.start_s for p in presses], [p.key for p in presses])
    return {i for run in runs if len(run) >= MIN_ENTRY_KEYS for i in run}


@dataclass
class _Visit:
    """A node visit while the call is walked (made a ``model.Visit`` once described)."""
    path: list[str]
    start: float
    via: Via | None
    end: float = 0.0
    presses: list[Press] = field(default_factory=list)
    keyed: str = ""


def _far_end_spans(regions, exclude: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Speech and music spans merged across short gaps and across DTMF tones.

    DTMF spans are bridged because the segmenter cuts speech at a press; whether the
    prompt goes on *after* the press is exactly what we want to know.
    """
    spans = sorted((r.start_s, r.end_s) for r in regions if r.kind in ("speech", "music"))
    bridges = sorted(exclude)

    def joins(gap_start: float, gap_end: float) -> bool:
        return gap_end - gap_start < CONTINUITY_GAP_S or any(
            b0 <= gap_end and b1 >= gap_start and (gap_end - gap_start) < (b1 - b0) + 2 * CONTINUITY_GAP_S
            for b0, b1 in bridges)

    return [(s, e) for s, e in bridge_spans(spans, joins)]


def _prompt_tail_s(press_start: float, press_end: float, spans) -> float | None:
    """Seconds the far end kept playing after ``press_start``; None if the press
    was not made over a prompt (it fell in a pause)."""
    for s, e in spans:
        if s - 1e-3 <= press_start <= e + OVER_PROMPT_S and s < press_start:
            return max(0.0, e - press_start)
        if press_start < s <= press_end + RESUME_GAP_S:
            # the far end started during the press or right after it: a prompt
            # starting under the key, or one pausing between sentences and going on
            return max(0.0, e - press_start)
    return None


def classify_presses(presses, spans, stop_latency_max_s: float | None = None):
    """For each press: ``(accepted, tail_s)``; tail_s is how long the prompt went on
    after the press (None: the press fell in a pause, so nothing was playing over it).

    The platform's stop latency is measured from the clear barge-ins in the call
    (prompt stopped within CLEAR_BARGE_IN_S); a press is accepted when the prompt
    stopped within STOP_LATENCY_FACTOR times that, so an ignored press near the end
    of a sentence is not mistaken for a barge-in. ``stop_latency_max_s`` overrides.
    """
    tails = [_prompt_tail_s(p.start_s, p.end_s, spans) for p in presses]
    if stop_latency_max_s is None:
        clear = [t for t in tails if t is not None and t <= CLEAR_BARGE_IN_S]
        if clear:
            stop_latency_max_s = max(STOP_LATENCY_MIN_S, STOP_LATENCY_FACTOR * float(np.median(clear)))
        else:
            stop_latency_max_s = STOP_LATENCY_MAX_S
    return [(t is None or t <= stop_latency_max_s, t) for t in tails]


def measured_stop_latency(classified) -> float | None:
    """Median time from an accepted barge-in press to the prompt stopping."""
    tails = [t for ok, t in classified if ok and t is not None]
    return float(np.median(tails)) if tails else None


def _with_lang(fn, *args, lang: str | None = None, **kw):
    """``prompts.fn(..., lang=lang)``; words without a language are English (Vosk's
    English models, timelines of engines that do not say)."""
    return fn(*args, lang=lang or "en", **kw)


def _lang_runs(words: Sequence[Word]) -> list[tuple[str | None, list[Word]]]:
    """Consecutive words heard in one language (an English menu's "para español
    oprima dos" is a Spanish run between English ones)."""
    runs: list[tuple[str | None, list[Word]]] = []
    for w in words:
        lang = getattr(w, "lang", None)
        if runs and runs[-1][0] == lang:
            runs[-1][1].append(w)
        else:
            runs.append((lang, [w]))
    return runs


def prompt_lang(words: Sequence[Word]) -> str | None:
    """The language most of a prompt's words were heard in (None: not told)."""
    from collections import Counter

    votes = Counter(getattr(w, "lang", None) for w in words)
    votes.pop(None, None)
    return max(votes, key=lambda k: (votes[k], k == "en")) if votes else None


def parse_options(words: Sequence[Word]) -> list:
    """The prompt's options, each language run read with its own grammar."""
    runs = _lang_runs(words)
    if len(runs) <= 1:
        return _with_lang(prompts.parse_options, list(words), lang=runs[0][0] if runs else None)
    return [o for lang, ws in runs for o in _with_lang(prompts.parse_options, ws, lang=lang)]


def option_mentions(words: Sequence[Word]) -> list:
    """Every option mention (``prompts.option_mentions``), each language run read
    with its own grammar."""
    return [o for lang, ws in _lang_runs(words) for o in _with_lang(prompts.option_mentions, ws, lang=lang)]


#: A word whose middle falls this little before a region still belongs to it (Whisper's
#: word times run a little early).
REGION_WORD_SLACK_S = 0.05


def _words_in(words: Sequence[Word], start: float, end: float) -> list[Word]:
    return [w for w in words if start - REGION_WORD_SLACK_S <= (w.start_s + w.end_s) / 2 < end]


def _speech_words(words: Sequence[Word], regions) -> list[list[Word]]:
    """The words of each speech region in ``regions``, each word in one region only:
    the one it starts in, else the one holding its middle, else the one it falls
    REGION_WORD_SLACK_S before. A region that begins where the last ended would
    otherwise take that region's last word too, or alone ("colors." 57.50-58.32 across
    a boundary at 57.90), and the music read as speech after an announcement had a
    word (seed 13 Lakeside call09, Orchard call02): a "person" for the hold rules. A
    word starting early before a region with no speech before it stays the region's
    (Whisper's first words start up to ~0.2 s before their region)."""
    out: list[list[Word]] = [[] for _ in regions]
    for w in words:
        mid = (w.start_s + w.end_s) / 2
        near = [k for k, r in enumerate(regions) if r.start_s <= w.start_s < r.end_s] \
            or [k for k, r in enumerate(regions) if r.start_s <= mid < r.end_s] \
            or [k for k, r in enumerate(regions) if r.start_s - REGION_WORD_SLACK_S <= mid < r.end_s]
        if near:
            out[near[0]].append(w)
    return out


def _next_audio_after(press_start: float, press_end: float, spans) -> float | None:
    """First audio of the node a press leads to: the first far-end span that starts
    after the press and after the prompt it interrupted (whose tail may run on for
    the stop latency), and is long enough to be a prompt rather than that tail."""
    t = press_end
    for s, e in spans:
        if s <= press_end and e >= press_start:  # the prompt the press was made over
            t = max(t, e)
    for s, e in spans:
        if s >= t - 0.02 and e - s >= NEXT_AUDIO_MIN_S:
            return s
    return None


def _press_accepted(i: int, p, accepted: bool, cur: _Visit, cur_words: Sequence[Word],
                    burst: set[int]) -> tuple[bool, bool]:
    """(accepted, collecting): the verdict on press ``i`` at the node being visited
    (``cur_words``: its words so far), and whether it is data keyed at an input node."""
    text = " ".join(w.word for w in cur_words)
    entry = _with_lang(prompts.parse_entry, text, lang=prompt_lang(cur_words)) if text else None
    if entry is not None and i not in burst and not cur.keyed \
            and p.key in {o.key for o in parse_options(cur_words)}:
        # one key at a menu's pace that the prompt offered as an option answers the
        # option, also where the prompt asked for data too ("Enter your ID, or press 0
        # for an operator"; a menu misheard as "... Enter your ID from 9. For claims,
        # press 1", seed 17 Orchard call05 of benchmarks/hours.py)
        entry = None
    # data typed at entry pace is data even where the request was not understood
    # (an unclear prompt, a data kind without a directory token)
    collecting = (entry is not None or i in burst) and not (cur.keyed and cur.keyed[-1:] in TERMINATORS)
    if collecting:
        # an input node takes digits typed over its prompt (Read() / VoiceXML
        # <field> buffer them), so the prompt playing on does not mean ignored
        accepted = True
    elif p.start_s < cur.start - 0.05:
        # pressed before this node's first audio: typed ahead, the IVR had no
        # prompt to stop; platforms drop such keys during transitions
        accepted = False
    return bool(accepted), collecting


def _path_after(cur: _Visit, key: str, cur_words) -> list[str]:
    """Where an accepted key leads from ``cur``: a repeat option stays, a back option
    goes up (to the root when its label names the first menu: the grammar's
    ``roles.top``), any other key goes down."""
    opt = {o.key: o for o in parse_options(cur_words)}.get(key)
    if opt is not None and opt.role == "repeat":
        return list(cur.path)
    if opt is not None and opt.role == "back":
        return [] if (prompts.goes_to_top(opt.label, prompt_lang(cur_words) or "en") or len(cur.path) <= 1) else list(cur.path[:-1])
    return cur.path + [key]


#: Music this long inside a visit is a hold's (a jingle is shorter); the same length
#: of music before a key pressed in it puts the key in the hold.
HOLD_MUSIC_S = 2.0
#: Speech this long in which the recognizer heard no word is music or noise (Whisper
#: gives words for a second of speech; ``holds`` judges a hold's speech the same way).
WORDLESS_MUSIC_S = 1.0


def _hold_plays_on(p, regions, visit_start: float, words) -> bool:
    """Whether press ``p`` was made in a hold whose music played on after it: after the
    visit's last worded speech came HOLD_MUSIC_S of music up to the key (the far end's
    last audio before it), and the first audio of a second or more after the key is
    hold music (``holds.HOLD_MUSIC_MIN_S``), nothing said between. A platform that takes
    a key stops the music for the next node's prompt. The segmenter reads a quiet
    passage of the music as silence, so the key seems to fall in a pause (seed 17
    Northstar call05 of benchmarks/hours.py: "0" 2.6 s into the music, at -50..-57 dBFS
    around it, the music loud again 1.2 s after the key), and the music's start as
    speech without words (WORDLESS_MUSIC_S; seed 23 Northstar call10, GSM: 3.7 s).
    Shorter music after the key can be a prompt in a voice the segmenter takes for
    music (flite slt: seed 13 Lakeside call06's menu and the transfer prompt after its
    accepted key, 0.7-3.4 s stretches of "music"). A visit with no worded speech
    before the key (no recognizer, nothing heard) is never judged so."""
    far = sorted((r for r in regions if r.kind in ("speech", "music") and r.end_s - r.start_s >= NEXT_AUDIO_MIN_S),
                 key=lambda r: r.start_s)
    worded = {id(r) for r in far if r.kind == "speech" and _words_in(words, r.start_s, r.end_s)}
    said = max((r.end_s for r in far if id(r) in worded and visit_start - 0.05 <= r.start_s < p.start_s), default=None)
    if said is None:
        return False

    def musical(r) -> bool:
        return r.kind == "music" or (id(r) not in worded and r.end_s - r.start_s >= WORDLESS_MUSIC_S)

    before = [r for r in far if said <= r.start_s < p.start_s]
    if not before or not musical(before[-1]) or \
            sum(min(r.end_s, p.start_s) - r.start_s for r in before if musical(r)) < HOLD_MUSIC_S:
        return False
    if before[-1].kind == "music" and before[-1].end_s >= p.end_s + HOLD_MUSIC_MIN_S:
        return True  # the music went on under the key
    after = [r for r in far if r.start_s >= p.start_s and (id(r) in worded or r.end_s - r.start_s >= WORDLESS_MUSIC_S)]
    return bool(after) and after[0].kind == "music" and after[0].end_s - after[0].start_s >= HOLD_MUSIC_MIN_S


def _walk_call(presses, classified, words, spans, root_start: float, duration_s: float, regions=()):
    """The call as a walk: the visits (with their presses and keyed data) and each
    press's verdict, in press order. ``regions``: the segmenter's, for a key pressed in
    a hold that played on (``_hold_plays_on``)."""
    visits: list[_Visit] = [_Visit(path=[], start=root_start, via=None)]
    accepted_flags: list[bool] = []
    burst = entry_bursts(presses)
    for i, (p, (accepted, _tail)) in enumerate(zip(presses, classified)):
        cur = visits[-1]
        cur_words = _words_in(words, cur.start, p.start_s)
        accepted, collecting = _press_accepted(i, p, accepted, cur, cur_words, burst)
        if accepted and not collecting and _hold_plays_on(p, regions, cur.start, words):
            accepted = False
        cur.presses.append(Press(p.key, _r(p.start_s), _r(p.end_s), accepted))
        accepted_flags.append(accepted)
        if not accepted:
            continue
        if collecting:
            cur.keyed += p.key
            continue
        nxt = _next_audio_after(p.start_s, p.end_s, spans)
        start = nxt if nxt is not None else p.end_s
        cur.end = p.start_s
        visits.append(_Visit(path=_path_after(cur, p.key, cur_words), start=start,
                             via=Via(p.key, _r(p.start_s), _r(start - p.end_s))))
    visits[-1].end = duration_s
    return visits, accepted_flags


def _visit_kind_entry(v: _Visit, text: str, opts, music_regions, lang: str | None = None) -> tuple[str, str | None]:
    """(kind, entry token) of a visit from its words, options, music and keyed data."""
    entry = _with_lang(prompts.parse_entry, text, lang=lang) if text else None
    keyed_data = len((v.keyed or "").rstrip("".join(TERMINATORS))) >= MIN_ENTRY_KEYS
    if entry is None and text and keyed_data:
        # the caller keyed data here: a data noun heard without its verb names it
        entry = _with_lang(prompts.parse_entry, text, need_verb=False, lang=lang)
    if entry and entry[-1] not in TERMINATORS and v.keyed and v.keyed[-1] in TERMINATORS:
        # the caller cut the prompt short before it named its terminator, and the
        # IVR took the entry ended by this key: that is the terminator it wants
        entry += v.keyed[-1]
    has_music = any(r.start_s < v.end and r.end_s > v.start and (min(r.end_s, v.end) - max(r.start_s, v.start)) > 2.0
                    for r in music_regions)
    kind = _with_lang(prompts.classify_prompt, text, opts, lang=lang) if text else ("agent" if has_music else "unknown")
    if has_music and kind in ("info", "unknown"):
        kind = "agent"
    if keyed_data:
        kind = "input"  # the caller keyed data here and the IVR took it
    return kind, entry


def _visit_listen(v: _Visit, vw, kind: str, lang: str | None = None) -> tuple[float | None, float | None, float | None]:
    """(listen_after, lower, upper) seconds from the visit's start: its first call to
    action kept inside this call's press bracket (latest ignored, earliest accepted)."""
    lower = max((pr.end - v.start for pr in v.presses if not pr.accepted and pr.time >= v.start - 0.05), default=None)
    upper = min((pr.time - v.start for pr in v.presses if pr.accepted), default=None)
    cta = _with_lang(prompts.first_call_to_action, vw, lang=lang)
    est = (cta - v.start) if cta is not None else None
    if est is None and kind in ("menu", "input"):
        est = 0.0
    if est is not None:
        est = clip_listen(est, lower, upper)
    elif lower is not None or upper is not None:
        est = upper if upper is not None else lower
    return (max(0.0, est) if est is not None else None), lower, upper


def _hold_start(v: _Visit, music_regions) -> float | None:
    """Where a visit's hold music (HOLD_MUSIC_S and more of music inside it) begins."""
    return min((r.start_s for r in music_regions
                if v.start <= r.start_s < v.end and min(r.end_s, v.end) - r.start_s >= HOLD_MUSIC_S), default=None)


def _before_hold(opts, v: _Visit, music_regions):
    """An agent visit's options said before its hold music: what the IVR says (or the
    recognizer makes of the music and the person) once the hold has begun is hold
    announcement or the person, not the node's menu ("Press star to" | "... to the
    main menu" read into a person's "what can I do for you today")."""
    hold = _hold_start(v, music_regions)
    return [o for o in opts if hold is None or o.start_s < hold]


def _held_kind_entry(v: _Visit, vw, music_regions, lang: str | None) -> tuple[str, str | None] | None:
    """(kind, entry) of a visit read from its words before its hold music when those
    asked the caller to hold (``holds.is_hold_announcement``: "please hold while we
    connect you") and name an agent node; None otherwise. The words heard in the hold
    are its announcements, misheard ones too ("... the next available reference. Enter
    this will be with you shortly": an ``input`` node, seed 11 Northstar call09 of
    benchmarks/hours.py), not the node's request."""
    hold = _hold_start(v, music_regions)
    pre = [w for w in vw if hold is not None and w.start_s < hold]
    text = " ".join(w.word for w in pre).strip()
    if not pre or not is_hold_announcement(text, lang):
        return None
    kind, entry = _visit_kind_entry(v, text, parse_options(pre), music_regions, lang)
    return (kind, entry) if kind == "agent" else None


def _describe(v: _Visit, words, music_regions) -> Visit:
    """The timeline's record of one visit."""
    vw = _words_in(words, v.start, v.end)
    text = " ".join(w.word for w in vw).strip()
    lang = prompt_lang(vw)
    opts = parse_options(vw)
    kind, entry = _visit_kind_entry(v, text, opts, music_regions, lang)
    if kind != "agent":
        kind, entry = _held_kind_entry(v, vw, music_regions, lang) or (kind, entry)
    if kind == "agent":
        opts = _before_hold(opts, v, music_regions)
    listen_after, lower, upper = _visit_listen(v, vw, kind, lang)
    extra = {"lang": lang} if lang else {}
    if prompts.opens_with_refusal(text, lang or "en"):
        extra["refused"] = True  # the platform refused the key that led here
    if v.via is None and not v.presses:
        # no key taken: the call may have gone on through menus whose tones were not
        # in the audio (keys sent out of band); trees.infer cuts it where the IVR moved,
        # and each part needs the options said in it, a key said again included
        every = option_mentions(vw)
        if len(every) > len(opts):
            extra["option_mentions"] = [Option(o.key, o.label, _r(o.start_s), _r(o.end_s), o.role).to_json()
                                        for o in every]
    return Visit(path=tuple(v.path), kind=kind, start=_r(v.start), end=_r(v.end), prompt=text,
                 listen_after=_r(listen_after), listen_bounds=(_r(lower), _r(upper)),
                 options=tuple(Option(o.key, o.label, _r(o.start_s), _r(o.end_s), o.role) for o in opts),
                 entry=entry, via=v.via, presses=tuple(v.presses), keyed=v.keyed or None,
                 extra=extra)


def _voice_of(region, voices) -> dict | None:
    """The voice statistics (``audio.voice``) of the speech region ``region``, as the
    timeline's speech events carry them: ``{"pitch_hz": 168.0, "mfcc": [...]}``."""
    for a, b, v in voices:
        if abs(a - region.start_s) < 0.02 and abs(b - region.end_s) < 0.02:
            return {"pitch_hz": _r(v.pitch_hz, 1), "mfcc": list(v.mfcc)}
    return None


def _events(sig, words, presses, accepted_flags) -> list[Event]:
    """Tones, speech (with its words), music, long silences and DTMF, by time."""
    events: list[Event] = [Event("tone", _r(t.start_s), _r(t.end_s), name=t.name) for t in sig.tones]
    speech = [r for r in sig.regions if r.kind == "speech"]
    region_words = dict(zip(map(id, speech), _speech_words(words, speech)))
    for r in sig.regions:
        if r.kind == "speech":
            rw = region_words[id(r)]
            lang = prompt_lang(rw)
            text = " ".join(w.word for w in rw).strip()
            extra = {"lang": lang} if lang else {}
            if prompts.opens_with_refusal(text, lang or "en"):
                extra["refusal"] = True  # trees.infer: the menu starts over, nothing moved
            voice = _voice_of(r, getattr(sig, "voices", ()))
            if voice is not None:
                extra["voice"] = voice
            events.append(Event("speech", _r(r.start_s), _r(r.end_s), text=text,
                                words=tuple(WordRecord(w.word, _r(w.start_s), _r(w.end_s), _r(w.conf, 3))
                                            for w in rw), extra=extra))
        elif r.kind == "music":
            events.append(Event("music", _r(r.start_s), _r(r.end_s)))
        elif r.kind == "silence" and r.end_s - r.start_s >= 0.5:
            events.append(Event("silence", _r(r.start_s), _r(r.end_s)))
    for p, acc in zip(presses, accepted_flags):
        events.append(Event("dtmf", _r(p.start_s), _r(p.end_s), key=p.key, level_db=_r(p.level_db, 1), accepted=acc,
                            extra=keys_mod.event_fields(p)))
    events.sort(key=lambda e: (e.start, e.end))
    return events


def build_timeline(
    file: str,
    duration_s: float,
    sig,
    utterances: Sequence[Utterance],
    sha256: str | None = None,
) -> dict:
    """Assemble the timeline dict (``model.Timeline.to_json()``) from a signal analysis
    and the recognizer's output."""
    presses = list(sig.presses)
    spans = _far_end_spans(sig.regions, [(p.start_s, p.end_s) for p in presses])
    words = sorted((w for u in utterances for w in u.words), key=lambda w: w.start_s)
    onset = sig.greeting_onset_s
    root_start = onset if onset is not None else (spans[0][0] if spans else 0.0)
    classified = classify_presses(presses, spans)
    visits, accepted_flags = _walk_call(presses, classified, words, spans, root_start, duration_s, sig.regions)
    music_regions = [r for r in sig.regions if r.kind == "music"]
    tl = Timeline(file=file, sha256=sha256, duration=_r(duration_s), answer=_r(sig.answer_s),
                  greeting_onset=_r(onset), stop_latency=_r(measured_stop_latency(classified)),
                  events=tuple(_events(sig, words, presses, accepted_flags)),
                  menus=tuple(_describe(v, words, music_regions) for v in visits)).to_json()
    # opening hours, holds and a closed-hours greeting (discovery/service.py)
    return service.annotate(tl, words)


def analyse_call(
    path: str | os.PathLike,
    engine: Engine | None = None,
    on_stage: Callable[[str], None] | None = None,
    keys: "Sequence[keys_mod.ListedKey] | None" = None,
) -> dict:
    """Decode, detect, transcribe and walk one call; returns the timeline dict.

    The same as ``ivrkit.discovery.pipeline.analyse_call`` (which owns decoding: long
    calls streamed, two-sided calls read on the IVR's side, the caller's keys applied);
    kept here for callers of the timeline module. Raises ``keys.KeysError``.
    """
    from .pipeline import analyse_call as _analyse

    return _analyse(path, engine, on_stage, keys=keys)
