"""Tree benchmark: merge each company's calls and compare with the simulator's true tree.

For every company folder (``corpus/<company>/`` rendered by
``python recordings/simulate.py corpus``, plus ``recordings/northwind``), the calls'
timelines are merged with ``ivrkit.trees.build.merge_timelines`` and checked against
``tree.json``:

- structure: true options (parent, key) found / missed, false options (branches the
  tree has but the truth does not), labels equal (fuzzy), kinds equal on shared nodes;
- waits (issue 7 targets): every recommended wait of a node the calls pressed through
  is >= the true listen start and <= true + 1.5 s; root listen-start error;
- diff: for each company with a ``-v2`` folder, the diff of the two mapped trees
  against the diff of the two true trees (every change reported, nothing else).

Timelines come from one of:

- ``--source truth`` (default, seconds): the truth files turned into timelines as a
  perfect front end would give them, except the prompt-based listen estimate, which
  gets Gaussian noise (``--noise``, default 0.3 s: the spread of word timings and of
  "which sentence is the first call to action"). It measures the merge, not the ears.
- ``--source audio``: ``ivrkit.discovery.timeline.analyse_call`` on the recordings
  (slow; timelines cached in ``--cache`` as ``<company>/<call>.timeline.json``, which
  also lets it score timelines made another way). Measures the whole pipeline.

Run:  python benchmarks/trees_merge.py [--corpus corpus] [--source truth|audio]
                                       [--noise 0.3] [--wer 0.1] [--seed 0] [--margin 0.5]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from ivrkit.trees.build import merge_timelines
from ivrkit.trees.diff import diff_trees
from ivrkit.trees.io import read_tree
from ivrkit.trees.textsim import same_label

ROOT = Path(__file__).resolve().parents[1]


def _option_text(o: dict) -> str:
    if o.get("role") == "repeat":
        return f"To {o['label']}, press {o['key']}."
    return f"For {o['label']}, press {o['key']}."


_CONFUSIONS = ["a", "the", "for", "to", "and", "press", "of", "in", "your", "or"]


def garble(text: str, wer: float, rng) -> str:
    """Recognizer-like errors: each word dropped, replaced or doubled with probability wer."""
    if not wer or not text:
        return text
    out = []
    for w in text.split():
        r = rng.random()
        if r < wer / 3:
            continue
        if r < 2 * wer / 3:
            out.append(str(rng.choice(_CONFUSIONS)))
        elif r < wer:
            out += [w, str(rng.choice(_CONFUSIONS))]
        else:
            out.append(w)
    return " ".join(out)


def truth_timeline(truth: dict, true_tree, noise_s: float, rng, wer: float = 0.0) -> dict:
    """What a perfect front end would report for this call (estimate noise and, with
    ``wer``, recognizer errors in prompts and labels aside)."""
    visits = truth["visits"]
    menus = []
    prev_end = -1.0
    for i, v in enumerate(visits):
        node = true_tree.nodes.get("/".join(v["path"]) or "root", {})
        revisit = v.get("via") is not None and any(v["path"] == w["path"] for w in visits[:i])
        opts = [dict(o) for o in v.get("options") or []]
        if revisit or not node.get("prompt"):
            prompt = " ".join(_option_text(o) for o in opts) or (node.get("prompt") or "")
        else:
            prompt = node["prompt"]
        kind = v.get("kind") or node.get("kind")
        est = None
        if kind == "menu" and opts:
            est = opts[0]["start"] - v["start"]
            # discovery also counts "if you know your party's extension, dial it at any
            # time" as a call to action; the truth has no word times, so place that
            # sentence by its share of the characters before the first option
            m = re.search(r"[^.]*\b(extension|party)\b[^.]*\.", prompt, re.I)
            first = prompt.rfind(".", 0, max(0, prompt.lower().find(opts[0]["label"].lower()))) + 1
            if m and first > 0 and m.start() < first:
                est = est * (m.start() + 1) / first
        elif kind in ("menu", "input"):
            est = 0.0
        if est is not None and noise_s:
            est = max(0.0, est + float(rng.normal(0.0, noise_s)))
        presses = [{"key": p["key"], "time": p["start"], "end": p["end"], "accepted": p["accepted"]}
                   for p in truth["presses"] if prev_end < p["start"] <= v["end"] + 1e-6]
        prev_end = v["end"]
        if wer:
            prompt = garble(prompt, wer, rng)
            for o in opts:
                o["label"] = garble(o["label"], wer, rng) or o["label"]
        menus.append({"path": v["path"], "kind": kind, "start": v["start"], "end": v["end"], "prompt": prompt,
                      "listen_after": None if est is None else round(est, 3), "listen_bounds": [None, None],
                      "options": opts, "entry": node.get("entry") if kind == "input" else None,
                      "via": v.get("via"), "presses": presses, "keyed": v.get("keyed")})
    return {"schema": "ivrkit.timeline/1", "file": truth["file"],
            "sha256": hashlib.sha256(json.dumps(truth, sort_keys=True).encode()).hexdigest(),
            "duration": truth["duration"], "answer": truth["answer"], "greeting_onset": truth["greeting_onset"],
            "events": [], "menus": menus}


_ENGINE = []


def audio_timeline(wav: Path, cache: Path) -> dict:
    out = cache / wav.parent.name / (wav.stem + ".timeline.json")
    if out.exists():
        return json.loads(out.read_text())
    from ivrkit.discovery.asr import make_engine
    from ivrkit.discovery.timeline import analyse_call

    if not _ENGINE:
        _ENGINE.append(make_engine("auto"))
    tl = analyse_call(wav, _ENGINE[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(tl))
    return tl


def _diff_items(d: dict) -> set:
    """Changes as comparable tuples (timing by field and path only: values differ)."""
    out = set()
    for cat in ("added", "removed", "relabelled"):
        out |= {(cat, tuple(x["path"]), x["key"]) for x in d[cat]}
    out |= {("moved", tuple(x["from"]), tuple(x["to"])) for x in d["moved"]}
    out |= {("entry", tuple(x["path"]), x["new"]) for x in d["entry"]}
    out |= {("timing", tuple(x["path"]), x["field"]) for x in d["timing"]}
    return out


def score(G, T) -> dict:
    """Compare a merged tree G with the true tree T."""
    s = {"true_opts": 0, "found": 0, "false_opts": 0, "label_ok": 0, "kind_ok": 0, "kind_n": 0,
         "waits": 0, "wait_low": [], "wait_high": [], "root_err": None, "slack": []}
    true_edges = {(u, d["key"]): (v, d) for u, v, d in T.edges(data=True)}
    for (u, k), (v, d) in true_edges.items():
        s["true_opts"] += 1
        if v in G and G.has_edge(u, v):
            s["found"] += 1
            s["label_ok"] += same_label(G.edges[u, v].get("label"), d.get("label"))
    for u, v, d in G.edges(data=True):
        if (u, d["key"]) not in true_edges:
            s["false_opts"] += 1
    for n, d in G.nodes(data=True):
        if n in T and d.get("visits"):
            s["kind_n"] += 1
            s["kind_ok"] += d["kind"] == T.nodes[n]["kind"]
        if n not in T or T.nodes[n].get("listen_after") is None or d.get("wait") is None:
            continue
        if not G.out_degree(n) or not any(G.edges[n, c].get("evidence") for c in G.successors(n)):
            continue  # no key pressed here in these calls: its wait is not put to use
        need = T.nodes[n]["listen_after"]
        s["waits"] += 1
        s["slack"].append(d["wait"] - need)
        if d["wait"] < need - 1e-6:
            s["wait_low"].append((n, need, d["wait"]))
        if d["wait"] > need + 1.5 + 1e-6:
            s["wait_high"].append((n, need, d["wait"]))
    if G.nodes["root"].get("listen_after") is not None and T.nodes["root"].get("listen_after") is not None:
        s["root_err"] = abs(G.nodes["root"]["listen_after"] - T.nodes["root"]["listen_after"])
    return s


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    ap.add_argument("--source", choices=("truth", "audio"), default="truth")
    ap.add_argument("--noise", type=float, default=0.3, help="s.d. of the prompt-based estimate (truth source)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--wer", type=float, default=0.0, help="word error rate put into prompts and labels (truth source)")
    ap.add_argument("--cache", type=Path, default=ROOT / "out" / "bench_timelines")
    ap.add_argument("--margin", type=float, default=None)
    a = ap.parse_args(argv)
    rng = np.random.default_rng(a.seed)
    dirs = sorted(p.parent for p in a.corpus.glob("*/tree.json"))
    dirs += [ROOT / "recordings" / "northwind", ROOT / "recordings" / "northwind-v2"]
    mapped, truths_by = {}, {}
    tot = {"true_opts": 0, "found": 0, "false_opts": 0, "label_ok": 0, "kind_ok": 0, "kind_n": 0, "waits": 0,
           "low": 0, "high": 0}
    root_errs, slacks = [], []
    t_merge = 0.0
    print(f"source={a.source} noise={a.noise if a.source == 'truth' else '-'} s"
          f"{f' wer={a.wer}' if a.source == 'truth' else ''}")
    print(f"{'company':<22}{'calls':>6}{'opts':>6}{'found':>6}{'false':>6}{'label':>6}{'kind':>7}"
          f"{'waits ok':>10}{'root err':>10}")
    for d in dirs:
        T = read_tree(d / "tree.json")
        truths = sorted(d.glob("*.truth.json"))
        if a.source == "truth":
            tls = [truth_timeline(json.loads(p.read_text()), T, a.noise, rng, a.wer) for p in truths]
        else:
            tls = [audio_timeline(p.with_name(p.name.replace(".truth.json", ".wav")), a.cache) for p in truths]
        t0 = time.perf_counter()
        G = merge_timelines(tls, company=T.graph.get("company"), number=T.graph.get("number"))
        if a.margin is not None:
            from ivrkit.trees.waits import recommend_waits

            recommend_waits(G, margin_s=a.margin)
        t_merge += time.perf_counter() - t0
        mapped[d.name], truths_by[d.name] = G, T
        s = score(G, T)
        for k in ("true_opts", "found", "false_opts", "label_ok", "kind_ok", "kind_n", "waits"):
            tot[k] += s[k]
        tot["low"] += len(s["wait_low"])
        tot["high"] += len(s["wait_high"])
        slacks += s["slack"]
        if s["root_err"] is not None:
            root_errs.append(s["root_err"])
        ok = s["waits"] - len(s["wait_low"]) - len(s["wait_high"])
        re = f"{s['root_err']:.2f}" if s["root_err"] is not None else "-"
        print(f"{d.name:<22}{len(tls):>6}{s['true_opts']:>6}{s['found']:>6}{s['false_opts']:>6}"
              f"{s['label_ok']:>6}{s['kind_ok']:>4}/{s['kind_n']:<2}{ok:>6}/{s['waits']:<3}{re:>10}")
        for n, need, w in s["wait_low"] + s["wait_high"]:
            print(f"    wait at {n}: {w:.2f} s, true need {need:.2f} s")
    print()
    print(f"options found        {tot['found']}/{tot['true_opts']}  (false options {tot['false_opts']}, "
          f"labels right {tot['label_ok']}/{tot['found']}, kinds right {tot['kind_ok']}/{tot['kind_n']})")
    print(f"waits within target  {tot['waits'] - tot['low'] - tot['high']}/{tot['waits']}  "
          f"(too short {tot['low']}, more than need + 1.5 s {tot['high']}); "
          f"median slack {np.median(slacks) if slacks else float('nan'):.2f} s")
    if root_errs:
        print(f"root listen start    mean error {np.mean(root_errs):.2f} s, max {np.max(root_errs):.2f} s "
              f"over {len(root_errs)} companies")
    print(f"merge time           {t_merge * 1000:.0f} ms for {len(dirs)} companies")
    print()
    for name in sorted(mapped):
        if name + "-v2" not in mapped:
            continue
        want = _diff_items(diff_trees(truths_by[name], truths_by[name + "-v2"]))
        got = _diff_items(diff_trees(mapped[name], mapped[name + "-v2"]))
        unconf = len(diff_trees(mapped[name], mapped[name + "-v2"]).get("unconfirmed", []))
        print(f"diff {name} -> {name}-v2: {len(want & got)}/{len(want)} true changes reported, "
              f"{len(got - want)} false, {unconf} unconfirmed")
        for x in sorted(want - got):
            print(f"    missed {x}")
        for x in sorted(got - want):
            print(f"    false  {x}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
