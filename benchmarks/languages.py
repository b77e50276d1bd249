"""Speed of recognition in several languages, side by side with the code before it.

    python benchmarks/languages.py --english corpus/acme-bank/call0[1-4].wav \\
        --baseline /work/baseline --multilingual corpus-ml/*/call0[1-3].wav --lang en,es,fr,ru

English calls: the whole timeline (decode, signal, recognition, parse) with this
checkout's default engine, with ``--lang en``, and with the checkout at ``--baseline``
(its own venv), in alternating rounds so that the load of a shared machine falls on
all alike. Multilingual calls: the same with ``--lang`` under each strategy of
``MultilingualEngine`` (english-first, identify, multilingual), and tiny.en alone for
reference. Each worker loads its models before the clock starts. Prints the real-time
factor (analysis seconds / audio seconds) per variant and round.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def _engine(mode: str, lang: str | None):
    from ivrkit.discovery.asr import make_engine

    if mode == "default":
        return make_engine("auto")
    if mode == "lang-en":
        return make_engine("auto", languages=("en",))
    from ivrkit.discovery.asr import MultilingualEngine

    return MultilingualEngine(tuple(lang.split(",")), strategy=mode)


def worker(mode: str, lang: str | None, calls: list[str]) -> dict:
    """Analyse ``calls`` in this process; returns seconds of analysis and of audio."""
    from ivrkit.audio import load

    from ivrkit.discovery.timeline import analyse_call

    eng = _engine(mode, lang)
    # models load outside the clock: a short prompt of real speech warms every engine
    y, sr = load(calls[0], sr=8000)
    eng.transcribe(y[: sr * 6], sr, [(0.5, 5.5)])
    el = dur = 0.0
    for c in calls:
        t0 = time.perf_counter()
        tl = analyse_call(c, eng)
        el += time.perf_counter() - t0
        dur += tl["duration"]
    return {"mode": mode, "elapsed": el, "audio": dur, "rtf": el / dur}


def _run(python: str, cwd: str, mode: str, lang: str | None, calls: list[str]) -> dict:
    cmd = [python, str(Path(__file__).resolve()), "--worker", mode] + (["--lang", lang] if lang else []) + calls
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--english", nargs="*", default=[], metavar="CALL")
    ap.add_argument("--multilingual", nargs="*", default=[], metavar="CALL")
    ap.add_argument("--lang", default="en,es,fr,ru")
    ap.add_argument("--baseline", type=Path, help="a checkout of the code before, with its .venv")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--strategies", default="english-first,identify,multilingual")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a, rest = ap.parse_known_args(argv)
    if a.worker:
        print(json.dumps(worker(a.worker, a.lang, rest)))
        return 0
    here = str(Path(__file__).resolve().parent.parent)
    variants = []
    if a.english:
        variants += [("English calls", "this checkout", sys.executable, here, "default", None, a.english),
                     ("English calls", "this checkout --lang en", sys.executable, here, "lang-en", None, a.english)]
        if a.baseline:
            variants.append(("English calls", f"baseline {a.baseline}", str(a.baseline / ".venv" / "bin" / "python"),
                             str(a.baseline), "default", None, a.english))
    if a.multilingual:
        variants.append(("multilingual calls", "tiny.en alone (no --lang)", sys.executable, here, "default", None,
                         a.multilingual))
        variants += [("multilingual calls", f"--lang {a.lang} ({s})", sys.executable, here, s, a.lang, a.multilingual)
                     for s in a.strategies.split(",")]
    rtf: dict[tuple, list[float]] = {}
    for r in range(a.rounds):
        order = variants if r % 2 == 0 else variants[::-1]
        for group, name, py, cwd, mode, lang, calls in order:
            res = _run(py, cwd, mode, lang, calls)
            rtf.setdefault((group, name), []).append(res["rtf"])
            print(f"round {r + 1}  {group:18} {name:45} RTF {res['rtf']:.3f} ({res['audio']:.0f} s audio)",
                  file=sys.stderr, flush=True)
    print(f"{'calls':18} {'variant':45} {'RTF per round':>22}  {'mean':>6}  {'x real time':>11}")
    for (group, name), xs in rtf.items():
        m = float(np.mean(xs))
        print(f"{group:18} {name:45} {' '.join(f'{x:.3f}' for x in xs):>22}  {m:6.3f}  {1 / m:10.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
