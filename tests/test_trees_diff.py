"""Tree diffs: every change of a company's menu, and nothing else.

The real pair is the simulator's true trees of Northwind Telecom before and after its
menu change (recordings/northwind*/tree.json, committed with the sample calls); the
rest are trees merged from synthetic calls of spec variants.
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from ivrkit.trees.build import merge_timelines
from ivrkit.trees.diff import diff_trees, format_diff
from ivrkit.trees.io import read_tree
from ivrkit.trees.synth import simulate_call

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"
EMPTY = {"added": [], "removed": [], "moved": [], "relabelled": [], "entry": [], "timing": []}


def test_northwind_menu_change_is_reported_exactly():
    old = read_tree(RECORDINGS / "northwind" / "tree.json")
    new = read_tree(RECORDINGS / "northwind-v2" / "tree.json")
    d = diff_trees(old, new)
    assert set(d) == set(EMPTY)
    assert d["added"] == [{"path": [], "key": "5", "label": "report an outage"}]
    assert d["removed"] == [{"path": [], "key": "4", "label": "store hours and locations"}]
    assert sorted((m["label"], m["from"], m["to"]) for m in d["moved"]) == [
        ("billing and payments", ["1"], ["2"]), ("technical support", ["2"], ["1"])]
    assert d["relabelled"] == [{"path": [], "key": "3", "old": "start, stop or transfer service",
                                "new": "start, stop or move service"}]
    assert d["entry"] == [{"path": ["2", "2"], "old": "Tel#", "new": "ID#"}]
    assert [(t["path"], t["field"]) for t in d["timing"]] == [([], "listen_after")]
    assert d["timing"][0]["new"] - d["timing"][0]["old"] > 3
    text = format_diff(d)
    assert "report an outage" in text and "Tel# -> ID#" in text and len(text.splitlines()) == 7
    assert diff_trees(new, new) == EMPTY and format_diff(EMPTY) == "no changes"


BASE = {
    "greeting": "Welcome to Falcon Mobile.", "kind": "menu", "listen_after": 6.0,
    "options": {
        "1": {"label": "billing and payments", "kind": "menu", "greeting": "Billing.", "listen_after": 0.5,
              "options": {"1": {"label": "pay a bill", "kind": "input", "entry": "Tel#", "listen_after": 0.3},
                          "2": {"label": "your balance", "kind": "info"}}},
        "2": {"label": "upgrade your plan", "kind": "agent"},
        "3": {"label": "roaming", "kind": "agent"},
        "0": {"label": "all other questions", "kind": "agent"},
    },
}


def _tree(spec, noise=0.0, files="c"):
    plans = [[("1", spec["listen_after"] + 0.4), ("1", 1.0), (spec["options"]["1"]["options"]["1"].get("entry"), 0.8)],
             [("1", spec["listen_after"] + 0.8), ("2", 0.9)],
             [("5", 2.0), ("2", spec["listen_after"] + 1.0)],
             [("3", 16.0)]]  # a caller who heard the whole menu first: nothing else is on it
    calls = [simulate_call(spec, p, file=f"{files}{i}.wav", estimate_noise_s=noise, seed=i)
             for i, p in enumerate(plans)]
    return merge_timelines(calls, company="Falcon Mobile", number="*2020")


def test_same_menu_mapped_again_is_no_change():
    """New recordings of an unchanged menu: recognizer spelling and timing wobble
    (under 1 s) are not changes."""
    spec = copy.deepcopy(BASE)
    spec["options"]["1"]["label"] = "billing and payment"
    spec["options"]["0"]["label"] = "all other question"
    spec["listen_after"] = 6.6
    d = diff_trees(_tree(BASE), _tree(spec, noise=0.2, files="again"))
    assert d == EMPTY


def test_relabel_is_told_from_replace():
    spec = copy.deepcopy(BASE)
    spec["options"]["2"]["label"] = "change your plan"             # same option, reworded
    spec["options"]["3"]["label"] = "moving or a new address"      # a different option at key 3
    d = diff_trees(_tree(BASE), _tree(spec))
    assert d["relabelled"] == [{"path": [], "key": "2", "old": "upgrade your plan", "new": "change your plan"}]
    assert d["removed"] == [{"path": [], "key": "3", "label": "roaming"}]
    assert d["added"] == [{"path": [], "key": "3", "label": "moving or a new address"}]
    assert d["moved"] == [] and d["entry"] == [] and d["timing"] == []


def test_moved_submenu_keeps_its_children_and_entry_change_follows_it():
    spec = copy.deepcopy(BASE)
    billing = spec["options"].pop("1")
    billing["options"]["1"]["entry"] = "ID#"
    spec["options"]["4"] = billing
    spec["options"]["1"] = spec["options"].pop("0")  # "all other questions" 0 -> 1
    calls = [simulate_call(spec, [("4", 6.4), ("1", 1.0), ("ID#", 0.8)], file="n0.wav"),
             simulate_call(spec, [("4", 6.8), ("2", 0.9)], file="n1.wav"),
             simulate_call(spec, [("2", 7.0)], file="n2.wav"),
             simulate_call(spec, [("3", 16.0)], file="n3.wav")]
    new = merge_timelines(calls)
    d = diff_trees(_tree(BASE), new)
    assert sorted((m["label"], m["from"], m["to"]) for m in d["moved"]) == [
        ("all other questions", ["0"], ["1"]), ("billing and payments", ["1"], ["4"])]
    assert d["entry"] == [{"path": ["4", "1"], "old": "Tel#", "new": "ID#"}]
    assert d["added"] == d["removed"] == d["relabelled"] == d["timing"] == []


def test_options_missing_from_a_menu_nobody_heard_to_the_end_are_unconfirmed():
    spec = copy.deepcopy(BASE)
    del spec["options"]["3"]
    old = _tree(BASE)
    early = [simulate_call(spec, [("1", 6.5), ("2", 0.9)], file="e0.wav"),
             simulate_call(spec, [("2", 7.0)], file="e1.wav")]
    for c in early:  # callers who pressed before the menu got to its end
        for m in c["menus"]:
            m["options"] = [o for o in m["options"] if o["start"] < m["end"]]
    d = diff_trees(old, merge_timelines(early))
    assert d["removed"] == [] and d["added"] == []
    assert {(x["change"], x["key"], x["why"]) for x in d["unconfirmed"]} >= {("removed", "3", "incomplete")}
    # the text says which tree has it and why it is not a removal
    line = next(x for x in format_diff(d).splitlines() if x.startswith("? only old") and ": 3  " in x)
    assert "new calls never heard that menu to its end" in line
    # the whole menu heard once: key 3 is really gone
    full = early + [simulate_call(spec, [("2", 16.0)], file="e2.wav")]
    d = diff_trees(old, merge_timelines(full))
    assert d["removed"] == [{"path": [], "key": "3", "label": "roaming"}]


def test_timing_changes_of_a_second_or_more_only():
    spec = copy.deepcopy(BASE)
    spec["listen_after"] = 9.0
    d = diff_trees(_tree(BASE), _tree(spec))
    assert [(t["path"], t["field"]) for t in d["timing"]] == [([], "listen_after")]
    assert d["timing"][0]["old"] == pytest.approx(6.0) and d["timing"][0]["new"] == pytest.approx(9.0)
    assert {k: v for k, v in d.items() if k != "timing"} == {k: [] for k in EMPTY if k != "timing"}


def test_what_a_mapping_did_not_hear_is_not_a_change():
    """A label nobody heard, an entry token not recognised, a listen start known only
    as "by the accepted press": none of them is a change."""
    old = _tree(BASE)
    new = copy.deepcopy(old)
    new.edges["1", "1/1"]["label"] = None                   # option taken, label not heard
    new.nodes["1/1"]["entry"] = None                         # token not recognised
    assert old.nodes["1"]["listen_after"] == pytest.approx(0.5)
    # "listening by the press at 1.6 s": somewhere in 0-1.6 s, not 1.1 s later
    new.nodes["1"]["listen_after"] = new.nodes["1"]["listen_bounds"][1] = 1.6
    assert diff_trees(old, new) == EMPTY
    new.nodes["1"]["listen_bounds"] = [None, None]           # now an estimate: 1.1 s later is a change
    assert [(t["path"], t["field"]) for t in diff_trees(old, new)["timing"]] == [(["1"], "listen_after")]


def test_an_option_heard_once_in_many_visits_is_not_reported():
    """A recognizer's invented option (heard in one visit of many, never entered) that
    is gone in the next mapping is unconfirmed, not removed."""
    calls = [simulate_call(BASE, p, file=f"w{i}.wav") for i, p in
             enumerate([[("3", 16.0)], [("2", 16.5)], [("0", 16.2)], [("3", 16.4)]])]
    calls[0]["menus"][0]["options"].append({"key": "4", "label": "four billing", "start": 5.0, "end": 6.0,
                                            "role": "option"})
    old = merge_timelines(calls)
    assert old.nodes["4"]["kind"] == "unknown"
    d = diff_trees(old, _tree(BASE))
    assert d["removed"] == [] and [x["key"] for x in d["unconfirmed"]] == ["4"]
