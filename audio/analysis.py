"""One pass of every detector over a call: what the timeline is built from."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .dtmf import detect_dtmf, merge_presses
from .io import ivr_side
from .events import DtmfPress, Region, Tone
from .holdspeech import relabel, speech_in_music
from .voice import VoiceStats, voice_stats
from .segment import answer_time, greeting_onset, segment
from .tones import detect_tones
from .vocab import PHONE_SR as SR
from .vocab import to_phone_rate

#: Presses are excluded from speech with this margin (s) either side: the
#: envelope edges are exact, but a codec's ringing around a press is not speech.
PRESS_MARGIN_S = 0.01


@dataclass(frozen=True)
class SignalAnalysis:
    """Everything ``ivrkit.audio`` finds in one call recording."""

    presses: tuple[DtmfPress, ...]
    tones: tuple[Tone, ...]
    regions: tuple[Region, ...]
    greeting_onset_s: float | None
    answer_s: float          # end of the last ringback burst before the greeting, else 0.0
    duration_s: float
    #: (start_s, end_s, VoiceStats) of each speech region (``voice.voice_stats``)
    voices: tuple[tuple[float, float, VoiceStats], ...] = ()


def analyse(y: np.ndarray, sr: int) -> SignalAnalysis:
    """DTMF presses, call-progress tones and speech/music/silence regions of ``y``.

    The signal is brought to 8 kHz once; presses and tones are excluded from speech
    (they come out as silence in ``regions``); speech inside the music after the
    first prompt is found against the call's own music (``holdspeech``).
    """
    y8 = to_phone_rate(y, sr)
    presses = detect_dtmf(y8, SR)
    tones = detect_tones(y8, SR)
    exclude = [(p.start_s - PRESS_MARGIN_S, p.end_s + PRESS_MARGIN_S) for p in presses]
    exclude += [(t.start_s, t.end_s) for t in tones]
    regions = segment(y8, SR, exclude=exclude)
    # a voice the fixed speech/music rule took for music, found against the call's
    # own hold music (audio/holdspeech.py)
    regions = relabel(regions, speech_in_music(y8, SR, regions))
    onset = greeting_onset(regions, tones)
    # greeting_onset() places the answer the same way; without a greeting the
    # call may still have been answered (into music): the last ringback ends it
    first = [Region("speech", onset, onset)] if onset is not None else []
    answer = answer_time(first, tones)
    return SignalAnalysis(
        presses=tuple(presses),
        tones=tuple(tones),
        regions=tuple(regions),
        greeting_onset_s=onset,
        answer_s=float(answer),
        duration_s=len(y8) / SR,
        voices=speech_voices(y8, regions),
    )


#: Speech regions shorter than this get no voice statistics (too few frames).
MIN_VOICE_S = 0.3


def speech_voices(y8: np.ndarray, regions) -> tuple[tuple[float, float, VoiceStats], ...]:
    """``(start_s, end_s, VoiceStats)`` of each speech region of ``y8`` (8 kHz)."""
    return tuple((r.start_s, r.end_s, voice_stats(y8, r.start_s, r.end_s)) for r in regions
                 if r.kind == "speech" and r.duration_s >= MIN_VOICE_S)


def analyse_sides(y: np.ndarray, sr: int) -> SignalAnalysis:
    """``analyse`` for a recording of shape ``(channels, n)``.

    A two-sided recording (one side per channel, ``io.ivr_side``) is analysed on the
    IVR's side, so the caller's voice never becomes prompt speech; key tones are
    taken from both sides (a phone's keys are on the caller's side, an IVR's
    recorder may mix them into its own). Anything else is analysed as its mono mix.
    """
    side = ivr_side(y, sr) if y.ndim == 2 else None
    if side is None:
        return analyse(ivr_audio(y, sr), sr)
    sig = analyse(y[side], sr)
    near = detect_dtmf(to_phone_rate(y[1 - side], sr), SR)
    return replace(sig, presses=tuple(merge_presses(sig.presses, near)))


def ivr_audio(y: np.ndarray, sr: int) -> np.ndarray:
    """The IVR's side of a two-sided recording, else the mono mix (what speech
    recognition hears)."""
    if y.ndim == 1:
        return y
    side = ivr_side(y, sr)
    return y.mean(axis=0) if side is None else y[side]


#: Recordings longer than this are analysed in pieces (bounded memory: the segmenter's
#: spectra of a 47-minute call took ~600 MB at once). 5 minutes of 8 kHz audio is
#: 10 MB of samples and ~60 MB of frame spectra.
CHUNK_S = 300.0
#: Each piece is analysed with this much audio either side, and keeps only the events
#: that start in its own span: longer than a ringback cadence (6 s), the segmenter's
#: smoothing (~2 s) and its speech/music windows, so nothing is cut at a seam.
OVERLAP_S = 20.0


def _shifted(sig: SignalAnalysis, t0: float, own0: float, own1: float):
    """A window's presses / tones starting in [own0, own1) and its regions clipped to
    it, in file time (``t0`` = the window's start)."""
    presses = [DtmfPress(p.key, p.start_s + t0, p.end_s + t0, p.level_db) for p in sig.presses
               if own0 <= p.start_s + t0 < own1]
    tones = [Tone(t.name, t.start_s + t0, t.end_s + t0) for t in sig.tones if own0 <= t.start_s + t0 < own1]
    regions = [Region(r.kind, max(own0, r.start_s + t0), min(own1, r.end_s + t0)) for r in sig.regions
               if r.end_s + t0 > own0 and r.start_s + t0 < own1]
    voices = [(a + t0, b + t0, v) for a, b, v in sig.voices if own0 <= a + t0 < own1]
    return presses, tones, [r for r in regions if r.end_s > r.start_s], voices


def _stitch(regions: list[Region]) -> list[Region]:
    """Regions of neighbouring pieces that meet at a seam and are of one kind: one region."""
    out: list[Region] = []
    for r in regions:
        if out and out[-1].kind == r.kind and abs(out[-1].end_s - r.start_s) < 1e-6:
            out[-1] = Region(r.kind, out[-1].start_s, r.end_s)
        else:
            out.append(r)
    return out


def _windows(blocks, sr: int, chunk_s: float, overlap_s: float):
    """(window samples, window start s, own start s, own end s) over a block stream;
    at most one window (chunk + 2 overlaps) of samples is held."""
    chunk, over = int(chunk_s * sr), int(overlap_s * sr)
    buf = np.zeros(0, np.float32)
    buf0 = 0          # file sample index of buf[0]
    own0 = 0          # start of the next piece's own span
    done = False
    it = iter(blocks)
    while not done:
        while len(buf) + buf0 < own0 + chunk + over:
            b = next(it, None)
            if b is None:
                done = True
                break
            buf = np.concatenate([buf, b])
        end = buf0 + len(buf)
        own1 = end if done else own0 + chunk
        if own1 <= own0:
            break
        yield buf, buf0 / sr, own0 / sr, own1 / sr
        own0 = own1
        cut = max(0, own0 - over - buf0)
        buf, buf0 = buf[cut:].copy(), buf0 + cut


def analyse_stream(blocks, sr: int = SR, chunk_s: float = CHUNK_S, overlap_s: float = OVERLAP_S) -> SignalAnalysis:
    """``analyse`` over a stream of 8 kHz blocks (``ivrkit.audio.io.stream``), piece by
    piece (see ``CHUNK_S``), in memory bounded by one piece.

    A recording no longer than ``chunk_s`` + ``overlap_s`` is one piece: exactly
    ``analyse`` of the whole. Longer ones are cut into ``chunk_s`` pieces, each analysed
    with ``overlap_s`` either side; events are kept by the piece they start in and
    regions meeting at a seam are joined.
    """
    if sr != SR:
        raise ValueError(f"analyse_stream reads {SR} Hz blocks (ivrkit.audio.io.stream(path, sr={SR}))")
    presses, tones, regions, voices, n = [], [], [], [], 0
    for y, t0, own0, own1 in _windows(blocks, sr, chunk_s, overlap_s):
        if own0 == 0.0 and own1 == t0 + len(y) / sr:
            return analyse(y, sr)   # the whole recording fits in one piece
        p, t, r, v = _shifted(analyse(y, sr), t0, own0, own1)
        presses += p
        tones += t
        regions += r
        voices += v
        n = max(n, int(round(own1 * sr)))
    regions = _stitch(regions)
    onset = greeting_onset(regions, tones)
    first = [Region("speech", onset, onset)] if onset is not None else []
    return SignalAnalysis(presses=tuple(presses), tones=tuple(tones), regions=tuple(regions),
                          greeting_onset_s=onset, answer_s=float(answer_time(first, tones)),
                          duration_s=n / SR, voices=tuple(voices))
