"""Does ``textsim.greeting_similarity`` tell one company's root prompts from another's?

Root prompts: each corpus company's true tree (``--corpus DIR``, made by
``recordings/simulate.py corpus``), the fixture companies' and the recorded companies'
true trees, and the root prompts heard in the committed timelines (recognizer output:
cut short by early presses, greetings lost or misheard). Prints, over all pairs, the
lowest score of two prompts of one company and the highest of two companies, with the
pairs, for the chosen score and two alternatives.

    python benchmarks/greeting_similarity.py --corpus /work/corpus
"""
from __future__ import annotations

import argparse
import json
from itertools import combinations
from pathlib import Path

from rapidfuzz import fuzz

from ivrkit.trees import textsim

ROOT = Path(__file__).resolve().parents[1]


def root_prompts(corpus: Path | None) -> dict[str, str]:
    """name -> root prompt; names are ``company`` or ``company/callNN`` (heard)."""
    trees = sorted((ROOT / "tests" / "fixtures" / "calls").glob("*/tree.json"))
    trees += sorted((ROOT / "recordings").glob("*/tree.json"))
    if corpus:
        trees += sorted(corpus.glob("*/tree.json"))
    out = {}
    for t in trees:
        d = json.loads(t.read_text())
        out[t.parent.name] = next(n for n in d["nodes"] if n["id"] == "root").get("prompt") or ""
    for t in sorted((ROOT / "tests" / "fixtures" / "trees").glob("*/call*.timeline.json")):
        tl = json.loads(t.read_text())
        heard = [m["prompt"] for m in tl["menus"] if m["path"] == [] and m.get("prompt")]
        if heard:
            out[f"{t.parent.name}/{t.name[:6]}"] = heard[0]
    return out


def company(name: str) -> str:
    return name.split("/")[0].removesuffix("-v2")  # a menu change is the same company


SCORES = {
    "greeting_similarity (chosen)": textsim.greeting_similarity,
    "whole-prompt ratio": lambda a, b: fuzz.ratio(textsim.normalize(a), textsim.normalize(b)),
    "token_set_ratio": lambda a, b: fuzz.token_set_ratio(textsim.normalize(a), textsim.normalize(b)),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=None)
    args = ap.parse_args()
    prompts = root_prompts(args.corpus)
    companies = {company(n) for n in prompts}
    print(f"{len(prompts)} root prompts of {len(companies)} companies; threshold "
          f"SAME_GREETING_RATIO = {textsim.SAME_GREETING_RATIO:.0f}")
    for label, score in SCORES.items():
        same, other = [], []
        for a, b in combinations(sorted(prompts), 2):
            (same if company(a) == company(b) else other).append((score(prompts[a], prompts[b]), a, b))
        lo, hi = min(same), max(other)
        print(f"{label:30s} same company min {lo[0]:5.1f} ({lo[1]} ~ {lo[2]}); "
              f"other companies max {hi[0]:5.1f} ({hi[1]} ~ {hi[2]})")


if __name__ == "__main__":
    main()
