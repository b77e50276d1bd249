"""Speed and memory of ivrkit.audio's analysis (DTMF + tones + segmentation).

Builds synthetic calls of the given lengths from the committed fixtures (ringback,
recorded prompts, key presses, hold music, line noise), runs ``analyse`` on one core
(BLAS threads pinned to 1) and prints the real-time factor and the memory it needed
beyond the decoded audio. Each length runs in a fresh process so peak RSS is its own.

Run:  python benchmarks/audio_speed.py [--minutes 10 60]
"""
from __future__ import annotations

import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

FIX = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "audio"
SR = 8000


def synthetic_call(minutes: float, seed: int = 0) -> np.ndarray:
    """Ringback, then prompts with presses over/after them and hold music, repeated."""
    from ivrkit.audio import load

    rng = np.random.default_rng(seed)
    prompts, _ = load(FIX / "prompts_mulaw.wav")
    moh, _ = load(FIX / "moh_mulaw.wav")
    n = int(minutes * 60 * SR)
    y = np.zeros(n, np.float32)
    t = np.arange(2 * SR) / SR
    ring = (0.05 * (np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 480 * t))).astype(np.float32)
    y[: 2 * SR] = ring
    y[6 * SR : 8 * SR] = ring
    pos = 9 * SR
    rows, cols = (697, 770, 852, 941), (1209, 1336, 1477, 1633)
    tp = np.arange(int(0.1 * SR)) / SR
    while pos < n:
        a = int(rng.integers(0, len(prompts) - 20 * SR))
        seg = prompts[a : a + int(rng.integers(5, 20)) * SR]
        if rng.random() < 0.3:
            b = int(rng.integers(0, len(moh) - 30 * SR))
            seg = moh[b : b + 30 * SR]
        k = min(len(seg), n - pos)
        y[pos : pos + k] += seg[:k]
        pos += k + int(0.5 * SR)
        if pos + SR < n:
            key = 0.2 * (np.sin(2 * np.pi * rows[rng.integers(4)] * tp)
                         + np.sin(2 * np.pi * cols[rng.integers(4)] * tp))
            y[pos : pos + len(tp)] += key.astype(np.float32)
            pos += SR
    for a in range(0, n, 60 * SR):
        m = min(n, a + 60 * SR) - a
        y[a : a + m] += rng.normal(0, 10 ** (-55 / 20), m).astype(np.float32)
    return y


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def one(minutes: float) -> None:
    from ivrkit.audio.analysis import analyse

    import tracemalloc

    y = synthetic_call(minutes)
    analyse(y[: 10 * SR], SR)  # warm-up: imports, FFT plans
    t0, c0 = time.perf_counter(), time.process_time()
    res = analyse(y, SR)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    # second run under tracemalloc (numpy reports its buffers to it): the peak of
    # memory allocated by the analysis itself, on top of the decoded audio
    tracemalloc.start()
    analyse(y, SR)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    audio_mb = y.nbytes / 2**20
    # CPU time is what one core spends; wall time also counts other jobs' load
    print(f"{minutes:6.0f} min  cpu {cpu:6.2f} s = {minutes * 60 / cpu:5.0f}x real time  "
          f"(wall {dt:6.2f} s = {minutes * 60 / dt:5.0f}x)  "
          f"audio {audio_mb:6.1f} MB  analysis peak {traced_peak / 2**20:6.1f} MB  "
          f"process peak RSS {peak:6.1f} MB  "
          f"presses {len(res.presses)}  tones {len(res.tones)}  regions {len(res.regions)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[10, 60])
    ap.add_argument("--one", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one is not None:
        one(args.one)
        return 0
    print("one core (BLAS threads = 1); each length in its own process")
    for m in args.minutes:
        subprocess.run([sys.executable, __file__, "--one", str(m)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
