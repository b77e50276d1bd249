"""Prompt-grammar accuracy per language: the sentence tables (tests/data/prompts.tsv
for English, prompts_<lang>.tsv for the others) and the held-out sentences
(prompts_holdout.tsv, never used to tune the grammars).

    python benchmarks/prompt_tables.py

Per table: rows whose options, entry token and kind all match; option precision and
recall (an option counts when key, label and role match; "keys" counts the key
alone); entry-token precision and recall; kind accuracy.
"""
from __future__ import annotations

from pathlib import Path

from ivrkit.discovery.prompts import classify_prompt, parse_entry, parse_options_text

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def _read(path: Path) -> list[dict]:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    header = lines[0].split("\t")
    return [dict(zip(header, ln.split("\t"))) for ln in lines[1:]]


def _opts(cell: str) -> set[tuple[str, str, str]]:
    if cell == "-":
        return set()
    out = set()
    for part in cell.split("; "):
        key, rest = part.split("=", 1)
        label, _, role = rest.partition("@")
        out.add((key, label, role or "option"))
    return out


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "  -  "


def score(rows: list[dict], lang: str) -> dict:
    c = dict(rows=len(rows), ok=0, tp=0, fp=0, fn=0, ktp=0, kfp=0, kfn=0, etp=0, efp=0, efn=0, kind=0)
    for r in rows:
        opts = parse_options_text(r["text"], lang)
        got = {(o.key, o.label, o.role) for o in opts}
        want = _opts(r["options"])
        c["tp"] += len(got & want); c["fp"] += len(got - want); c["fn"] += len(want - got)
        gk, wk = {k for k, _, _ in got}, {k for k, _, _ in want}
        c["ktp"] += len(gk & wk); c["kfp"] += len(gk - wk); c["kfn"] += len(wk - gk)
        e = parse_entry(r["text"], lang=lang) or "-"
        c["etp"] += e == r["entry"] != "-"
        c["efp"] += e != "-" and e != r["entry"]
        c["efn"] += r["entry"] != "-" and e != r["entry"]
        k = classify_prompt(r["text"], opts, lang=lang)
        c["kind"] += k == r["kind"]
        c["ok"] += got == want and e == r["entry"] and k == r["kind"]
    return c


def _line(name: str, c: dict) -> str:
    return (f"{name:14s} {c['ok']:4d}/{c['rows']:<4d} "
            f"{_ratio(c['tp'], c['tp'] + c['fp']):>7s} {_ratio(c['tp'], c['tp'] + c['fn']):>7s} "
            f"{_ratio(c['ktp'], c['ktp'] + c['kfp']):>7s} {_ratio(c['ktp'], c['ktp'] + c['kfn']):>7s} "
            f"{_ratio(c['etp'], c['etp'] + c['efp']):>7s} {_ratio(c['etp'], c['etp'] + c['efn']):>7s} "
            f"{_ratio(c['kind'], c['rows']):>7s}")


def main() -> None:
    print(f"{'table':14s} {'rows ok':>9s} {'opt P':>7s} {'opt R':>7s} {'key P':>7s} {'key R':>7s} "
          f"{'ent P':>7s} {'ent R':>7s} {'kind':>7s}")
    tables = [("en", DATA / "prompts.tsv")] + [(p.stem.split("_")[1], p) for p in sorted(DATA.glob("prompts_*.tsv"))
                                                if p.stem != "prompts_holdout"]
    for lang, path in tables:
        print(_line(lang, score(_read(path), lang)))
    hold = _read(DATA / "prompts_holdout.tsv")
    for lang in dict.fromkeys(r["lang"] for r in hold):
        print(_line(f"{lang} held-out", score([r for r in hold if r["lang"] == lang], lang)))


if __name__ == "__main__":
    main()
