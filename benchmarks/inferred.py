"""Presses inferred in calls whose recording holds no tone (issue 15, item 3).

    python recordings/simulate.py corpus --no-tones-share 0.33 --out corpus-oob/
    python benchmarks/inferred.py --corpus corpus-oob/ --tones corpus/ [--json runs.json]
    python benchmarks/inferred.py --from-json runs.json          # rescore, no audio

``--corpus`` holds calls rendered with some keys out of band (truth
``keys_out_of_band: true``: the audio has no tone); ``--tones`` the same corpus
rendered without the option (the same seeds: the calls with tones are the same
files, the others the same calls with their tones). Each call is analysed once
(``pipeline.analyse_calls``; a toneless call also with its keys as a sidecar would
give them, ``--keys``), then per company:

- **inferred presses** on the toneless calls: a true move (a press after which the
  caller was at another node) is found when an inferred press has its key and the
  true press lies in [stop - TOLERANCE_S, next prompt start] of the inferred one
  (``stop``: the end of the prompt it stopped; both ends as the press's ``window``
  gives them, its end ``trees.infer.ONSET_SLACK_S`` past the next prompt's start as
  the speech regions place it); an inferred press matching no move
  is *invented*. Also counted: inferred presses in calls with tones (must be 0).
- **option F1** of the merged tree (``scoring.score_options``): every call with
  tones; the toneless calls without inference; with inference; with sidecar keys.
- **sidecar**: whether the tree with the toneless calls' keys as a sidecar has the
  same options (parent, key, label) and node kinds as the tree with tones.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scoring  # noqa: E402

#: A true press may come this long before the end of the prompt it stopped (a
#: barge-in: platforms stop the prompt 0.1-0.4 s after the key; a slow one, more).
TOLERANCE_S = 1.0


def _calls(corpus: Path) -> dict[str, list[Path]]:
    return {d.name: sorted(d.glob("*.truth.json")) for d in sorted({p.parent for p in corpus.rglob("*.truth.json")})}


def _keys(truth: dict):
    from ivrkit.discovery.keys import ListedKey

    return [ListedKey(p["key"], round(float(p["start"]), 3), "rfc4733") for p in truth["presses"]]


def analyse(corpus: Path, tones: Path, engine, cache_dir: Path | None, only: str | None = None,
            out: Path | None = None) -> dict:
    """Timelines of every call: ``oob`` (as rendered), ``tones`` (the toneless calls'
    twins with tones), ``keys`` (the toneless calls with their keys listed)."""
    from ivrkit.discovery.cache import AnalysisCache
    from ivrkit.discovery.pipeline import analyse_calls

    cache = AnalysisCache(cache_dir) if cache_dir else None
    runs: dict = {}
    for comp, truths in _calls(corpus).items():
        if only and comp not in only.split(","):
            continue
        t0 = time.perf_counter()
        trs = [json.loads(p.read_text()) for p in truths]
        audio = [p.parent / t["file"] for p, t in zip(truths, trs)]
        oob = [i for i, t in enumerate(trs) if t.get("keys_out_of_band")]
        twin = [tones / comp / trs[i]["file"] for i in oob]
        runs[comp] = {"truths": trs, "oob": oob,
                      "tl": analyse_calls(audio, engine, cache=cache),
                      "tones": analyse_calls(twin, engine, cache=cache) if oob else [],
                      "keys": analyse_calls([audio[i] for i in oob], engine, keys=[_keys(trs[i]) for i in oob])
                      if oob else []}
        print(f"analysed {comp}: {len(trs)} calls, {len(oob)} without tones, "
              f"{time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        if out is not None:  # after each company: a long run stopped early can be scored
            out.write_text(json.dumps({"corpus": str(corpus), "runs": runs}))
    return runs


def _moves(truth: dict) -> list[dict]:
    """The true presses after which the caller was at another node."""
    out, prev = [], None
    for v in truth["visits"]:
        if prev is not None and v.get("via") and list(v["path"]) != list(prev["path"]):
            out.append({"key": v["via"]["key"], "time": float(v["via"]["time"]), "to": v["path"]})
        prev = v
    return out


def _inferred(tl: dict) -> list[dict]:
    return [p for m in tl["menus"] for p in m.get("presses") or [] if p.get("inferred")]


def score_presses(truth: dict, tl: dict, entered: set | None = None) -> dict:
    """Moves found / missed and presses invented in one toneless call; ``entered``:
    node paths some call with tones went to (the moves there are counted apart)."""
    moves, inf = _moves(truth), _inferred(tl)
    used, right, right_rules = set(), 0, []
    for p in inf:
        lo, hi = p.get("window") or (p["time"], p["time"])
        hit = next((j for j, m in enumerate(moves) if j not in used and m["key"] == p["key"]
                    and lo - TOLERANCE_S <= m["time"] <= hi), None)
        if hit is not None:
            used.add(hit)
            right += 1
            right_rules.append(p.get("rule"))
    known = [tuple(m["to"]) in (entered or set()) for m in moves]
    return {"moves": len(moves), "right": right, "invented": len(inf) - right,
            "rules": [p.get("rule") for p in inf], "right_rules": right_rules,
            "moves_known": sum(known), "right_known": sum(1 for j in used if known[j]),
            "ambiguous": [m["unplaced"]["candidates"] for m in tl["menus"] if m.get("unplaced")]}


def listened_only(tl: dict, truth: dict) -> dict | None:
    """The toneless call as if the caller had hung up just before the first key that
    moved it (records cut there): a call in which nothing moved. None: no such key."""
    moves = _moves(truth)
    if not moves:
        return None
    t = moves[0]["time"]
    m = dict(tl["menus"][0])
    m["end"] = t
    m["options"] = [o for o in m["options"] if (o.get("end") or 0) <= t]
    if "option_mentions" in m:
        m["option_mentions"] = [o for o in m["option_mentions"] if (o.get("end") or 0) <= t]
    events = [e for e in tl["events"] if (e.get("start") or 0) < t]
    for e in events:
        if e.get("words"):
            e["words"] = [w for w in e["words"] if w["start"] < t]
    return {**tl, "file": "listened-" + tl["file"], "sha256": None, "duration": t, "events": events, "menus": [m]}


def _tree(tls, comp_truth, infer=True, out=None):
    from ivrkit.trees.build import merge_timelines
    from ivrkit.trees.io import tree_to_json

    return tree_to_json(merge_timelines(tls, comp_truth["company"], comp_truth.get("number"),
                                        infer_presses=infer, calls_out=out))


def _shape(tree: dict) -> set:
    """The tree's nodes as (parent, key, kind): its structure, labels aside."""
    kinds = {n["id"]: n.get("kind") for n in tree["nodes"]}
    return {(e["source"], e["key"], kinds.get(e["target"])) for e in tree["edges"]}


def _labels_differ(a: dict, b: dict) -> list[str]:
    """Options both trees have whose labels are not the same option's (the scorer's
    label match): the recognizer hearing a muted and an unmuted key differently."""
    la = {(e["source"], e["key"]): e.get("label") or "" for e in a["edges"]}
    lb = {(e["source"], e["key"]): e.get("label") or "" for e in b["edges"]}
    return [f"{k[0]}:{k[1]} {la[k]!r} / {lb[k]!r}" for k in sorted(set(la) & set(lb))
            if la[k] != lb[k] and scoring._label_score(la[k], lb[k]) < scoring.LABEL_MIN_SCORE]


def score_company(name: str, run: dict, true_tree: dict) -> dict:
    trs, oob = run["truths"], run["oob"]
    heard = scoring.heard_options(trs)
    tones = list(run["tl"])
    for j, i in enumerate(oob):
        tones[i] = run["tones"][j]
    keyed = list(run["tl"])
    for j, i in enumerate(oob):
        keyed[i] = run["keys"][j]
    merged: list[dict] = []
    f1 = {"tones": scoring.score_options(true_tree, _tree(tones, trs[0]), heard),
          "no_inference": scoring.score_options(true_tree, _tree(run["tl"], trs[0], infer=False), heard),
          "inferred": scoring.score_options(true_tree, _tree(run["tl"], trs[0], out=merged), heard),
          "sidecar": scoring.score_options(true_tree, _tree(keyed, trs[0]), heard)}
    by_file = {m["file"]: m for m in merged}
    entered = {tuple(v["path"]) for i, t in enumerate(trs) if i not in oob for v in t["visits"]}
    presses = [score_presses(trs[i], by_file.get(run["tl"][i]["file"], run["tl"][i]), entered) for i in oob]
    with_tones = sum(len(_inferred(by_file.get(tl["file"], tl))) for i, tl in enumerate(run["tl"]) if i not in oob)
    # the toneless calls cut before their first key, merged with the calls with tones
    still = [c for c in (listened_only(json.loads(json.dumps(run["tl"][i])), trs[i]) for i in oob) if c]
    merged_still: list[dict] = []
    _tree([tl for i, tl in enumerate(run["tl"]) if i not in oob] + still, trs[0], out=merged_still)
    no_move = sum(len(_inferred(t)) for t in merged_still if t["file"].startswith("listened-"))
    t_keys, t_tones = _tree(keyed, trs[0]), _tree(tones, trs[0])
    same = _shape(t_keys) == _shape(t_tones)
    relabel = _labels_differ(t_keys, t_tones)
    return {"company": name, "calls": len(trs), "toneless": len(oob), "presses": presses,
            "inferred_with_tones": with_tones, "no_move_calls": len(still), "inferred_no_move": no_move,
            "sidecar_same_tree": same, "sidecar_labels_differ": relabel,
            "f1": {k: v["f1"] for k, v in f1.items()}, "_counts": {k: [v["tp"], v["fp"], v["fn"]] for k, v in f1.items()},
            "misses": f1["inferred"]["misses"], "false": f1["inferred"]["false"]}


def _pooled(reps, key) -> float:
    tp, fp, fn = (sum(r["_counts"][key][i] for r in reps) for i in range(3))
    return scoring.prf(tp, fp, fn)["f1"]


def report(reps: list[dict]) -> None:
    print(f"{'company':22} {'calls':>5} {'no tone':>7} {'moves':>5} {'right':>5} {'invent':>6} "
          f"{'F1 tones':>8} {'F1 none':>7} {'F1 inf':>6} {'F1 keys':>7} sidecar=tones")
    for r in reps:
        m = sum(p["moves"] for p in r["presses"])
        ok = sum(p["right"] for p in r["presses"])
        inv = sum(p["invented"] for p in r["presses"])
        f = r["f1"]
        print(f"{r['company']:22} {r['calls']:>5} {r['toneless']:>7} {m:>5} {ok:>5} {inv:>6} "
              f"{f['tones']:>8.2f} {f['no_inference']:>7.2f} {f['inferred']:>6.2f} {f['sidecar']:>7.2f} "
              f"{'yes' if r['sidecar_same_tree'] else 'NO'}")
    ps = [p for r in reps for p in r["presses"]]
    m, ok, inv = sum(p["moves"] for p in ps), sum(p["right"] for p in ps), sum(p["invented"] for p in ps)
    rules: dict[str, int] = {}
    for p in ps:
        for x in p["rules"]:
            rules[x] = rules.get(x, 0) + 1
    print(f"\ntoneless calls: {len(ps)}; true moves {m}; inferred right {ok} ({ok / m:.0%} of the moves, "
          f"key + place within {TOLERANCE_S:.1f} s before the stop .. next prompt); invented {inv}")
    mk, rk = sum(p.get("moves_known", 0) for p in ps), sum(p.get("right_known", 0) for p in ps)
    print(f"  of the moves to a node some call with tones entered: {rk}/{mk}; to a node only toneless "
          f"calls went to: {ok - rk}/{m - mk}")
    right_by = {x: sum(p.get("right_rules", []).count(x) for p in ps) for x in rules}
    print(f"inferred presses by rule: {rules}; of them right: {right_by}")
    amb = [c for p in ps for c in p.get("ambiguous", [])]
    print(f"moves flagged ambiguous (not inferred, the call placed no further): {len(amb)} "
          f"(candidates: {amb})")
    print(f"inferred presses on calls with tones: {sum(r['inferred_with_tones'] for r in reps)}; on "
          f"{sum(r['no_move_calls'] for r in reps)} toneless calls cut before their first key (nothing moved): "
          f"{sum(r['inferred_no_move'] for r in reps)}")
    print(f"option F1 pooled: with tones {_pooled(reps, 'tones'):.3f}; toneless, no inference "
          f"{_pooled(reps, 'no_inference'):.3f}; toneless, inferred {_pooled(reps, 'inferred'):.3f}; "
          f"toneless with keys sidecar {_pooled(reps, 'sidecar'):.3f}")
    same = sum(r["sidecar_same_tree"] for r in reps)
    print(f"sidecar trees identical to the trees with tones (nodes: parent, key, kind): {same}/{len(reps)} "
          f"companies; labels heard differently: {sum(len(r['sidecar_labels_differ']) for r in reps)}")
    for r in reps:
        for x in r["sidecar_labels_differ"]:
            print(f"  {r['company']}: {x}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, help="corpus rendered with --no-tones-share")
    ap.add_argument("--tones", type=Path, help="the same corpus rendered with every tone")
    ap.add_argument("--json", type=Path, help="write the timelines here (rescore with --from-json)")
    ap.add_argument("--from-json", type=Path, help="score timelines of an earlier --json run")
    ap.add_argument("--cache", type=Path, help="analysis cache folder (default: none)")
    ap.add_argument("--engine", default="auto")
    ap.add_argument("--only", help="companies (folder names, comma-separated)")
    a = ap.parse_args(argv)
    if a.from_json:
        doc = json.loads(a.from_json.read_text())
    else:
        if not a.corpus or not a.tones:
            ap.error("--corpus and --tones (or --from-json)")
        from ivrkit.discovery.pipeline import make_engine

        doc = {"corpus": str(a.corpus), "runs": analyse(a.corpus, a.tones, make_engine(a.engine), a.cache, a.only,
                                                        a.json)}
    corpus = Path(doc["corpus"])
    reps = [score_company(c, run, json.loads((corpus / c / "tree.json").read_text()))
            for c, run in doc["runs"].items()]
    print(f"corpus {corpus}")
    report(reps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
