"""A few numbers that tell one voice from another in the same call.

A hold announcement is the IVR's own recording, in the voice of its menus; a person
who answers speaks in another voice. Within one call the channel (codec, line,
level) is the same for both, so two plain statistics of a stretch of speech compare
well without a model:

- ``pitch_hz``: the median fundamental frequency of its voiced frames
  (autocorrelation, 60-400 Hz); voices of different speakers sit apart by a few
  semitones, a speaker's sentences by less;
- ``mfcc``: the mean mel-cepstrum (coefficients 1-12: spectral envelope, the
  vocal tract's shape; coefficient 0, the level, is left out, so a louder agent leg
  is not "another voice"), over its loud frames.

``voice_distance`` combines them; ``discovery.holds`` compares a candidate after the
hold with the prompts the IVR played before it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.fft import dct

from .vocab import PHONE_SR as SR
from .vocab import mel_points_hz

#: 32 ms frames every 10 ms: a few pitch periods of the lowest voice.
FRAME = 256
HOP = 80
#: Mel bands over the telephone band.
N_MELS = 24
FMIN_HZ, FMAX_HZ = 200.0, 3400.0
N_MFCC = 13
#: Frames within this of the stretch's loudest carry the voice (not its pauses).
LOUD_RANGE_DB = 25.0
#: Pitch search range (low male to high female/child voices) and the normalised
#: autocorrelation a frame needs to count as voiced.
PITCH_MIN_HZ, PITCH_MAX_HZ = 60.0, 400.0
VOICED_CORR = 0.5
#: Fewer voiced frames than this (0.2 s) give no pitch.
MIN_VOICED_FRAMES = 20


@dataclass(frozen=True)
class VoiceStats:
    """Voice statistics of one stretch of speech (module docstring)."""

    pitch_hz: float | None
    mfcc: tuple[float, ...]


def _frames(y: np.ndarray) -> np.ndarray:
    if len(y) < FRAME:
        y = np.pad(y, (0, FRAME - len(y)))
    return np.lib.stride_tricks.sliding_window_view(y, FRAME)[::HOP].astype(np.float64)


def _mel_matrix(n_fft: int = FRAME) -> np.ndarray:
    """Triangular mel filters (N_MELS x n_fft//2+1) between FMIN_HZ and FMAX_HZ."""
    edges = mel_points_hz(FMIN_HZ, FMAX_HZ, N_MELS + 2)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / SR)
    m = np.zeros((N_MELS, len(freqs)))
    for k in range(N_MELS):
        lo, c, hi = edges[k:k + 3]
        m[k] = np.clip(np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c)), 0.0, None)
    return m


def _pitch(frames: np.ndarray) -> float | None:
    """Median F0 (Hz) of the voiced frames, by normalised autocorrelation."""
    f0 = _voiced_f0(frames)
    if len(f0) < MIN_VOICED_FRAMES:
        return None
    return float(np.median(f0))


def _voiced_f0(frames: np.ndarray) -> np.ndarray:
    """F0 (Hz) of each voiced frame (normalised autocorrelation peak >= VOICED_CORR)."""
    x = frames - frames.mean(axis=1, keepdims=True)
    spec = np.fft.rfft(x, n=2 * FRAME, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :FRAME]
    ac = ac / np.maximum(ac[:, :1], 1e-12)
    lo, hi = int(SR / PITCH_MAX_HZ), int(SR / PITCH_MIN_HZ)
    lag = lo + np.argmax(ac[:, lo:hi], axis=1)
    peak = ac[np.arange(len(ac)), lag]
    return SR / lag[peak >= VOICED_CORR]


#: A steady voice: at least this share of the loud frames voiced (music's percussive
#: passages that score like speech: 0.1-0.3; flite slt 0.55-0.6), their pitch's
#: interquartile range within STEADY_IQR_SEMITONES (slt ~0.7; the hold music's
#: melodies 3.5-7.5), the median in a speaking voice's range.
STEADY_VOICED_SHARE = 0.4
STEADY_IQR_SEMITONES = 1.5
SPEAKING_HZ = (70.0, 300.0)


def steady_pitch(y8: np.ndarray, start_s: float, end_s: float) -> bool:
    """Whether ``y8`` (8 kHz) between ``start_s`` and ``end_s`` carries one steady
    voiced pitch in the speaking range (a monotone synthetic voice; see the
    constants' measurements)."""
    fr = _frames(y8[max(0, int(start_s * SR)):max(0, int(end_s * SR))])
    e_db = 10 * np.log10(np.mean(fr ** 2, axis=1) + 1e-12)
    loud = fr[e_db > e_db.max() - LOUD_RANGE_DB]
    f0 = _voiced_f0(loud)
    if len(f0) < MIN_VOICED_FRAMES or len(f0) < STEADY_VOICED_SHARE * len(loud):
        return False
    q1, med, q3 = np.percentile(f0, [25, 50, 75])
    return SPEAKING_HZ[0] <= med <= SPEAKING_HZ[1] and 12 * np.log2(q3 / q1) <= STEADY_IQR_SEMITONES


def voice_stats(y8: np.ndarray, start_s: float, end_s: float) -> VoiceStats:
    """:class:`VoiceStats` of ``y8`` (8 kHz samples) between ``start_s`` and ``end_s``."""
    seg = y8[max(0, int(start_s * SR)):max(0, int(end_s * SR))]
    fr = _frames(seg)
    e_db = 10 * np.log10(np.mean(fr ** 2, axis=1) + 1e-12)
    loud = fr[e_db > e_db.max() - LOUD_RANGE_DB]
    power = np.abs(np.fft.rfft(loud * np.hanning(FRAME), axis=1)) ** 2
    logmel = np.log(power @ _mel_matrix().T + 1e-10)
    mfcc = dct(logmel, type=2, norm="ortho", axis=1)[:, 1:N_MFCC].mean(axis=0)
    return VoiceStats(_pitch(loud), tuple(round(float(c), 2) for c in mfcc))


#: Weight of one octave of pitch difference against the cepstral distance (the
#: Euclidean distance of the mean MFCCs 1-12; ~1-2 between sentences of one voice,
#: ~3-6 between voices, on the simulator's TTS voices through mu-law).
PITCH_OCTAVE_WEIGHT = 6.0


def voice_distance(a: VoiceStats, b: VoiceStats) -> float:
    """How far apart two stretches' voices are (0 = the same statistics)."""
    d = float(np.linalg.norm(np.subtract(a.mfcc, b.mfcc)))
    if a.pitch_hz and b.pitch_hz:
        d += PITCH_OCTAVE_WEIGHT * abs(np.log2(a.pitch_hz / b.pitch_hz))
    return d
