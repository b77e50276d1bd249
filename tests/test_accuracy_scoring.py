"""The accuracy benchmark's scoring (benchmarks/scoring.py) and a DTMF-only run of
benchmarks/accuracy.py over the simulated fixture calls."""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import accuracy  # noqa: E402
import scoring  # noqa: E402

NW1 = json.loads((ROOT / "recordings" / "northwind" / "tree.json").read_text())
NW2 = json.loads((ROOT / "recordings" / "northwind-v2" / "tree.json").read_text())


def press(key, start, dur=0.1, accepted=True):
    return {"key": key, "start": start, "end": start + dur, "accepted": accepted}


def test_presses_match_one_to_one_by_key_and_onset():
    truth = [press("1", 1.0), press("1", 1.5), press("2", 3.0)]
    found = [press("1", 1.04), press("1", 1.02), press("2", 3.2), press("3", 5.0)]
    pairs = scoring.match_presses(truth, found)
    # the closer detection wins the first press; the other one is 0.48 s from the second
    assert pairs == [(0, 1)]
    s = scoring.score_dtmf(truth, found)
    assert (s["tp"], s["fp"], s["fn"]) == (1, 3, 2)
    assert s["onset_errors"] == [pytest.approx(0.02)]
    assert not s["sequence_ok"]
    same = scoring.score_dtmf(truth, [press(p["key"], p["start"] + 0.05, accepted=False) for p in truth])
    assert same["tp"] == 3 and same["sequence_ok"] and same["class_ok"] == 0 and same["class_n"] == 3


def test_options_score_labels_fuzzily_and_by_place():
    perfect = scoring.score_options(NW1, NW1)
    assert perfect["precision"] == perfect["recall"] == 1.0
    found = copy.deepcopy(NW1)
    for e in found["edges"]:
        if e["source"] == "root" and e["key"] == "1":
            e["label"] = "billing and payment"          # a recognizer's near miss: still right
        if e["source"] == "root" and e["key"] == "4":
            e["label"] = "stolen hours and vacations"    # wrong words: wrong option
        if e["source"] == "2" and e["key"] == "1":
            e["key"] = "3"                               # right words under the wrong key
    s = scoring.score_options(NW1, found)
    n = len(NW1["edges"])
    assert s["tp"] == n - 2 and s["fn"] == 2 and s["fp"] == 2
    assert s["key_only"]["tp"] == n - 1
    heard = {((), "1"), ((), "4")}
    assert scoring.score_options(NW1, found, heard)["recall"] == 0.5


def test_expected_diff_of_the_northwind_versions():
    d = scoring.expected_diff(NW1, NW2)
    assert d["moved"] == [{"label": "billing and payments", "from": ["1"], "to": ["2"]},
                          {"label": "technical support", "from": ["2"], "to": ["1"]}]
    assert d["relabelled"] == [{"path": [], "key": "3", "old": "start, stop or transfer service",
                                "new": "start, stop or move service"}]
    assert [(x["key"], x["label"]) for x in d["removed"]] == [("4", "store hours and locations")]
    assert [(x["key"], x["label"]) for x in d["added"]] == [("5", "report an outage")]
    assert d["entry"] == [{"path": ["2", "2"], "old": "Tel#", "new": "ID#"}]
    assert [t["path"] for t in d["timing"]] == [[]] and d["timing"][0]["new"] > d["timing"][0]["old"] + 3
    sc = scoring.score_diff(d, {"moved": d["moved"][:1], "added": d["added"] + d["removed"]})
    assert sc["moved"] == {"expected": 2, "right": 1, "spurious": 0}
    assert sc["added"] == {"expected": 1, "right": 1, "spurious": 1}
    assert sc["entry"]["right"] == 0


def test_waits_must_not_be_early_nor_too_late():
    found = copy.deepcopy(NW1)
    need = {n["id"]: n["listen_after"] for n in NW1["nodes"] if n["listen_after"] is not None}
    for n in found["nodes"]:
        if n["id"] == "root":
            n["wait"] = need["root"] - 0.2
        elif n["id"] == "1":
            n["wait"] = need["1"] + 1.6
    s = scoring.score_waits(NW1, found)
    bad = sorted("/".join(r["path"]) or "root" for r in s["rows"] if not r["ok"])
    assert bad == ["1", "root"] and s["n"] == len(need)


@pytest.mark.slow
def test_dtmf_only_benchmark_runs_on_the_fixture_calls(tmp_path, capsys):
    out = tmp_path / "acc.json"
    rc = accuracy.main(["--corpus", str(ROOT / "tests" / "fixtures" / "calls"), "--dtmf-only",
                        "--no-multimon", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "contoso" in text and "TOTAL" in text and "DTMF recall by condition" in text
    d = json.loads(out.read_text())
    assert [c["dir"] for c in d["companies"]] == ["contoso", "fabrikam", "tailspin"]
    total = d["total"]
    n_true = sum(len(json.loads(p.read_text())["presses"])
                 for p in (ROOT / "tests" / "fixtures" / "calls").glob("*/*.truth.json"))
    dt = total["dtmf"]
    assert dt["tp"] + dt["fn"] == n_true
    # the fixture presses are clean enough for any working detector
    assert dt["recall"] >= 0.8 and dt["precision"] >= 0.8
