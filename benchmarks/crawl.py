"""Crawl simulator specs served by the test IVR over SIP, and score the crawl.

For each spec: kamailio on 127.0.0.1 between the crawler and ``recordings/ivr_server.py``;
``discover crawl`` through it; then scored against the spec's true tree and the IVR's own
log of every call: option F1 (options by key path), leaves reached, calls against
menus + leaves + 2, keys pressed inside parts that ignore keys after call 1, seconds
connected to an agent node after its hold music began. ``--recrawl OLD:NEW`` then swaps
the IVR's spec and runs ``discover recrawl``: the changes it reports against the changes
``trees.diff`` finds between the two true trees (missed / spurious).

    python benchmarks/crawl.py --spec northwind --recrawl northwind:northwind-v2
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "recordings"))
import ivr_server  # noqa: E402
import simulate as sim  # noqa: E402

from ivrkit.discovery import sip  # noqa: E402
from ivrkit.discovery.cli import main  # noqa: E402
from ivrkit.trees import diff_trees, read_tree, tree_from_json  # noqa: E402

PW = {"ivr": "bench-ivr", "crawler": "bench-crawler"}


def spec_path(name: str) -> Path:
    for p in (ROOT / "recordings" / name / "spec.json", ROOT / "recordings" / "specs" / f"{name}.json"):
        if p.exists():
            return p
    raise SystemExit(f"no spec {name!r}")


def true_options(spec: dict) -> set:
    return {(path, o["key"]) for path, n in spec["_nodes"].items() for o in n.get("options", [])}


def tree_options(G) -> set:
    out = set()
    for u, v, e in G.edges(data=True):
        if e.get("role") != "entry":
            out.add((tuple(G.nodes[u].get("path") or []), str(e["key"])))
    return out


def f1(found: set, truth: set) -> tuple[float, float, float]:
    tp = len(found & truth)
    p = tp / len(found) if found else 0.0
    r = tp / len(truth) if truth else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def score_crawl(spec: dict, G, calls: list[dict]) -> dict:
    leaves = {tuple(x) for x in sim.leaves(spec)}
    menus = sum(1 for n in spec["_nodes"].values() if n["kind"] == "menu")
    visited = {tuple(v["path"]) for c in calls for v in c["visits"]}
    p, r, f = f1(tree_options(G), true_options(spec))
    ignored = sum(1 for c in calls[1:] for k in c["keys"] if k["phase"] == "ignored")
    agent_s = [c["end"] - c["music"][0]["start"] for c in calls if c["music"]]
    agent_paths = {p for p, n in spec["_nodes"].items() if n["kind"] == "agent"}
    in_agent = [c["end"] - v["start"] for c in calls for v in c["visits"]
                if tuple(v["path"]) in agent_paths or v["kind"] == "agent"]
    return {"option_precision": round(p, 3), "option_recall": round(r, 3), "option_f1": round(f, 3),
            "leaves_reached": f"{len(leaves & visited)}/{len(leaves)}",
            "calls": len(calls), "menus+leaves+2": menus + len(leaves) + 2,
            "ignored_keys_after_call1": ignored,
            "max_s_after_hold_music": round(max(agent_s), 2) if agent_s else None,
            "max_s_in_agent_node": round(max(in_agent), 2) if in_agent else None,
            "connected_s": round(sum(c["end"] for c in calls), 1)}


def change_set(d: dict) -> set:
    out = set()
    for cat in ("added", "removed", "relabelled"):
        out |= {(cat, tuple(x["path"]), x["key"]) for x in d.get(cat, [])}
    out |= {("moved", tuple(x["from"]), tuple(x["to"])) for x in d.get("moved", [])}
    out |= {("entry", tuple(x["path"])) for x in d.get("entry", [])}
    return out


def run(spec_name: str, recrawl: str | None, work: Path) -> dict:
    spec_file = spec_path(spec_name)
    spec = sim.load_spec(spec_file)
    number = spec["number"]
    user = sip.dial_user(number)
    res = {"spec": spec_name}
    with ivr_server.Registrar({user: PW["ivr"], "crawler": PW["crawler"]}, work / "kamailio") as reg:
        srv = ivr_server.IvrServer(spec_file, sip.SipTarget(user, "127.0.0.1", reg.port), PW["ivr"])
        os.environ["IVRKIT_SIP_PASSWORD"] = PW["crawler"]
        common = ["--sip", f"sip:crawler@127.0.0.1:{reg.port}", "--pause-s", "0.5", "--max-call-s", "90"]
        with srv:
            t0 = time.perf_counter()
            rc = main(["crawl", number, *common, "--calls", str(work / "calls"), "--out", str(work / "tree.json"),
                       "--max-calls", "40"])
            res["crawl_rc"], res["crawl_wall_s"] = rc, round(time.perf_counter() - t0, 1)
            G = read_tree(work / "tree.json")
            res.update(score_crawl(spec, G, list(srv.calls)))
            (work / "ivr_calls.json").write_text(json.dumps(srv.calls, indent=1))
            if recrawl:
                old_name, new_name = recrawl.split(":")
                new_file = spec_path(new_name)
                srv.swap_spec(new_file)
                n0 = len(srv.calls)
                t0 = time.perf_counter()
                buf = io.StringIO()
                with contextlib.redirect_stdout(buf):
                    rc = main(["recrawl", str(work / "tree.json"), *common, "--calls", str(work / "recalls")])
                res["recrawl_rc"], res["recrawl_wall_s"] = rc, round(time.perf_counter() - t0, 1)
                res["recrawl_output"] = buf.getvalue()
                rcalls = srv.calls[n0:]
                res["recrawl_calls"] = len(rcalls)
                res["recrawl_ignored_keys"] = sum(1 for c in rcalls[1:] for k in c["keys"] if k["phase"] == "ignored")
                new_spec = sim.load_spec(new_file)
                r = sim.Renderer(sim.default_cache())
                truth = change_set(diff_trees(tree_from_json(sim.true_tree(spec, r)),
                                              tree_from_json(sim.true_tree(new_spec, r))))
                found = change_set(diff_trees(G, read_tree(work / "recalls" / "tree.json")))
                res["changes_true"] = len(truth)
                res["changes_reported"] = f"{len(found & truth)}/{len(truth)}"
                res["changes_missed"] = sorted(map(str, truth - found))
                res["changes_spurious"] = sorted(map(str, found - truth))
    return res


def main_cli(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", action="append", default=None, help="spec name (recordings/NAME or specs/NAME)")
    ap.add_argument("--recrawl", default=None, metavar="OLD:NEW", help="after crawling OLD, swap to NEW and recrawl")
    ap.add_argument("--work", type=Path, default=None, help="keep calls and trees here")
    a = ap.parse_args(argv)
    if not ivr_server.Registrar.available():
        print("kamailio is not installed (apt-get install kamailio)", file=sys.stderr)
        return 2
    names = a.spec or ["northwind"]
    base = a.work or Path(tempfile.mkdtemp(prefix="ivrkit-crawl-"))
    for name in names:
        rec = a.recrawl if a.recrawl and a.recrawl.split(":")[0] == name else None
        res = run(name, rec, base / name)
        out = res.pop("recrawl_output", None)
        print(json.dumps(res, indent=1))
        if out:
            print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main_cli())
