"""Accuracy of ivrkit on the simulated corpus (and on multimon-ng, for DTMF).

    python recordings/simulate.py corpus --out corpus/      # once (needs the apt packages)
    python benchmarks/accuracy.py [--corpus corpus/] [--only COMPANY] [--jobs N]
                                  [--json out.json] [--dtmf-only] [--engine auto]
                                  [--lang en,es,fr,ru [--strategy english-first|identify|multilingual]]

Multilingual group: ``python recordings/simulate.py corpus --set multilingual
--calls-per-company 14 --out corpus-ml/`` then ``--corpus corpus-ml --lang en,es,fr,ru``:
options are also scored per language of the menu that offers them (the true tree's
node ``lang``), and the found nodes' ``lang`` against the true ones.

Every folder under ``--corpus`` that holds ``*.truth.json`` files is one company
(its ``tree.json`` is the true tree). Each call goes through
``ivrkit.discovery.timeline.analyse_call``; each company's timelines through
``ivrkit.trees.build.merge_timelines``. Printed per company and in total:

- options: precision / recall / F1 (parent path + key + label, label fuzzy-matched);
  recall counts the options the calls actually played;
- DTMF: precision / recall, mean / max onset error (same key within +-60 ms), exact
  key-sequence rate per call, accepted/ignored classification accuracy;
- entry-token accuracy; greeting listen-start error; recommended waits within
  [truth, truth + 1.5 s]; real-time factor and peak memory;
- multimon-ng on the same calls: DTMF precision / recall, report latency, sequences.

A metric whose module is not there yet is shown as ``-`` with the reason, so the
benchmark runs at every stage of the project. ``--dtmf-only`` skips speech
recognition (an engine that hears nothing): DTMF figures in seconds, not minutes.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import multimon  # noqa: E402
import scoring  # noqa: E402

# ---------------------------------------------------------------- worker side

_STATE: dict = {}


class NoSpeech:
    """A recognizer that hears nothing: the signal-only path of the timeline."""

    def transcribe(self, y, sr, regions):
        return []


def _init(engine: str, model: str | None, dtmf_only: bool, use_multimon: bool,
          beam: int | None = None, no_prompt: bool = False, lang: str | None = None,
          strategy: str | None = None, denoise: str = "auto") -> None:
    _STATE.update(dtmf_only=dtmf_only, multimon=use_multimon, engine=None, engine_error=None)
    if dtmf_only:
        _STATE["engine"] = NoSpeech()
        return
    try:
        from ivrkit.discovery.asr import make_engine

        if lang:
            from ivrkit.discovery.asr import MultilingualEngine

            # the engine itself, not make_engine: the recognizer is measured even for a
            # language the prompt parser has no grammar for yet
            langs = tuple(c.strip() for c in lang.split(","))
            _STATE["engine"] = (make_engine(engine, model) if langs == ("en",)
                                else MultilingualEngine(langs, model, strategy=strategy))
        elif beam is not None or no_prompt or denoise != "auto":  # Whisper settings other than the shipped ones
            from ivrkit.discovery.asr import IVR_PROMPT, WhisperEngine

            _STATE["engine"] = WhisperEngine(model, beam_size=beam or 1,
                                             denoise={"on": True, "off": False}.get(denoise, denoise),
                                             initial_prompt=None if no_prompt else IVR_PROMPT)
        else:
            _STATE["engine"] = make_engine(engine, model)
    except Exception as e:  # noqa: BLE001 - reported, the DTMF figures still run
        _STATE["engine"] = NoSpeech()
        _STATE["engine_error"] = f"{type(e).__name__}: {e}"


def _err(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


def run_company(group: tuple[list[tuple[str, str]], bool]) -> list[dict]:
    """``--pipeline``: a company's calls through ``pipeline.analyse_calls``, as ``discover
    map`` runs them; ``--reuse`` with prompt reuse (discovery/reuse.py, experimental);
    the company's time is shared out over its calls by duration."""
    from ivrkit.discovery.pipeline import analyse_calls

    tasks, reuse = group
    truths = [json.loads(Path(t).read_text()) for _, t in tasks]
    audios = [Path(t).parent / tr["file"] for (_, t), tr in zip(tasks, truths)]
    t0 = time.perf_counter()
    try:
        eng = _STATE["engine"]
        tls = analyse_calls(audios, eng, reuse=reuse)
    except Exception as e:  # noqa: BLE001 - every call then reports the error
        tls = [e] * len(tasks)
    el = time.perf_counter() - t0
    total = sum(tr["duration"] for tr in truths) or 1.0
    return [run_call(t, tl, el * tr["duration"] / total) for t, tl, tr in zip(tasks, tls, truths)]


def run_call(task: tuple[str, str], done=None, done_elapsed: float | None = None) -> dict:
    """Analyse one call (or take ``done``, its timeline made by ``run_company``);
    returns what the scorer needs (all plain data)."""
    company_dir, truth_path = task
    truth = json.loads(Path(truth_path).read_text())
    audio = Path(truth_path).parent / truth["file"]
    res = {"dir": company_dir, "truth": truth, "timeline": None, "presses": None,
           "multimon": None, "elapsed": None, "errors": {}, "engine_error": _STATE.get("engine_error")}
    t0 = time.perf_counter()
    try:
        from ivrkit.discovery.timeline import analyse_call

        if isinstance(done, Exception):
            raise done
        tl = done if done is not None else analyse_call(audio, _STATE["engine"])
        res["elapsed"] = done_elapsed if done is not None else time.perf_counter() - t0
        res["timeline"] = tl
        res["presses"] = scoring.timeline_presses(tl)
    except Exception as e:  # noqa: BLE001
        res["errors"]["timeline"] = _err(e)
    y = sr = None
    if res["presses"] is None or _STATE["multimon"]:
        try:
            from ivrkit.audio import load

            y, sr = load(audio, sr=8000)
        except Exception as e:  # noqa: BLE001
            res["errors"]["load"] = _err(e)
    if res["presses"] is None and y is not None:
        try:
            from ivrkit.audio.dtmf import detect_dtmf

            t0 = time.perf_counter()
            ps = detect_dtmf(y, sr)
            res["elapsed"] = time.perf_counter() - t0
            res["presses"] = [{"key": p.key, "start": p.start_s, "end": p.end_s, "accepted": None} for p in ps]
        except Exception as e:  # noqa: BLE001
            res["errors"]["dtmf"] = _err(e)
    if _STATE["multimon"] and y is not None:
        try:
            res["multimon"] = multimon.decode(y, sr)
        except Exception as e:  # noqa: BLE001
            res["errors"]["multimon"] = _err(e)
    res["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return res


# ---------------------------------------------------------------- scoring


def find_companies(corpus: Path, only: str | None = None) -> list[dict]:
    out = []
    for d in sorted({p.parent for p in corpus.rglob("*.truth.json")}):
        calls = sorted(d.glob("*.truth.json"))
        first = json.loads(calls[0].read_text())
        wanted = [w.strip().lower() for w in only.split(",")] if only else []
        if wanted and not {d.name.lower(), first["company"].lower()} & set(wanted):
            continue
        tree = json.loads((d / "tree.json").read_text()) if (d / "tree.json").exists() else None
        out.append({"dir": str(d), "name": d.name, "company": first["company"],
                    "number": first.get("number"), "tree": tree, "calls": [str(c) for c in calls]})
    return out


def _multimon_window(p):
    # multimon reports a digit once confirmed: between the tone's start and shortly after its end
    return p["start"], p["end"] + 0.25


def score_company(comp: dict, results: list[dict], dtmf_only: bool) -> dict:
    acc = defaultdict(list)
    dt = {"tp": 0, "fp": 0, "fn": 0, "class_n": 0, "class_ok": 0, "nav_n": 0, "nav_ok": 0, "seq_ok": 0, "seq_n": 0}
    mm = {"tp": 0, "fp": 0, "fn": 0, "seq_ok": 0, "seq_n": 0}
    errors: dict[str, str] = {}
    entries = [0, 0]
    entries_heard = 0
    dur = el = 0.0
    rss = 0.0
    timelines = []
    cond = defaultdict(lambda: [0, 0, 0])  # (condition, bucket) -> [presses, ivrkit hits, multimon hits]
    for r in results:
        truth = r["truth"]
        for who, found, win in (("ivr", r["presses"], None), ("mm", r["multimon"], _multimon_window)):
            if found is None:
                continue
            hit = {i for i, _ in scoring.match_presses(truth["presses"], found, window=win)}
            for i, p in enumerate(truth["presses"]):
                for c, b in scoring.condition_of(p, truth).items():
                    row = cond[f"{c}::{b}"]
                    if who == "ivr":
                        row[0] += 1
                        row[1] += i in hit
                    else:
                        row[2] += i in hit
        errors.update(r["errors"])
        if r.get("engine_error"):
            errors["engine"] = r["engine_error"]
        rss = max(rss, r.get("maxrss_mb") or 0.0)
        if r["presses"] is not None:
            s = scoring.score_dtmf(truth["presses"], r["presses"])
            for k in ("tp", "fp", "fn", "class_n", "class_ok", "nav_n", "nav_ok"):
                dt[k] += s[k]
            dt["seq_ok"] += s["sequence_ok"]
            dt["seq_n"] += 1
            acc["onset"] += s["onset_errors"]
            if r["elapsed"] is not None:
                el += r["elapsed"]
                dur += truth["duration"]
        if r["multimon"] is not None:
            s = scoring.score_dtmf(truth["presses"], r["multimon"], window=_multimon_window)
            for k in ("tp", "fp", "fn"):
                mm[k] += s[k]
            mm["seq_ok"] += s["sequence_ok"]
            mm["seq_n"] += 1
            acc["mm_latency"] += s["onset_errors"]
        tl = r["timeline"]
        if tl is not None:
            timelines.append(tl)
            if comp["tree"]:
                a, b = scoring.score_entries(truth, comp["tree"], tl)
                entries[0] += a
                entries[1] += b
                entries_heard += scoring.score_entries(truth, comp["tree"], tl, by="time")[0]
            g_rel, g_abs = scoring.greeting_error(truth, tl)
            if g_rel is not None:
                acc["greet"].append(g_rel)
                acc["greet_abs"].append(g_abs)
    rep = {"company": comp["company"], "dir": comp["name"], "calls": len(results),
           "dtmf": {**scoring.prf(dt["tp"], dt["fp"], dt["fn"]), "onset": scoring.summarise_errors(acc["onset"]),
                    "sequence_exact": dt["seq_ok"] / dt["seq_n"] if dt["seq_n"] else None,
                    "accepted_accuracy": dt["class_ok"] / dt["class_n"] if dt["class_n"] else None,
                    "accepted_accuracy_navigation": dt["nav_ok"] / dt["nav_n"] if dt["nav_n"] else None,
                    "_counts": dt},
           "multimon": {**scoring.prf(mm["tp"], mm["fp"], mm["fn"]),
                        "report_latency": scoring.summarise_errors(acc["mm_latency"]),
                        "sequence_exact": mm["seq_ok"] / mm["seq_n"] if mm["seq_n"] else None,
                        "_counts": mm} if mm["seq_n"] else None,
           "entry_accuracy": entries[0] / entries[1] if entries[1] else None, "_entries": entries, "_entries_heard": entries_heard,
           "greeting_listen_error": scoring.summarise_errors(acc["greet"]),
           "greeting_listen_time_error": scoring.summarise_errors(acc["greet_abs"]),
           "rtf": el / dur if dur else None, "_time": [el, dur], "peak_rss_mb": rss,
           "options": None, "waits": None, "errors": errors, "_conditions": dict(cond)}
    if timelines:
        # the same presses once the company's calls have been read together: a press the
        # call alone took for accepted, where the other calls show the greeting went on
        try:
            from ivrkit.trees.reconcile import reconcile_greetings

            with_tl = [r for r in results if r["timeline"] is not None]
            rec = {"class_n": 0, "class_ok": 0}
            for r, tl in zip(with_tl, reconcile_greetings([r["timeline"] for r in with_tl])):
                sc = scoring.score_dtmf(r["truth"]["presses"], scoring.timeline_presses(tl))
                rec["class_n"] += sc["class_n"]
                rec["class_ok"] += sc["class_ok"]
            rep["dtmf"]["accepted_accuracy_merged"] = rec["class_ok"] / rec["class_n"] if rec["class_n"] else None
            rep["dtmf"]["_counts"].update(merged_n=rec["class_n"], merged_ok=rec["class_ok"])
        except Exception as e:  # noqa: BLE001
            rep["errors"]["reconcile"] = _err(e)
    if timelines and comp["tree"]:
        try:
            from ivrkit.trees.build import merge_timelines
            from ivrkit.trees.io import tree_to_json

            G = merge_timelines(timelines, comp["company"], comp["number"])
            found = tree_to_json(G)
            rep["found_tree"] = found
            rep["waits"] = scoring.score_waits(comp["tree"], found)
            # entry tokens as the directory gets them: the merged tree's input nodes
            visited = {tuple(v["path"]) for r in results for v in r["truth"]["visits"]}
            want = {n["id"]: n.get("entry") for n in comp["tree"]["nodes"]
                    if n.get("kind") == "input" and tuple(n.get("path") or []) in visited}
            rep["tree_entries"] = [sum(1 for i, tok in want.items() if i in G and G.nodes[i].get("entry") == tok),
                                   len(want)]
            t_root = scoring.true_listen(comp["tree"]).get(())
            f_root = G.nodes["root"].get("listen_after") if "root" in G else None
            rep["tree_root_listen_error"] = (None if t_root is None or f_root is None
                                             else abs(float(f_root) - float(t_root)))
            if not dtmf_only:
                heard = scoring.heard_options([r["truth"] for r in results])
                rep["options"] = scoring.score_options(comp["tree"], found, heard)
                rep["options_by_lang"], rep["node_lang"] = _by_language(comp["tree"], found, heard)
        except Exception as e:  # noqa: BLE001
            rep["errors"]["tree"] = _err(e)
    return rep


def _by_language(true_tree: dict, found: dict, heard: set) -> tuple[dict, list[int]]:
    """Options scored per language of the true menu offering them, and
    [right, total] node languages of the found nodes the true tree has."""
    lang_of = {tuple(n.get("path") or []): n.get("lang") for n in true_tree["nodes"]}
    out = {}
    for lang in sorted({v for v in lang_of.values() if v}):
        paths = {p for p, v in lang_of.items() if v == lang}
        ids = {"/".join(p) or "root" for p in paths}

        def keep(tree):
            return dict(tree, edges=[e for e in tree["edges"] if e["source"] in ids])

        out[lang] = scoring.score_options(keep(true_tree), keep(found), {h for h in heard if h[0] in paths})
    nodes = [(lang_of[tuple(n.get("path") or [])], n.get("lang")) for n in found["nodes"]
             if tuple(n.get("path") or []) in lang_of and n.get("kind") not in ("back", "unknown")]
    return out, [sum(a == b for a, b in nodes), len(nodes)]


def print_languages(reps: list[dict]) -> None:
    by = defaultdict(lambda: {"tp": 0, "fp": 0, "fn": 0})
    for r in reps:
        for lang, o in (r.get("options_by_lang") or {}).items():
            for k in ("tp", "fp", "fn"):
                by[lang][k] += o[k]
                if lang != "en":
                    by["non-English"][k] += o[k]
    if set(by) <= {"en"}:
        return
    print("\noptions by the language of the menu offering them (P / R / F1, tp fp fn):")
    for lang, c in sorted(by.items(), key=lambda x: (x[0] == "non-English", x[0])):
        d = scoring.prf(c["tp"], c["fp"], c["fn"])
        print(f"  {lang:12} {_pct(d['precision'])} {_pct(d['recall'])} {_pct(d['f1'])}   {c['tp']} {c['fp']} {c['fn']}")
    nl = [sum(r["node_lang"][i] for r in reps if r.get("node_lang")) for i in (0, 1)]
    print(f"node lang right (found nodes the true tree has): {nl[0]}/{nl[1]}")


def total_report(reps: list[dict]) -> dict:
    def add(key, sub="_counts"):
        c = defaultdict(int)
        for r in reps:
            if r.get(key):
                for k, v in r[key][sub].items():
                    c[k] += v
        return c

    dt, mm = add("dtmf"), add("multimon")
    onset = [r["dtmf"]["onset"] for r in reps if r["dtmf"]["onset"]["n"]]
    lat = [r["multimon"]["report_latency"] for r in reps if r.get("multimon") and r["multimon"]["report_latency"]["n"]]

    def pooled(parts):
        n = sum(p["n"] for p in parts)
        return {"n": n, "mean_abs": sum(p["mean_abs"] * p["n"] for p in parts) / n if n else None,
                "max_abs": max((p["max_abs"] for p in parts), default=None)}

    opts = [r["options"] for r in reps if r.get("options")]
    ot = {k: sum(o[k] for o in opts) for k in ("tp", "fp", "fn")}
    waits = [r["waits"] for r in reps if r.get("waits")]
    ent = [sum(r["_entries"][i] for r in reps) for i in (0, 1)]
    heard = sum(r.get("_entries_heard", 0) for r in reps)
    el, dur = (sum(r["_time"][i] for r in reps) for i in (0, 1))
    greet = [r["greeting_listen_error"] for r in reps if r["greeting_listen_error"]["n"]]
    return {"company": "TOTAL", "dir": "", "calls": sum(r["calls"] for r in reps),
            "dtmf": {**scoring.prf(dt["tp"], dt["fp"], dt["fn"]), "onset": pooled(onset),
                     "sequence_exact": dt["seq_ok"] / dt["seq_n"] if dt["seq_n"] else None,
                     "accepted_accuracy": dt["class_ok"] / dt["class_n"] if dt["class_n"] else None,
                     "accepted_accuracy_navigation": dt["nav_ok"] / dt["nav_n"] if dt["nav_n"] else None,
                     "_counts": dict(dt)},
            "multimon": {**scoring.prf(mm["tp"], mm["fp"], mm["fn"]), "report_latency": pooled(lat),
                         "sequence_exact": mm["seq_ok"] / mm["seq_n"] if mm["seq_n"] else None} if mm["seq_n"] else None,
            "options": scoring.prf(ot["tp"], ot["fp"], ot["fn"]) if opts else None,
            "waits": {"n": sum(w["n"] for w in waits), "ok": sum(w["ok"] for w in waits)} if waits else None,
            "entry_accuracy": ent[0] / ent[1] if ent[1] else None, "_entries": ent,
            "entry_accuracy_heard": heard / ent[1] if ent[1] else None, "_entries_heard": heard,
            "greeting_listen_error": pooled(greet),
            "rtf": el / dur if dur else None,
            "peak_rss_mb": max((r["peak_rss_mb"] for r in reps), default=None)}


# ---------------------------------------------------------------- printing


def _pct(x):
    return "   -" if x is None else f"{100 * x:3.0f}%"


def _ms(x):
    return "   -" if x is None else f"{1000 * x:4.0f}"


def _s(x):
    return "   -" if x is None else f"{x:4.1f}"


def print_report(reps: list[dict], total: dict) -> None:
    head = (f"{'company':22} {'calls':>5} | {'opt P':>5} {'R':>4} {'F1':>4} | {'dtmf P':>6} {'R':>4} "
            f"{'on ms':>5} {'max':>4} {'seq':>4} {'acc':>4} | {'entry':>5} {'greet s':>7} {'max':>4} "
            f"{'wait':>5} | {'RTF':>5} {'MB':>4} || {'mm P':>4} {'R':>4} {'lat':>4} {'max':>4} {'seq':>4}")
    print(head)
    print("-" * len(head))
    for r in reps + [total]:
        o = r.get("options") or {}
        d = r["dtmf"]
        m = r.get("multimon") or {}
        w = r.get("waits")
        g = r["greeting_listen_error"]
        wait = "    -" if not w or not w["n"] else f"{w['ok']:>2}/{w['n']:<2}"
        lat = m.get("report_latency") or {}
        rtf = "    -" if r["rtf"] is None else f"{r['rtf']:5.3f}"
        mb = "   -" if not r.get("peak_rss_mb") else f"{r['peak_rss_mb']:4.0f}"
        print(f"{(r['dir'] or r['company'])[:22]:22} {r['calls']:>5} | {_pct(o.get('precision')):>5} {_pct(o.get('recall'))} "
              f"{_pct(o.get('f1'))} | {_pct(d['precision']):>6} {_pct(d['recall'])} {_ms(d['onset']['mean_abs']):>5} "
              f"{_ms(d['onset']['max_abs'])} {_pct(d['sequence_exact'])} {_pct(d['accepted_accuracy'])} | "
              f"{_pct(r['entry_accuracy']):>5} {_s(g['mean_abs']):>7} {_s(g['max_abs'])} {wait} | {rtf} {mb} || "
              f"{_pct(m.get('precision'))} {_pct(m.get('recall'))} {_ms(lat.get('mean_abs'))} "
              f"{_ms(lat.get('max_abs'))} {_pct(m.get('sequence_exact'))}")
    print()
    print("opt: options (parent path + key + label >= 75 token-set ratio; recall over options played); "
          "dtmf: same key, onset within 60 ms; on ms / max: |onset error|; seq: calls whose whole key "
          "sequence is exact; acc: accepted/ignored right; greet s: |root listen_after error|; "
          "wait: nodes with truth <= wait <= truth + 1.5 s; RTF: analysis time / audio time; "
          "MB: peak RSS of a worker; mm: multimon-ng (lat: report time - onset).")
    nav = total["dtmf"].get("accepted_accuracy_navigation")
    if nav is not None:
        print(f"accepted/ignored accuracy on navigation presses only (entry digits left out): {_pct(nav).strip()}")
    c = total["dtmf"].get("_counts") or {}
    if c.get("merged_n"):
        print(f"accepted/ignored accuracy once each company's calls are read together "
              f"(trees.reconcile): {c['merged_ok']}/{c['merged_n']} presses ({100 * c['merged_ok'] / c['merged_n']:.1f} %)")
    if total.get("_entries") and total["_entries"][1]:
        (a, n), h = total["_entries"], total["_entries_heard"]
        print(f"entry tokens per call: {a}/{n} at the true path; {h}/{n} of the input prompts heard "
              f"(the token of the visit playing it, wherever a misjudged press put it)")
    te = [r["tree_entries"] for r in reps if r.get("tree_entries")]
    if te and sum(b for _, b in te):
        print(f"entry tokens of the merged trees' input nodes: {sum(a for a, _ in te)}/{sum(b for _, b in te)}")
    roots = [(r["dir"], r["tree_root_listen_error"]) for r in reps if r.get("tree_root_listen_error") is not None]
    if roots:
        errs_s = [e for _, e in roots]
        print(f"root listen-start error of the merged trees: mean {sum(errs_s) / len(errs_s):.2f} s, "
              f"max {max(errs_s):.2f} s ({max(roots, key=lambda x: x[1])[0]}) over {len(roots)} companies")
    errs = {}
    for r in reps:
        for k, v in r.get("errors", {}).items():
            errs.setdefault(f"{k}: {v}", []).append(r["dir"])
    for e, where in errs.items():
        print(f"not measured ({', '.join(where)}): {e}")
    for r in reps:
        o = r.get("options")
        if o and o["misses"]:
            print(f"{r['dir']}: options missed: {'; '.join(o['misses'][:8])}{' ...' if len(o['misses']) > 8 else ''}")
        if o and o.get("false"):
            print(f"{r['dir']}: false options: {'; '.join(o['false'][:8])}{' ...' if len(o['false']) > 8 else ''}")


def score_diffs(reps: list[dict], comps: list[dict]) -> list[dict]:
    """For each company folder X with a folder X-v2: the menu changes ivrkit reports
    between the trees it built (and between the true trees, to isolate the diff step)
    against the changes computed from the true trees."""
    by = {c["name"]: (c, r) for c, r in zip(comps, reps)}
    out = []
    for name, (c1, r1) in by.items():
        if f"{name}-v2" not in by:
            continue
        c2, r2 = by[f"{name}-v2"]
        if not (c1["tree"] and c2["tree"]):
            continue
        exp = scoring.expected_diff(c1["tree"], c2["tree"])
        row = {"pair": f"{name} -> {name}-v2", "expected": exp, "from_calls": None, "from_true_trees": None,
               "error": None}
        try:
            from ivrkit.trees.diff import diff_trees
            from ivrkit.trees.io import tree_from_json

            row["from_true_trees"] = scoring.score_diff(
                exp, diff_trees(tree_from_json(c1["tree"]), tree_from_json(c2["tree"])))
            if r1.get("found_tree") and r2.get("found_tree"):
                found = diff_trees(tree_from_json(r1["found_tree"]), tree_from_json(r2["found_tree"]))
                row["found"] = found
                row["from_calls"] = scoring.score_diff(exp, found)
        except Exception as e:  # noqa: BLE001
            row["error"] = _err(e)
        out.append(row)
    return out


def print_diffs(rows: list[dict]) -> None:
    for row in rows:
        print(f"\nmenu change {row['pair']} (right/expected, +spurious):")
        if row["error"]:
            print(f"  not measured: {row['error']}")
        for label, sc in (("from the calls", row["from_calls"]), ("true trees", row["from_true_trees"])):
            if sc is None:
                print(f"  {label:15} -")
                continue
            print(f"  {label:15} " + "  ".join(f"{k} {v['right']}/{v['expected']}" + (f" +{v['spurious']}" if v["spurious"] else "")
                                          for k, v in sc.items()))


def print_conditions(reps: list[dict]) -> None:
    cond = defaultdict(lambda: [0, 0, 0])
    for r in reps:
        for k, v in r.get("_conditions", {}).items():
            for i in range(3):
                cond[k][i] += v[i]
    if not cond:
        return
    has_mm = any(v[2] for v in cond.values())
    print("\nDTMF recall by condition (all calls):" + ("  ivrkit | multimon-ng" if has_mm else ""))
    last = None
    for k in sorted(cond):
        c, b = k.split("::")
        n, hi, hm = cond[k]
        mm = f" | {100 * hm / n:3.0f}%" if has_mm else ""
        print(f"  {c if c != last else '':12} {b:24} {n:4} presses  {100 * hi / n:3.0f}%{mm}")
        last = c


def _caller_heard(truth: dict, timeline: dict | None) -> tuple[int, int]:
    """(caller utterances whose words the timeline put in IVR speech, utterances)."""
    said = (truth.get("phone") or {}).get("caller_speech") or []
    if not timeline:
        return 0, len(said)
    speech = [e for e in timeline["events"] if e["type"] == "speech"]
    heard = 0
    for u in said:
        words = {w.strip(",.?").lower() for w in u["text"].split()} - {"uh", "a", "to", "was"}
        near = " ".join(e["text"].lower() for e in speech if e["start"] < u["end"] + 0.3 and e["end"] > u["start"] - 0.3)
        heard += bool(words) and any(w in near.split() for w in words)
    return heard, len(said)


def print_phone(results: list[dict]) -> None:
    """The "phone recordings" group: calls made with ``simulate.py corpus --channel phone``
    (truth has a ``phone`` section), by codec family: DTMF precision / recall / onset,
    and how often the caller's own words ended up in the IVR's speech."""
    rows = defaultdict(lambda: {"calls": 0, "tp": 0, "fp": 0, "fn": 0, "errs": [], "heard": 0, "said": 0})
    for r in results:
        ph = r["truth"].get("phone")
        if ph is None or r["presses"] is None:
            continue
        fam = r["truth"]["codec"].partition(":")[0] + (" (stereo)" if ph.get("stereo") else "")
        for g in (fam, "all phone calls"):
            row = rows[g]
            truth = r["truth"]["presses"]
            pairs = scoring.match_presses(truth, r["presses"])
            row["calls"] += 1
            row["tp"] += len(pairs)
            row["fn"] += len(truth) - len(pairs)
            row["fp"] += len(r["presses"]) - len(pairs)
            row["errs"] += [abs(r["presses"][j]["start"] - truth[i]["start"]) * 1000 for i, j in pairs]
            h, n = _caller_heard(r["truth"], r["timeline"])
            row["heard"] += h
            row["said"] += n
    if not rows:
        return
    print("\nphone recordings (simulate.py corpus --channel phone):")
    print(f"  {'channel':18} {'calls':>5} {'dtmf P':>7} {'R':>6} {'on ms':>6} {'caller words in IVR speech':>27}")
    for g in sorted(rows, key=lambda k: (k == "all phone calls", k)):
        row = rows[g]
        m = scoring.prf(row["tp"], row["fp"], row["fn"])
        on = sum(row["errs"]) / len(row["errs"]) if row["errs"] else float("nan")
        pr, rc = (float("nan") if m[k] is None else m[k] for k in ("precision", "recall"))
        print(f"  {g:18} {row['calls']:5d} {pr:7.3f} {rc:6.3f} {on:6.1f} "
              f"{row['heard']:>20d} / {row['said']}")


def _progress(r: dict, i: int, n: int) -> dict:
    """One stderr line per call: long runs show they are alive."""
    if sys.stderr.isatty() or os.environ.get("IVRKIT_PROGRESS"):
        el = "-" if r["elapsed"] is None else f"{r['elapsed']:.1f} s"
        print(f"[{i}/{n}] {Path(r['dir']).name}/{r['truth']['file']}: {r['truth']['duration']:.0f} s audio, "
              f"analysis {el}", file=sys.stderr)
    return r


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path("corpus"))
    ap.add_argument("--only", help="companies (folder or company names, comma-separated)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--json", type=Path, help="write all figures (and per-call results) here")
    ap.add_argument("--dtmf-only", action="store_true", help="no speech recognition")
    ap.add_argument("--engine", default="auto")
    ap.add_argument("--model", default=None)
    ap.add_argument("--no-multimon", action="store_true")
    ap.add_argument("--beam", type=int, help="Whisper beam size (default: the engine's greedy decode)")
    ap.add_argument("--no-prompt", action="store_true", help="Whisper without the menu-vocabulary prompt")
    ap.add_argument("--denoise", choices=("auto", "on", "off"), default="auto",
                    help="the line's steady noise out of Whisper's features (audio/noisefloor.py): auto "
                    "(default, the engine's: noisy windows read both ways, the surer reading kept), on "
                    "(every window), off (never; the features as faster-whisper computes them)")
    ap.add_argument("--lang", help="languages the menus may speak (discover --lang), e.g. en,es,fr,ru")
    ap.add_argument("--strategy", choices=("english-first", "identify", "multilingual"),
                    help="how --lang's recognizer splits the work (default: the engine's)")
    ap.add_argument("--pipeline", action="store_true", help="each company's calls through "
                    "pipeline.analyse_calls (streamed decoding, speech-only audio), as `discover map` runs them")
    ap.add_argument("--reuse", action="store_true", help="--pipeline with prompt reuse (discovery/reuse.py, experimental)")
    ap.add_argument("--from-json", type=Path, help="score the per-call results of an earlier --json run "
                    "against the current truth files, without analysing again")
    a = ap.parse_args(argv)
    comps = find_companies(a.corpus, a.only)
    if not comps:
        print(f"no calls with truth under {a.corpus} (render it: python recordings/simulate.py corpus "
              f"--out {a.corpus})", file=sys.stderr)
        return 2
    use_mm = not a.no_multimon and multimon.available()
    tasks = [(c["dir"], t) for c in comps for t in c["calls"]]
    if a.from_json:
        return rescore(a, comps, tasks)
    init = (a.engine, a.model, a.dtmf_only, use_mm, a.beam, a.no_prompt, a.lang, a.strategy, a.denoise)
    t0 = time.perf_counter()
    if a.reuse or a.pipeline:
        groups = [([t for t in tasks if t[0] == c["dir"]], a.reuse) for c in comps]
        if a.jobs > 1:
            from multiprocessing import Pool

            with Pool(a.jobs, initializer=_init, initargs=init) as pool:
                results = [r for rs in pool.imap_unordered(run_company, groups) for r in rs]
        else:
            _init(*init)
            results = [r for g in groups for r in run_company(g)]
        results = [_progress(r, i, len(tasks)) for i, r in enumerate(results, 1)]
    elif a.jobs > 1:
        from multiprocessing import Pool

        with Pool(a.jobs, initializer=_init, initargs=init) as pool:
            results = [_progress(r, i, len(tasks)) for i, r in enumerate(pool.imap_unordered(run_call, tasks), 1)]
    else:
        _init(*init)
        results = [_progress(run_call(t), i, len(tasks)) for i, t in enumerate(tasks, 1)]
    wall = time.perf_counter() - t0
    mode = "DTMF only (no speech recognition)" if a.dtmf_only else f"engine {a.engine}" + (
        f", --lang {a.lang}" + (f" ({a.strategy})" if a.strategy else "") if a.lang else "")
    if a.reuse or a.pipeline:
        mode += ", pipeline.analyse_calls" + (" with prompt reuse" if a.reuse else "")
    head = (f"ivrkit accuracy on {a.corpus}: {len(comps)} companies, {len(tasks)} calls, {mode}, "
            f"{a.jobs} job(s), {wall:.0f} s wall" + ("" if use_mm else ", multimon-ng not run"))
    return report(a, comps, results, head, mode)


def rescore(a, comps: list[dict], tasks) -> int:
    saved = json.loads(a.from_json.read_text())
    by_file = {(Path(c["dir"]).name, c["file"]): c for c in saved["calls"]}
    results = []
    for d, t in tasks:
        truth = json.loads(Path(t).read_text())
        c = by_file.get((Path(d).name, truth["file"]))
        if c is None:
            continue
        results.append({"dir": d, "truth": truth, "timeline": c["timeline"], "presses": c["presses"],
                        "multimon": c["multimon"], "elapsed": c["elapsed"], "errors": c["errors"],
                        "engine_error": c.get("engine_error"), "maxrss_mb": c.get("maxrss_mb")})
    comps = [c for c in comps if any(r["dir"] == c["dir"] for r in results)]
    head = f"ivrkit accuracy on {a.corpus}: {len(comps)} companies, {len(results)} calls, {saved['mode']} " \
           f"(re-scored from {a.from_json})"
    return report(a, comps, results, head, saved["mode"])


def report(a, comps, results, head, mode) -> int:
    by_dir = defaultdict(list)
    for r in results:
        by_dir[r["dir"]].append(r)
    reps = [score_company(c, by_dir[c["dir"]], mode.startswith("DTMF only")) for c in comps]
    total = total_report(reps)
    print(head)
    print_report(reps, total)
    print_conditions(reps)
    print_languages(reps)
    print_phone(results)
    diffs = score_diffs(reps, comps)
    print_diffs(diffs)
    if a.json:
        out = {"corpus": str(a.corpus), "mode": mode, "companies": reps, "total": total, "diffs": diffs,
               "calls": [{"dir": r["dir"], "file": r["truth"]["file"], "elapsed": r["elapsed"],
                          "maxrss_mb": r.get("maxrss_mb"), "engine_error": r.get("engine_error"),
                          "presses": r["presses"], "multimon": r["multimon"], "errors": r["errors"],
                          "timeline": r["timeline"]} for r in results]}
        a.json.write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
