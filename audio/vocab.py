"""What every detector in ``ivrkit.audio`` shares: the phone rate, the resampler and
[start, end) spans over arrays.

The bottom of the signal layer: numpy (and scipy's resampler, imported on use) only, no other ivrkit module.
(The call records and the tree vocabulary that discovery and trees share live in
``ivrkit.trees.model``, which imports nothing numeric.)
"""
from __future__ import annotations

import math
from typing import Callable, Iterable

import numpy as np

#: Telephone audio is 8 kHz; every detector in ivrkit.audio works at this rate.
PHONE_SR = 8000


def resample(y: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """``y`` at ``target_sr`` (polyphase resampling, float32); unchanged rate: a float32 view."""
    if sr == target_sr:
        return np.asarray(y, dtype=np.float32)
    from scipy.signal import resample_poly  # here: importing ivrkit.audio stays scipy-free

    g = math.gcd(int(sr), int(target_sr))
    return resample_poly(np.asarray(y, dtype=np.float32), int(target_sr) // g, int(sr) // g).astype(np.float32)


def to_phone_rate(y: np.ndarray, sr: int) -> np.ndarray:
    """Mono float32 at 8 kHz (polyphase resampling), with NaN/inf cleaned."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim > 1:
        y = y.mean(axis=0) if y.shape[0] < y.shape[-1] else y.mean(axis=1)
    if sr != PHONE_SR:
        y = resample(y, sr, PHONE_SR)
    if not np.isfinite(np.dot(y, y)):  # one pass, no temporary: nan/inf poison the sum
        y = np.nan_to_num(y, nan=0.0, posinf=1.0, neginf=-1.0)
    return y


def mask_spans(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` index spans (Python ints) where ``mask`` is True."""
    d = np.diff(np.concatenate([[0], np.asarray(mask).astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def bridge_spans(spans: Iterable[tuple[float, float]],
                 joins: Callable[[float, float], bool]) -> list[list[float]]:
    """Sorted spans with the gaps ``joins(prev_end, next_start)`` accepts closed:
    ``[[start, end], ...]``; a span inside the one before is absorbed (end = the larger)."""
    merged: list[list[float]] = []
    for s, e in spans:
        if merged and joins(merged[-1][1], s):
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return merged


def mel_points_hz(fmin_hz: float, fmax_hz: float, n: int) -> np.ndarray:
    """``n`` frequencies (Hz) from ``fmin_hz`` to ``fmax_hz`` spaced evenly on the mel
    scale (O'Shaughnessy's 2595 log10(1 + f / 700)): band edges of a mel filterbank."""
    mel = 2595.0 * np.log10(1.0 + np.array([fmin_hz, fmax_hz], np.float64) / 700.0)
    return 700.0 * (10.0 ** (np.linspace(mel[0], mel[1], n) / 2595.0) - 1.0)
