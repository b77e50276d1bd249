"""`map` with its calls analysed one at a time and N at a time: same timelines? how fast?

    python benchmarks/map_jobs.py [--corpus /work/corpus] [--only COMPANY ...]
                                  [--configs 1:2 2:2] [--dump DIR]

One process, the recognizer's model built once per configuration (first a warm-up
call). A configuration ``JOBS:THREADS`` is ``pipeline.analyse_calls(calls, engine,
jobs=JOBS)`` with ``WhisperEngine(cpu_threads=THREADS)``: ``1:2`` is the serial run
(one CTranslate2 worker of 2 threads, what `discover map --jobs 1` does), ``2:2`` two
calls at once (2 workers of 1 thread, the default on 2 cores), ``2:4`` two workers of 2
threads. Each company is mapped once per configuration, the order turned round from
one company to the next. Per company and configuration it prints wall seconds, CPU
seconds (all threads + ffmpeg) per audio second, cores used (CPU / wall) and how many
calls' timelines differ from the first configuration's (the whole timeline JSON:
words, times, confidences, keys, menus) and how many words. ``--dump DIR`` writes
each configuration's words per call (``DIR/JOBS-THREADS/COMPANY/CALL.txt``, one word
``start end conf`` a line) for ``diff -r``.
"""
from __future__ import annotations

import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from map_speed import _cpu_s  # noqa: E402  (this process's and its children's CPU seconds)


def _words(tl: dict) -> list[str]:
    """One line per word of a timeline, in file time (``word start end conf``)."""
    out = []
    for e in tl.get("events") or []:
        for w in e.get("words") or []:
            out.append(f"{w.get('word')} {w.get('start')} {w.get('end')} {w.get('conf')}")
    return out


def _run(calls, engine, jobs):
    from ivrkit.discovery.pipeline import analyse_calls

    t0, c0 = time.perf_counter(), _cpu_s()
    tls = analyse_calls(calls, engine, jobs=jobs)
    return tls, time.perf_counter() - t0, _cpu_s() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default="/work/corpus")
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--configs", nargs="+", default=["1:2", "2:2"], metavar="JOBS:THREADS")
    ap.add_argument("--dump", default=None, metavar="DIR")
    a = ap.parse_args()
    from ivrkit.audio.io import probe_duration
    from ivrkit.discovery.asr import WhisperEngine

    configs = [tuple(int(x) for x in c.split(":")) for c in a.configs]
    from ivrkit.discovery import asr

    # every configuration's model kept loaded (the recognizer keeps 2): none reloaded mid-run
    asr._load_whisper_model = functools.lru_cache(maxsize=len(configs) + 1)(asr._load_whisper_model.__wrapped__)
    engines = {c: WhisperEngine(cpu_threads=c[1]) for c in configs}
    warm = [str(ROOT / "tests" / "fixtures" / "calls" / "contoso" / f"call0{i}.wav") for i in (1, 2)]
    for c, e in engines.items():
        _run(warm, e, c[0])  # model built, imports done: not counted
    comps = sorted(d for d in Path(a.corpus).iterdir() if d.is_dir() and list(d.glob("call*.wav")))
    if a.only:
        comps = [d for d in comps if d.name in a.only]
    if not comps:
        sys.exit(f"{a.corpus}: no company folders with call*.wav")
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print(f"{'company':22} {'audio s':>8} " + " ".join(f"{f'{j}:{t} s':>8} {'CPU/s':>7} {'cores':>5}"
                                                   for j, t in configs) + "  calls differ  words differ  load")
    total = {c: [0.0, 0.0] for c in configs}
    audio_all, calls_differ, words_differ, n_calls, n_words = 0.0, 0, 0, 0, 0
    for k, d in enumerate(comps):
        calls = [str(p) for p in sorted(d.glob("call*.wav"))]
        audio = sum(probe_duration(c) for c in calls)
        got = {}
        for c in (configs if k % 2 == 0 else configs[::-1]):
            got[c] = _run(calls, engines[c], c[0])
        ref = got[configs[0]][0]
        diff_calls = diff_words = 0
        for c in configs[1:]:
            for t0, t1 in zip(ref, got[c][0]):
                same = json.dumps(t0, sort_keys=True) == json.dumps(t1, sort_keys=True)
                diff_calls += not same
                w0, w1 = _words(t0), _words(t1)
                diff_words += sum(x != y for x, y in zip(w0, w1)) + abs(len(w0) - len(w1))
        n_calls += len(calls) * (len(configs) - 1)
        n_words += sum(len(_words(t)) for t in ref) * (len(configs) - 1)
        calls_differ += diff_calls
        words_differ += diff_words
        audio_all += audio
        for c in configs:
            total[c][0] += got[c][1]
            total[c][1] += got[c][2]
            if a.dump:
                for tl in got[c][0]:
                    out = Path(a.dump) / f"{c[0]}-{c[1]}" / d.name / (Path(tl["file"]).stem + ".txt")
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_text("\n".join(_words(tl)) + "\n")
        print(f"{d.name:22} {audio:8.1f} " + " ".join(
            f"{got[c][1]:8.1f} {got[c][2] / audio:7.4f} {got[c][2] / got[c][1]:5.2f}" for c in configs)
            + f"  {diff_calls:5d}/{len(calls) * (len(configs) - 1):<3d}  {diff_words:6d}  "
              f"{os.getloadavg()[0]:5.1f}", flush=True)
    print(f"\ntotal: {len(comps)} companies, {audio_all:.0f} s of audio")
    for c in configs:
        wall, cpu = total[c]
        print(f"  jobs {c[0]}, cpu_threads {c[1]}: {wall:.1f} s (RTF {wall / audio_all:.4f}, "
              f"{audio_all / wall:.0f}x real time), CPU per audio s {cpu / audio_all:.4f}, cores used {cpu / wall:.2f}"
              + (f", wall ratio to {configs[0][0]}:{configs[0][1]} {total[configs[0]][0] / wall:.2f}x"
                 if c != configs[0] else ""))
    print(f"  timelines differing from {configs[0][0]}:{configs[0][1]}: {calls_differ} of {n_calls} calls, "
          f"{words_differ} of {n_words} words")
    print(f"  peak memory of this process (all configurations' models): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
