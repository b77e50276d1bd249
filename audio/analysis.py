"""One pass of every detector over a call: what the timeline is built from."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .dtmf import detect_dtmf, merge_presses
from .io import ivr_side
from .events import DtmfPress, Region, Tone
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


def analyse(y: np.ndarray, sr: int) -> SignalAnalysis:
    """DTMF presses, call-progress tones and speech/music/silence regions of ``y``.

    The signal is brought to 8 kHz once; presses and tones are excluded from speech
    (they come out as silence in ``regions``).
    """
    y8 = to_phone_rate(y, sr)
    presses = detect_dtmf(y8, SR)
    tones = detect_tones(y8, SR)
    exclude = [(p.start_s - PRESS_MARGIN_S, p.end_s + PRESS_MARGIN_S) for p in presses]
    exclude += [(t.start_s, t.end_s) for t in tones]
    regions = segment(y8, SR, exclude=exclude)
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
    )


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
