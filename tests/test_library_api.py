"""The library API: the bundled Northwind calls mapped through map_calls alone."""
from pathlib import Path

import pytest

from ivrkit.discovery import analyse_call, map_calls
from ivrkit.trees import export_entries, read_tree, write_tree

NW = Path(__file__).resolve().parent.parent / "recordings" / "northwind"


@pytest.mark.slow
def test_map_calls_maps_northwind(tmp_path):
    calls = sorted(NW.glob("call0*.wav"))
    G = map_calls(calls, company="Northwind Telecom", number="1-800-555-0142")
    truth = read_tree(NW / "tree.json")
    # every first-level option of the true tree is found under the same key
    true_keys = {d["key"] for _, _, d in truth.out_edges("root", data=True)}
    keys = {d["key"] for _, _, d in G.out_edges("root", data=True)}
    assert true_keys <= keys
    assert G.nodes["root"]["wait"] >= truth.nodes["root"]["listen_after"]
    out = tmp_path / "nw.json"
    write_tree(G, out)
    entries = export_entries(read_tree(out))
    assert any(e["directory"].startswith("1-800-555-0142 → ") for e in entries)


@pytest.mark.slow
def test_analyse_call_returns_the_timeline():
    tl = analyse_call(NW / "call01.wav")
    assert tl["schema"] == "ivrkit.timeline/1"
    assert [e["key"] for e in tl["events"] if e["type"] == "dtmf"][:2] == ["5", "1"]
