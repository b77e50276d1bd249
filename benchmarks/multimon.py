"""multimon-ng's DTMF decoder as a baseline (Debian package ``multimon-ng``).

multimon-ng prints ``DTMF: 5`` lines without times. To place each report in the
file we run it on growing prefixes of the call and binary-search the shortest
prefix after which the n-th digit has been reported: that is when multimon-ng
*reports* the digit (onset + its confirmation delay), so its "onset error" is a
report latency, listed as such next to ivrkit's onset error.
"""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
from scipy.signal import resample_poly

#: multimon-ng's demodulators want 22050 Hz signed 16-bit mono raw input.
MULTIMON_SR = 22050


def available() -> bool:
    return shutil.which("multimon-ng") is not None


def to_raw(y: np.ndarray, sr: int) -> bytes:
    g = np.gcd(MULTIMON_SR, sr)
    z = resample_poly(y.astype(np.float64), MULTIMON_SR // g, sr // g)
    return (np.clip(z, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def _digits(raw: bytes) -> list[str]:
    out = subprocess.run(["multimon-ng", "-q", "-c", "-a", "DTMF", "-t", "raw", "-"],
                         input=raw, capture_output=True, check=True).stdout.decode()
    return [ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("DTMF:")]


def decode(y: np.ndarray, sr: int, resolution_s: float = 0.005) -> list[dict]:
    """Digits multimon-ng reports, each with ``start`` = the time it was reported."""
    raw = to_raw(y, sr)
    bps = 2 * MULTIMON_SR  # bytes per second
    digits = _digits(raw)
    out, lo = [], 0
    step = max(2, int(resolution_s * bps) // 2 * 2)
    for n, key in enumerate(digits, 1):
        hi = len(raw)
        while hi - lo > step:
            mid = (lo + hi) // 2 // 2 * 2
            if len(_digits(raw[:mid])) >= n:
                hi = mid
            else:
                lo = mid
        t = hi / bps
        out.append({"key": key, "start": t, "end": t, "accepted": None})
        lo = hi
    return out
