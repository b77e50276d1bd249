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
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ivrkit.audio import io as audio_io
from ivrkit.audio.analysis import analyse as analyse_signal

from . import prompts, service
from .asr import Engine, Utterance, Word

SCHEMA = "ivrkit.timeline/1"

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
#: Far-end audio that resumes this soon after a press made in a pause is the prompt
#: playing on (a pause between its sentences), not the next node: taking a key,
#: stopping the prompt and starting the next one takes platforms 0.3-2 s (the same
#: bound trees.build uses to fold a prompt that went on).
RESUME_GAP_S = 0.3
#: Keys that end a data entry.
TERMINATORS = ("#", "*")
#: Keys typed as data (an ID, a phone number) follow each other within this gap
#: (0.3-0.5 s apart for a person, less for a dialer)... (trees.build has the same
#: rule for timelines made before this one: trees does not import discovery)
ENTRY_KEY_GAP_S = 0.8
#: ...and come at least this many in a row (the shortest token, 4D, is four keys);
#: menu keys come one at a time, each waiting for the next prompt.
MIN_ENTRY_KEYS = 4


def entry_bursts(presses) -> set[int]:
    """Indices of presses typed at data-entry pace: runs of at least MIN_ENTRY_KEYS
    keys, each within ENTRY_KEY_GAP_S of the one before, a terminator ending a run."""
    out: set[int] = set()
    run: list[int] = []
    for i, p in enumerate(presses):
        if run and (p.start_s - presses[run[-1]].start_s > ENTRY_KEY_GAP_S
                    or presses[run[-1]].key in TERMINATORS):
            run = []
        run.append(i)
        if len(run) >= MIN_ENTRY_KEYS:
            out.update(run)
    return out


@dataclass
class _Visit:
    path: list[str]
    start: float
    via: dict | None
    end: float = 0.0
    presses: list[dict] = field(default_factory=list)
    keyed: str = ""


def _far_end_spans(regions, exclude: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Speech and music spans merged across short gaps and across DTMF tones.

    DTMF spans are bridged because the segmenter cuts speech at a press; whether the
    prompt goes on *after* the press is exactly what we want to know.
    """
    spans = sorted((r.start_s, r.end_s) for r in regions if r.kind in ("speech", "music"))
    bridges = sorted(exclude)
    merged: list[list[float]] = []
    for s, e in spans:
        if merged:
            gap_start, gap_end = merged[-1][1], s
            bridged = any(b0 <= gap_end and b1 >= gap_start and (gap_end - gap_start) < (b1 - b0) + 2 * CONTINUITY_GAP_S
                          for b0, b1 in bridges)
            if gap_end - gap_start < CONTINUITY_GAP_S or bridged:
                merged[-1][1] = max(merged[-1][1], e)
                continue
        merged.append([s, e])
    return [(s, e) for s, e in merged]


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


def _words_in(words: Sequence[Word], start: float, end: float) -> list[Word]:
    return [w for w in words if start - 0.05 <= (w.start_s + w.end_s) / 2 < end]


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(float(x), nd)


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


def build_timeline(
    file: str,
    duration_s: float,
    sig,
    utterances: Sequence[Utterance],
    sha256: str | None = None,
) -> dict:
    """Assemble the timeline dict from a signal analysis and the recognizer's output."""
    presses = list(sig.presses)
    dtmf_spans = [(p.start_s, p.end_s) for p in presses]
    spans = _far_end_spans(sig.regions, dtmf_spans)
    words = sorted((w for u in utterances for w in u.words), key=lambda w: w.start_s)
    onset = sig.greeting_onset_s
    root_start = onset if onset is not None else (spans[0][0] if spans else 0.0)

    classified = classify_presses(presses, spans)

    # -- walk the call -----------------------------------------------------------
    visits: list[_Visit] = [_Visit(path=[], start=root_start, via=None)]
    entry_of: dict[int, str | None] = {}
    accepted_flags: list[bool] = []
    burst = entry_bursts(presses)
    for i, (p, (accepted, tail)) in enumerate(zip(presses, classified)):
        cur = visits[-1]
        cur_words = _words_in(words, cur.start, p.start_s)
        text = " ".join(w.word for w in cur_words)
        entry = prompts.parse_entry(text) if text else None
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
        rec = {"key": p.key, "time": _r(p.start_s), "end": _r(p.end_s), "accepted": bool(accepted)}
        cur.presses.append(rec)
        accepted_flags.append(bool(accepted))
        if not accepted:
            continue
        if collecting:
            cur.keyed += p.key
            continue
        opts = prompts.parse_options(cur_words)
        by_key = {o.key: o for o in opts}
        opt = by_key.get(p.key)
        if opt is not None and opt.role == "repeat":
            new_path = list(cur.path)
        elif opt is not None and opt.role == "back":
            new_path = [] if ("main" in opt.label or len(cur.path) <= 1) else list(cur.path[:-1])
        else:
            new_path = cur.path + [p.key]
        nxt = _next_audio_after(p.start_s, p.end_s, spans)
        start = nxt if nxt is not None else p.end_s
        cur.end = p.start_s
        visits.append(_Visit(path=new_path, start=start,
                             via={"key": p.key, "time": _r(p.start_s), "latency": _r(start - p.end_s)}))
    visits[-1].end = duration_s

    # -- describe each visit -----------------------------------------------------
    music_regions = [r for r in sig.regions if r.kind == "music"]
    menus = []
    for v in visits:
        vw = _words_in(words, v.start, v.end)
        text = " ".join(w.word for w in vw).strip()
        opts = prompts.parse_options(vw)
        entry = prompts.parse_entry(text) if text else None
        keyed_data = len((v.keyed or "").rstrip("".join(TERMINATORS))) >= MIN_ENTRY_KEYS
        if entry is None and text and keyed_data:
            # the caller keyed data here: a data noun heard without its verb names it
            entry = prompts.parse_entry(text, need_verb=False)
        if entry and entry[-1] not in TERMINATORS and v.keyed and v.keyed[-1] in TERMINATORS:
            # the caller cut the prompt short before it named its terminator, and the
            # IVR took the entry ended by this key: that is the terminator it wants
            entry += v.keyed[-1]
        has_music = any(r.start_s < v.end and r.end_s > v.start and (min(r.end_s, v.end) - max(r.start_s, v.start)) > 2.0
                        for r in music_regions)
        kind = prompts.classify_prompt(text, opts) if text else ("agent" if has_music else "unknown")
        if has_music and kind in ("info", "unknown"):
            kind = "agent"
        if keyed_data:
            kind = "input"  # the caller keyed data here and the IVR took it
        lower = max((pr["end"] - v.start for pr in v.presses if not pr["accepted"] and pr["time"] >= v.start - 0.05), default=None)
        upper = min((pr["time"] - v.start for pr in v.presses if pr["accepted"]), default=None)
        cta = prompts.first_call_to_action(vw)
        est = (cta - v.start) if cta is not None else None
        if est is None and kind in ("menu", "input"):
            est = 0.0
        if est is not None:
            if lower is not None:
                est = max(est, lower)
            if upper is not None:
                est = min(est, upper)
        elif lower is not None or upper is not None:
            est = upper if upper is not None else lower
        menus.append({
            "path": v.path,
            "kind": kind,
            "start": _r(v.start),
            "end": _r(v.end),
            "prompt": text,
            "listen_after": _r(max(0.0, est) if est is not None else None),
            "listen_bounds": [_r(lower), _r(upper)],
            "options": [
                {"key": o.key, "label": o.label, "start": _r(o.start_s), "end": _r(o.end_s), "role": o.role}
                for o in opts
            ],
            "entry": entry,
            "via": v.via,
            "presses": v.presses,
            "keyed": v.keyed or None,
        })

    # -- events --------------------------------------------------------------------
    events: list[dict] = []
    for t in sig.tones:
        events.append({"type": "tone", "name": t.name, "start": _r(t.start_s), "end": _r(t.end_s)})
    for r in sig.regions:
        if r.kind == "speech":
            rw = _words_in(words, r.start_s, r.end_s)
            events.append({
                "type": "speech", "start": _r(r.start_s), "end": _r(r.end_s),
                "text": " ".join(w.word for w in rw).strip(),
                "words": [{"word": w.word, "start": _r(w.start_s), "end": _r(w.end_s), "conf": _r(w.conf, 3)} for w in rw],
            })
        elif r.kind == "music":
            events.append({"type": "music", "start": _r(r.start_s), "end": _r(r.end_s)})
        elif r.kind == "silence" and r.end_s - r.start_s >= 0.5:
            events.append({"type": "silence", "start": _r(r.start_s), "end": _r(r.end_s)})
    for p, acc in zip(presses, accepted_flags):
        events.append({"type": "dtmf", "key": p.key, "start": _r(p.start_s), "end": _r(p.end_s),
                       "level_db": _r(p.level_db, 1), "accepted": acc})
    events.sort(key=lambda e: (e["start"], e["end"]))

    tl = {
        "schema": SCHEMA,
        "file": file,
        "sha256": sha256,
        "duration": _r(duration_s),
        "answer": _r(sig.answer_s),
        "greeting_onset": _r(onset),
        "stop_latency": _r(measured_stop_latency(classified)),
        "events": events,
        "menus": menus,
    }
    # opening hours, holds and a closed-hours greeting (discovery/service.py)
    return service.annotate(tl, words)


def analyse_call(
    path: str | os.PathLike,
    engine: Engine | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> dict:
    """Decode, detect, transcribe and walk one call; returns the timeline dict.

    ``engine`` defaults to ``make_engine("auto")``. ``on_stage`` is called with a
    stage name ("decode", "signal", "transcribe", "parse") for progress display.
    """
    from .asr import make_engine

    stage = on_stage or (lambda _s: None)
    p = Path(path)
    stage("decode")
    y, sr = audio_io.load(p, sr=audio_io.PHONE_SR)
    stage("signal")
    sig = analyse_signal(y, sr)
    speech = [(r.start_s, r.end_s) for r in sig.regions if r.kind == "speech"]
    stage("transcribe")
    eng = engine if engine is not None else make_engine("auto")
    utterances = eng.transcribe(y, sr, speech) if speech else []
    stage("parse")
    return build_timeline(p.name, len(y) / sr, sig, utterances, sha256=audio_io.sha256(p))
