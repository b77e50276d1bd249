"""Tree JSON: lossless round trip, refusal of anything that is not an ivrkit.tree/1
tree, and writes that never leave half a file."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ivrkit.trees.build import merge_timelines
from ivrkit.trees.io import TreeSchemaError, read_tree, tree_from_json, tree_to_json, write_tree
from ivrkit.trees.synth import simulate_call

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"
SPEC = {"greeting": "Welcome to Acme.", "kind": "menu", "listen_after": 3.0,
        "options": {"1": {"label": "sales", "kind": "agent"},
                    "2": {"label": "accounts", "kind": "menu", "greeting": "Accounts.", "listen_after": 0.4,
                          "options": {"1": {"label": "pay", "kind": "input", "entry": "4D", "listen_after": 0.2},
                                      "*": {"label": "main menu", "role": "back"}}}}}


@pytest.fixture(scope="module")
def tree():
    calls = [simulate_call(SPEC, [("9", 1.0), ("2", 3.5), ("1", 0.6), ("4D", 0.5)], file="a.wav"),
             simulate_call(SPEC, [("2", 4.0), ("*", 1.0), ("1", 3.2)], file="b.wav")]
    return merge_timelines(calls, company="Acme", number="+972-3-555-0100")


def _same(G, H):
    assert G.graph == H.graph
    assert dict(G.nodes(data=True)) == dict(H.nodes(data=True))
    assert {(u, v): d for u, v, d in G.edges(data=True)} == {(u, v): d for u, v, d in H.edges(data=True)}


def test_round_trip_is_lossless(tree, tmp_path):
    d = tree_to_json(tree)
    assert d["graph"]["schema"] == "ivrkit.tree/1" and d["directed"] is True and "edges" in d
    assert {"id", "path", "kind", "prompt", "listen_after", "wait"} <= set(d["nodes"][0])
    edge = next(e for e in d["edges"] if e["target"] == "2")
    assert {"source", "target", "key", "label", "confidence", "evidence", "role"} <= set(edge)
    _same(tree_from_json(json.loads(json.dumps(d))), tree_from_json(d))
    p = tmp_path / "t.json"
    write_tree(tree, p)
    back = read_tree(p)
    _same(back, tree_from_json(d))
    write_tree(back, tmp_path / "u.json")
    assert (tmp_path / "u.json").read_text() == p.read_text()


def test_the_simulators_true_trees_load():
    for name in ("northwind", "northwind-v2"):
        G = read_tree(RECORDINGS / name / "tree.json")
        assert G.nodes["root"]["kind"] == "menu" and G.number_of_nodes() > 8


def _refuse(d, words):
    with pytest.raises(TreeSchemaError) as ei:
        tree_from_json(d)
    msg = str(ei.value)
    assert "\n" not in msg and words in msg
    return msg


def test_refuses_other_schemas_and_malformed(tree):
    good = tree_to_json(tree)
    bad = json.loads(json.dumps(good))
    bad["graph"]["schema"] = "ivrkit.timeline/1"
    _refuse(bad, "ivrkit.timeline/1")
    _refuse([1, 2], "JSON object")
    _refuse({"graph": {"schema": "ivrkit.tree/1"}, "directed": True, "nodes": "x", "edges": []}, "lists")
    bad = json.loads(json.dumps(good))
    bad["nodes"][1]["kind"] = "robot"
    _refuse(bad, "robot")
    bad = json.loads(json.dumps(good))
    bad["nodes"] = [n for n in bad["nodes"] if n["id"] != "root"]
    bad["edges"] = [e for e in bad["edges"] if e["source"] != "root"]
    _refuse(bad, "root")
    bad = json.loads(json.dumps(good))
    bad["nodes"][1]["id"] = "7"
    _refuse(bad, "does not match its path")


def test_refuses_what_is_not_a_tree(tree):
    bad = tree_to_json(tree)
    # "2/1" given a second parent: a DAG, not a tree
    bad["edges"].append({"source": "1", "target": "2/1", "key": "1", "label": "x"})
    _refuse(bad, "not a tree")
    bad = tree_to_json(tree)
    bad["edges"].append({"source": "2", "target": "nowhere", "key": "5"})
    _refuse(bad, "two known nodes")
    bad = tree_to_json(tree)
    bad["directed"] = False
    _refuse(bad, "directed")


def test_read_tree_names_the_problem(tmp_path):
    p = tmp_path / "x.json"
    p.write_text("{not json")
    with pytest.raises(TreeSchemaError, match="not JSON"):
        read_tree(p)
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(TreeSchemaError):
        read_tree(p)
    with pytest.raises(TreeSchemaError, match="cannot read"):
        read_tree(tmp_path / "missing.json")
    p.write_text(json.dumps({"schema": "ivrkit.timeline/1", "menus": []}))
    with pytest.raises(TreeSchemaError, match="graph"):
        read_tree(p)


def test_write_is_all_or_nothing(tree, tmp_path):
    p = tmp_path / "tree.json"
    write_tree(tree, p)
    before = p.read_bytes()
    broken = tree.copy()
    broken.nodes["root"]["not_json"] = object()  # serialisation fails half way
    with pytest.raises(TypeError):
        write_tree(broken, p)
    assert p.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["tree.json"]  # no temp file left behind
    with pytest.raises(OSError):
        write_tree(tree, tmp_path / "no" / "such" / "dir.json")
