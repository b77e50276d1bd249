"""Prompt-parser speed: the English prompt table (tests/data/prompts.tsv) parsed by
this tree's code and, side by side in the same interpreter, by another checkout's
(default /work/baseline, the code before the grammar files). The two are run in
alternation, round after round, and the best round of each is kept, so that load
from other processes on the machine hits both alike.

    python benchmarks/prompt_speed.py [--rounds 20] [--baseline /work/baseline]

Prints milliseconds per pass over the table for parse_options_text, parse_entry and
classify_prompt.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
TABLE = HERE / "tests" / "data" / "prompts.tsv"
FUNCTIONS = ("parse_options_text", "parse_entry", "classify_prompt")


def _load(tree: Path, name: str):
    """The tree's discovery/prompts.py as module ``name.prompts`` (its own package, so
    both trees live in one interpreter)."""
    pkg = types.ModuleType(name)
    pkg.__path__ = [str(tree / "discovery")]
    sys.modules[name] = pkg
    return importlib.import_module(f"{name}.prompts")


def _texts() -> list[str]:
    rows = [ln.split("\t") for ln in TABLE.read_text(encoding="utf-8").splitlines()
            if ln and not ln.startswith("#")]
    return [r[1] for r in rows[1:]]


def _pass_s(fn, texts) -> float:
    """CPU seconds of one pass (process time: the other processes on a shared
    machine do not count)."""
    t0 = time.process_time()
    for t in texts:
        fn(t)
    return time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--baseline", type=Path, default=Path("/work/baseline"))
    a = ap.parse_args()
    mods = {"baseline": _load(a.baseline, "_bench_old"), "this tree": _load(HERE, "_bench_new")}
    texts = _texts()
    print(f"English prompt table: {len(texts)} sentences; best of {a.rounds} alternating passes (CPU ms per pass)")
    print(f"{'function':22s} {'baseline':>10s} {'this tree':>10s} {'ratio':>7s}")
    for name in FUNCTIONS:
        best = {k: float("inf") for k in mods}
        for k, m in mods.items():
            _pass_s(getattr(m, name), texts)  # warm up: grammar load, regex cache
        for _ in range(a.rounds):
            for k, m in mods.items():
                best[k] = min(best[k], _pass_s(getattr(m, name), texts))
        old, new = best["baseline"], best["this tree"]
        print(f"{name:22s} {old * 1e3:10.1f} {new * 1e3:10.1f} {new / old:7.2f}")


if __name__ == "__main__":
    main()
