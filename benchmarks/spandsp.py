"""spandsp's DTMF receiver as a baseline (Debian package ``libspandsp-dev``).

``spandsp_dtmf.c`` (beside this file) runs ``dtmf_rx`` over raw 8 kHz audio and
prints when each digit starts and stops being reported; it is compiled with gcc
the first time it is needed, into a cache folder. Like multimon-ng's, spandsp's
times are *report* times (onset + its confirmation delay), listed as a latency.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

HERE = Path(__file__).resolve().parent
SRC = HERE / "spandsp_dtmf.c"
SR = 8000


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "ivrkit-bench"


@lru_cache(maxsize=1)
def harness() -> str | None:
    """Path of the compiled harness, or None (no gcc / no spandsp headers)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        return None
    exe = _cache_dir() / "spandsp_dtmf"
    if exe.exists() and exe.stat().st_mtime >= SRC.stat().st_mtime:
        return str(exe)
    exe.parent.mkdir(parents=True, exist_ok=True)
    try:
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "spandsp"], capture_output=True,
                               text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        flags = ["-lspandsp"]
    r = subprocess.run([gcc, "-O2", "-o", str(exe), str(SRC), *flags], capture_output=True)
    return str(exe) if r.returncode == 0 else None


def available() -> bool:
    return harness() is not None


def decode(y: np.ndarray, sr: int) -> list[dict]:
    """Digits spandsp reports: ``start`` = report time, ``end`` = when it stopped."""
    z = y if sr == SR else resample_poly(y.astype(np.float64), SR // np.gcd(SR, sr), sr // np.gcd(SR, sr))
    raw = (np.clip(z, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    out = subprocess.run([harness()], input=raw, capture_output=True, check=True).stdout.decode()
    presses: list[dict] = []
    for line in out.splitlines():
        pos, key = line.split()
        t = int(pos) / SR
        if key != "-":
            presses.append({"key": key, "start": t, "end": t, "accepted": None})
        elif presses:
            presses[-1]["end"] = t
    return presses
