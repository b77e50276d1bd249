"""The bundled Northwind Telecom calls, mapped end to end through the CLI, against
the simulator's ground truth (recordings/northwind/*.truth.json and tree.json)."""
import json
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from rapidfuzz import fuzz

#: speech recognition over whole calls / CLI runs: minutes
pytestmark = pytest.mark.slow

REC = Path(__file__).parents[1] / "recordings" / "northwind"
CALLS = sorted(REC.glob("call*.wav"))


def discover(*args):
    r = subprocess.run([sys.executable, "-m", "ivrkit.discovery.cli", *map(str, args)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    return r.stdout


def true_tree():
    return nx.node_link_graph(json.loads((REC / "tree.json").read_text()), edges="edges")


def options(G, only_parents=None):
    """{(parent path, key): label} for navigation options (back/repeat left out)."""
    out = {}
    for u, v, d in G.edges(data=True):
        if d.get("role", "option") != "option":
            continue
        parent = tuple(G.nodes[u]["path"])
        if only_parents is None or parent in only_parents:
            out[(parent, d["key"])] = d["label"]
    return out


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    out = tmp_path_factory.mktemp("map") / "northwind.json"
    text = discover("map", *CALLS, "--company", "Northwind Telecom", "--number", "1-800-555-0142", "--out", out)
    return text, json.loads(out.read_text())


def test_tree_file_follows_the_contract(mapped):
    _, d = mapped
    assert d["graph"]["schema"] == "ivrkit.tree/1" and d["directed"] is True
    assert {s["file"] for s in d["graph"]["sources"]} == {c.name for c in CALLS}
    ids = {n["id"] for n in d["nodes"]}
    assert "root" in ids
    G = nx.node_link_graph(d, edges="edges")
    assert nx.is_tree(G)
    for n, a in G.nodes(data=True):
        assert n == ("/".join(a["path"]) or "root")
        assert a["kind"] in {"menu", "agent", "input", "info", "back", "unknown"}


def test_options_match_ground_truth(mapped):
    _, d = mapped
    got = options(nx.node_link_graph(d, edges="edges"))
    truth_G = true_tree()
    visits = [v for c in CALLS for v in json.loads((REC / f"{c.stem}.truth.json").read_text())["visits"]
              if v["kind"] == "menu"]
    visited = {tuple(v["path"]) for v in visits}
    # an option the caller cut off with a key press has no label anyone heard
    heard = {(tuple(v["path"]), o["key"]) for v in visits for o in v["options"] if o["end"] <= v["end"]}
    want = {k: lab for k, lab in options(truth_G, only_parents=visited).items() if k in heard}
    every = options(truth_G)
    hits = [k for k in want if k in got and fuzz.token_set_ratio(got[k], want[k]) >= 80]
    recall = len(hits) / len(want)
    # a label-less option is fine when its key is real (pressed before the label played)
    judged = [k for k in got if k[0] in visited and (got[k] or k not in every)]
    precision = len(hits) / max(1, len(judged))
    assert recall >= 0.9, (want, got)
    assert precision >= 0.9, (want, got)


def test_kinds_and_entry_token(mapped):
    _, d = mapped
    G = nx.node_link_graph(d, edges="edges")
    T = true_tree()
    for n in ("root", "1", "2", "1/2", "2/2", "3", "4"):
        if n in G:
            assert G.nodes[n]["kind"] == T.nodes[n]["kind"], n
    assert G.nodes["1/2"]["entry"] == "Tel#"


def test_printed_tree_and_export(mapped, tmp_path):
    text, d = mapped
    assert "billing" in text and "technical support" in text
    tree = tmp_path / "t.json"
    tree.write_text(json.dumps(d))
    lines = discover("export", tree).splitlines()
    assert "1-800-555-0142 → 1,2,Tel#" in lines
    assert "1-800-555-0142 → 2,2" in lines
    entries = json.loads(discover("export", tree, "--format", "json"))
    tv = next(e for e in entries if e["keys"] == ["2", "2"])
    # waits: the first from the answer must cover the ignored-key greeting
    root_truth = true_tree().nodes["root"]["listen_after"]
    assert tv["waits"][0] >= root_truth
    assert tv["dial"].startswith("18005550142,") and tv["dial"].endswith(",2,2")


def test_timeline_presses_match_truth():
    call = REC / "call03.wav"
    tl = json.loads(discover("timeline", call, "--json"))
    truth = json.loads((REC / "call03.truth.json").read_text())
    got = [(e["key"], e["accepted"]) for e in tl["events"] if e["type"] == "dtmf"]
    assert got == [(p["key"], p["accepted"]) for p in truth["presses"]]
    for e, p in zip([e for e in tl["events"] if e["type"] == "dtmf"], truth["presses"]):
        assert abs(e["start"] - p["start"]) < 0.01
    assert abs(tl["greeting_onset"] - truth["greeting_onset"]) < 0.15
    assert [m["path"] for m in tl["menus"]] == [v["path"] for v in truth["visits"]]
