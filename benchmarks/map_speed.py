"""Speed of `map` on the simulated corpus, side by side with an older checkout.

    python benchmarks/map_speed.py [--corpus /work/corpus] [--baseline /work/baseline]
                                   [--only COMPANY ...] [--json out.json]

Two worker processes, each with its model loaded once: one imports ivrkit from this
tree, one from ``--baseline`` (its own ``.venv``; only the API both have:
``timeline.analyse_call`` + ``trees.build.merge_timelines``). Companies are handed to
them in turn (old, new, old, new ...), so both see the same load on a shared machine.
Per company and in total it prints:

- ``old`` / ``new``: seconds to map the company's calls (new: prompt reuse on, no
  cache) and the real-time factor (seconds of work per second of audio);
- ``warm``: the same map again from the analysis cache, and its share of the first;
- ``into``: ``map --into`` the company's last call (tree of the others read from disk,
  fresh cache) against analysing that call alone;
- the share of speech reused, and each worker's peak memory.

Then one end-to-end CLI pair (`discover map` twice, same cache) on the first company.

``--map-only`` (issue 17's speed target): both workers run the same library calls,
``pipeline.analyse_calls(calls)`` + ``map_timelines`` (= ``map_calls``; no cache, no
reuse: what `discover map --no-cache` does, each tree with its defaults: this tree's
analyses the machine's cores' worth of calls at once), each company once per tree, the
order swapped from one company to the next; printed per company: seconds, RTF of each
tree, ratio (wall), CPU seconds (all threads + ffmpeg) per audio second of each and
their ratio, how many calls' timelines differ (sha256 of the whole JSON), the load
average. Then ``--cli-rounds`` rounds of `discover map CALLS --no-cache` of
``--cli-company`` (default the first) under ``/usr/bin/time -v``, old and new
alternating: wall, CPU and peak memory of the `discover` process (``peak``) and of its
whole process tree (``tree``: summed PSS, ffmpeg runs included), start-up and model
load included.
"""
from __future__ import annotations

import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent


# ---------------------------------------------------------------- worker side

def _old_map(calls, engine):
    from ivrkit.discovery.timeline import analyse_call
    from ivrkit.trees.build import merge_timelines

    tls = [analyse_call(c, engine) for c in calls]
    merge_timelines(tls)
    return tls


def _new_task(calls, engine, scratch):
    from ivrkit.discovery.cache import AnalysisCache
    from ivrkit.discovery.pipeline import analyse_call, map_calls
    from ivrkit.discovery.reuse import ReuseEngine
    from ivrkit.trees.io import read_tree, write_tree

    out = {}
    reuse = ReuseEngine(engine)
    cache = AnalysisCache(Path(scratch) / "cache")
    t0, c0 = time.perf_counter(), _cpu_s()
    G = map_calls(calls, engine=reuse, cache=cache)
    out["new_s"], out["new_cpu_s"] = time.perf_counter() - t0, _cpu_s() - c0
    out["reused_share"] = reuse.stats["reused_s"] / max(1e-9, reuse.stats["reused_s"] + reuse.stats["decoded_s"])
    t0 = time.perf_counter()
    G2 = map_calls(calls, engine=ReuseEngine(engine), cache=cache)
    out["warm_s"] = time.perf_counter() - t0
    out["warm_same"] = sorted(G.edges) == sorted(G2.edges)
    if len(calls) > 1:
        tree = Path(scratch) / "tree.json"
        cache2 = AnalysisCache(Path(scratch) / "cache2")
        write_tree(map_calls(calls[:-1], engine=ReuseEngine(engine), cache=cache2), tree)
        t0 = time.perf_counter()
        analyse_call(calls[-1], engine)
        out["alone_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        write_tree(map_calls(calls[-1:], into=read_tree(tree), engine=ReuseEngine(engine), cache=cache2), tree)
        out["into_s"] = time.perf_counter() - t0
    return out


def _map_task(calls, engine, reuse=False):
    """``map_calls`` as its two steps (``analyse_calls``, ``map_timelines``: what it runs),
    so the timelines can be compared: their sha256 (sorted-key JSON) come back too."""
    import hashlib

    from ivrkit.discovery.pipeline import analyse_calls, map_timelines

    t0, c0 = time.perf_counter(), _cpu_s()
    tls = analyse_calls(calls, engine, **({"reuse": True} if reuse else {}))
    map_timelines(tls)
    out = {"s": time.perf_counter() - t0, "cpu_s": _cpu_s() - c0}
    out["digests"] = [hashlib.sha256(json.dumps(tl, sort_keys=True).encode()).hexdigest() for tl in tls]
    return out


def _cpu_s() -> float:
    """CPU seconds of this process (all threads) and its finished children (ffmpeg)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def worker(kind: str) -> None:
    """Read one JSON task per line on stdin, answer one JSON line on stdout."""
    from ivrkit.discovery.asr import make_engine

    if kind == "new":  # as `discover map` does before analysing (this tree's pipeline has it)
        from ivrkit.discovery.pipeline import one_malloc_arena

        one_malloc_arena()
    engine = make_engine("auto")
    for line in sys.stdin:
        task = json.loads(line)
        scratch = tempfile.mkdtemp(prefix="ivrkit-map-speed-")
        cpu0 = _cpu_s()
        try:
            if not task["calls"]:  # the driver asks for the peak memory at the end
                res = {}
            elif task.get("map_only"):
                res = _map_task(task["calls"], engine, task.get("reuse", False))
            elif kind == "old":
                t0, c0 = time.perf_counter(), _cpu_s()
                _old_map(task["calls"], engine)
                res = {"old_s": time.perf_counter() - t0, "old_cpu_s": _cpu_s() - c0}
            else:
                res = _new_task(task["calls"], engine, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        res["cpu_s"] = _cpu_s() - cpu0
        res["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(res), flush=True)


# ---------------------------------------------------------------- driver side

def _start(python: str, kind: str, cwd: Path):
    env = dict(os.environ, PYTHONPATH="")
    return subprocess.Popen([python, str(HERE), "--worker", kind], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=cwd, env=env)


def _ask(proc, calls, map_only: bool = False, reuse: bool = False) -> dict:
    proc.stdin.write(json.dumps({"calls": calls, "map_only": map_only, "reuse": reuse}) + "\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError("worker died")
    return json.loads(line)


def _close_workers(old, new) -> dict:
    """Each worker's peak memory (MB), then the workers ended."""
    mem = {"old": _ask(old, [])["maxrss_mb"], "new": _ask(new, [])["maxrss_mb"]}
    for p in (old, new):
        p.stdin.close()
        p.wait()
    return mem


def _duration(path: str) -> float:
    from ivrkit.audio.io import probe_duration

    return probe_duration(path)


def _cli_pair(calls: list[str]) -> tuple[float, float]:
    disc = str(Path(sys.executable).with_name("discover"))
    cache = tempfile.mkdtemp(prefix="ivrkit-cli-cache-")
    times = []
    try:
        for _ in range(2):
            t0 = time.perf_counter()
            subprocess.run([disc, "map", *calls, "--cache", cache], check=True, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - t0)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return times[0], times[1]


def _cli_timed(tree: Path, calls: list[str]) -> dict:
    """`discover map CALLS --no-cache` of ``tree``'s venv under /usr/bin/time -v."""
    out = tempfile.mkdtemp(prefix="ivrkit-cli-map-")
    try:
        cmd = ["/usr/bin/time", "-v", str(tree / ".venv" / "bin" / "discover"), "map", *calls, "--no-cache",
               "--out", str(Path(out) / "tree.json")]
        t0 = time.perf_counter()
        with open(Path(out) / "stderr", "w+") as log:  # a file: a full pipe would stop the run
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, text=True, cwd=tree,
                                 env=dict(os.environ, PYTHONPATH=""))
            tree_mb = _tree_peak_mb(p)
            p.wait()
            wall = time.perf_counter() - t0
            log.seek(0)
            stderr = log.read()
    finally:
        shutil.rmtree(out, ignore_errors=True)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[2]} map failed: {stderr[-500:]}")
    f = {}
    for line in stderr.splitlines():
        k, _, v = line.strip().rpartition(": ")
        f[k] = v
    cpu = float(f["User time (seconds)"]) + float(f["System time (seconds)"])
    return {"s": wall, "cpu_s": cpu, "peak_mb": int(f["Maximum resident set size (kbytes)"]) / 1024,
            "tree_mb": tree_mb}


def _tree_peak_mb(proc, every_s: float = 0.1) -> float:
    """Peak of the summed proportional set size (PSS: a page shared by n processes
    counts 1/n in each) of ``proc`` and all its descendants (the `discover` process,
    its threads, its ffmpeg runs; /usr/bin/time itself included), sampled every
    ``every_s`` until ``proc`` ends. (RSS summed counts a child forked before its exec
    as a second copy of the parent.)"""
    import psutil

    peak = 0
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            rss = sum(q.memory_full_info().pss for q in [root, *root.children(recursive=True)])
        except psutil.Error:  # a child ended between listing and reading it
            continue
        peak = max(peak, rss)
        time.sleep(every_s)
    return peak / 2 ** 20


def side_by_side(a, comps) -> None:
    """--map-only: see the module doc."""
    old = _start(str(Path(a.baseline) / ".venv" / "bin" / "python"), "old", Path(a.baseline))
    new = _start(sys.executable, "new", ROOT)
    # two calls: this tree's worker loads the model a company's map uses (two workers)
    warmup = [str(ROOT / "tests" / "fixtures" / "calls" / "contoso" / f"call0{i}.wav") for i in (1, 2)]
    _ask(old, warmup, True), _ask(new, warmup, True)  # models loaded, imports done: not counted
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print(f"{'company':22} {'calls':>5} {'audio s':>8} {'old s':>7} {'new s':>7} {'old RTF':>8} {'new RTF':>8} "
          f"{'ratio':>6} {'old CPU/s':>9} {'new CPU/s':>9} {'CPU ratio':>9} {'differ':>6} {'load':>5}")
    rows = []
    for k, d in enumerate(comps):
        calls = [str(p) for p in sorted(d.glob("call*.wav"))]
        audio = sum(_duration(c) for c in calls)
        order = [("old", old), ("new", new)] if k % 2 == 0 else [("new", new), ("old", old)]
        r = {"company": d.name, "calls": len(calls), "audio_s": audio}
        for name, proc in order:
            got = _ask(proc, calls, True, a.reuse and name == "new")
            r[name], r[name + "_cpu"], r[name + "_digests"] = got["s"], got["cpu_s"], got.get("digests")
        r["differ"] = sum(a != b for a, b in zip(r["old_digests"], r["new_digests"]))
        r["load"] = os.getloadavg()[0]
        rows.append(r)
        print(f"{d.name:22} {len(calls):5d} {audio:8.1f} {r['old']:7.1f} {r['new']:7.1f} {r['old'] / audio:8.4f} "
              f"{r['new'] / audio:8.4f} {r['old'] / r['new']:5.2f}x {r['old_cpu'] / audio:9.4f} "
              f"{r['new_cpu'] / audio:9.4f} {r['old_cpu'] / r['new_cpu']:8.2f}x {r['differ']:4d}/{len(calls):<1d} "
              f"{r['load']:5.1f}", flush=True)
    mem = _close_workers(old, new)
    audio = sum(r["audio_s"] for r in rows)
    t = {k: sum(r[k] for r in rows) for k in ("old", "new", "old_cpu", "new_cpu")}
    print(f"\ntotal: {len(rows)} companies, {sum(r['calls'] for r in rows)} calls, {audio:.0f} s of audio")
    print(f"  old {t['old']:.1f} s (RTF {t['old'] / audio:.4f}, {audio / t['old']:.0f}x real time)   "
          f"new {t['new']:.1f} s (RTF {t['new'] / audio:.4f}, {audio / t['new']:.0f}x real time)   "
          f"ratio {t['old'] / t['new']:.2f}x")
    print(f"  CPU seconds per audio second: old {t['old_cpu'] / audio:.4f}  new {t['new_cpu'] / audio:.4f}  "
          f"ratio {t['old_cpu'] / t['new_cpu']:.2f}x")
    print(f"  timelines that differ (old vs new, whole JSON: words, times, keys, menus): "
          f"{sum(r['differ'] for r in rows)} of {sum(r['calls'] for r in rows)} calls")
    print(f"  peak memory of the worker (model + all companies): old {mem['old']:.0f} MB, new {mem['new']:.0f} MB")
    cli = next((d for d in comps if d.name == a.cli_company), comps[0])
    calls = [str(p) for p in sorted(cli.glob("call*.wav"))]
    audio = sum(_duration(c) for c in calls)
    print(f"\nCLI `discover map {cli.name}/call*.wav --no-cache`, {audio:.0f} s of audio, process start included:")
    for i in range(a.cli_rounds):
        got = {}
        for name, tree in ((("old", Path(a.baseline)), ("new", ROOT)) if i % 2 == 0
                           else (("new", ROOT), ("old", Path(a.baseline)))):
            got[name] = _cli_timed(tree, calls)
        print(f"  round {i + 1}: " + "   ".join(
            f"{n} {got[n]['s']:.1f} s (RTF {got[n]['s'] / audio:.4f}, CPU {got[n]['cpu_s']:.1f} s, "
            f"peak {got[n]['peak_mb']:.0f} MB, tree {got[n]['tree_mb']:.0f} MB)" for n in ("old", "new"))
            + f"   ratio {got['old']['s'] / got['new']['s']:.2f}x  load {os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default="/work/corpus")
    ap.add_argument("--baseline", default="/work/baseline", help="older checkout with its own .venv")
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--map-only", action="store_true", help="plain `map` side by side (see above)")
    ap.add_argument("--reuse", action="store_true",
                    help="--map-only: this tree's worker maps with prompt reuse (map_calls(reuse=True))")
    ap.add_argument("--cli-company", default=None, help="--map-only: the company of the CLI rounds")
    ap.add_argument("--cli-rounds", type=int, default=2)
    ap.add_argument("--worker", choices=("old", "new"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a.worker)
    comps = sorted(d for d in Path(a.corpus).iterdir() if d.is_dir() and list(d.glob("call*.wav")))
    if a.only:
        comps = [d for d in comps if d.name in a.only]
    if not comps:
        sys.exit(f"{a.corpus}: no company folders with call*.wav")
    if a.map_only:
        return side_by_side(a, comps)
    old = _start(str(Path(a.baseline) / ".venv" / "bin" / "python"), "old", Path(a.baseline))
    new = _start(sys.executable, "new", ROOT)
    warmup = [str(ROOT / "tests" / "fixtures" / "calls" / "contoso" / "call02.wav")]
    _ask(old, warmup), _ask(new, warmup)  # models loaded, caches hot: not counted
    rows = []
    print(f"{'company':22} {'calls':>5} {'audio s':>8} {'old s':>7} {'new s':>7} {'ratio':>6} {'CPU ratio':>9} "
          f"{'old RTF':>8} {'new RTF':>8} {'reused':>7} {'warm s':>7} {'warm %':>7} {'alone s':>8} {'into s':>7}")
    for d in comps:
        calls = [str(p) for p in sorted(d.glob("call*.wav"))]
        audio = sum(_duration(c) for c in calls)
        r = {"company": d.name, "calls": len(calls), "audio_s": audio, **_ask(old, calls)}
        got = _ask(new, calls)
        got.pop("maxrss_mb")
        r.pop("maxrss_mb")
        r.update(got)
        rows.append(r)
        print(f"{d.name:22} {len(calls):5d} {audio:8.1f} {r['old_s']:7.1f} {r['new_s']:7.1f} "
              f"{r['old_s'] / r['new_s']:5.2f}x {r['old_cpu_s'] / r['new_cpu_s']:8.2f}x {r['old_s'] / audio:8.4f} {r['new_s'] / audio:8.4f} "
              f"{100 * r['reused_share']:6.0f}% {r['warm_s']:7.2f} {100 * r['warm_s'] / r['new_s']:6.1f}% "
              f"{r.get('alone_s', 0):8.2f} {r.get('into_s', 0):7.2f}", flush=True)
    mem = _close_workers(old, new)
    audio = sum(r["audio_s"] for r in rows)
    t_old, t_new = sum(r["old_s"] for r in rows), sum(r["new_s"] for r in rows)
    t_warm = sum(r["warm_s"] for r in rows)
    into = [r["into_s"] / r["alone_s"] for r in rows if "into_s" in r]
    print(f"\ntotal: {len(rows)} companies, {sum(r['calls'] for r in rows)} calls, {audio:.0f} s of audio")
    print(f"  old {t_old:.1f} s (RTF {t_old / audio:.4f}, {audio / t_old:.0f}x real time)   "
          f"new {t_new:.1f} s (RTF {t_new / audio:.4f}, {audio / t_new:.0f}x real time)   "
          f"speed-up {t_old / t_new:.2f}x")
    c_old, c_new = sum(r["old_cpu_s"] for r in rows), sum(r["new_cpu_s"] for r in rows)
    print(f"  CPU seconds: old {c_old:.1f} (per audio s {c_old / audio:.4f})   new {c_new:.1f} "
          f"(per audio s {c_new / audio:.4f})   ratio {c_old / c_new:.2f}x")
    print(f"  second map from the cache: {t_warm:.2f} s = {100 * t_warm / t_new:.1f} % of the first "
          f"(trees equal: {all(r['warm_same'] for r in rows)})")
    if into:
        print(f"  --into one call / that call alone: median {sorted(into)[len(into) // 2]:.2f}, max {max(into):.2f}")
    print(f"  peak memory: old worker {mem['old']:.0f} MB, new worker {mem['new']:.0f} MB")
    first = [str(p) for p in sorted(comps[0].glob("call*.wav"))]
    cold, warm = _cli_pair(first)
    print(f"  CLI `discover map` {comps[0].name} twice, same --cache: {cold:.2f} s, then {warm:.2f} s "
          f"({100 * warm / cold:.1f} %)")
    if a.json:
        Path(a.json).write_text(json.dumps({"rows": rows, "memory_mb": mem}, indent=2))


if __name__ == "__main__":
    main()
