"""Merging call timelines into a menu tree, waits, fastest services, export, render.

Inputs are timeline dicts describing calls with known truth (trees/synth.py walks a
company spec with a caller's presses), plus hand-written visits for the cases a
walk cannot produce (conflicting labels and kinds between calls).
"""
from __future__ import annotations

import copy
import csv
import io
import json

import numpy as np
import pytest

from ivrkit.trees.build import merge_timelines
from ivrkit.trees.export import (
    dial_string,
    entries_since,
    export_entries,
    format_csv,
    format_dial,
    format_directory,
)
from ivrkit.trees.io import tree_from_json, tree_to_json
from ivrkit.trees.paths import services
from ivrkit.trees.render import render_tree
from ivrkit.trees.synth import simulate_call
from ivrkit.trees.waits import explain_listen, listen_bracket, recommend_waits

NUMBER = "1-800-555-0142"
SPEC = {
    "greeting": "Welcome to Northwind Telecom. Calls may be recorded for quality.",
    "kind": "menu", "listen_after": 7.4,
    "options": {
        "1": {"label": "billing and payments", "kind": "menu", "greeting": "Billing.", "listen_after": 1.2,
              "options": {"1": {"label": "pay a bill", "kind": "input", "entry": "Tel#", "listen_after": 0.5},
                          "2": {"label": "billing questions", "kind": "agent"},
                          "9": {"label": "return to the main menu", "role": "back"}}},
        "2": {"label": "technical support", "kind": "menu", "greeting": "Technical support.", "listen_after": 1.0,
              "options": {"1": {"label": "internet service", "kind": "agent"},
                          "2": {"label": "television service", "kind": "agent"}}},
        "3": {"label": "store hours", "kind": "info"},
        "8": {"label": "repeat these options", "role": "repeat"},
        "0": {"label": "all other questions", "kind": "agent"},
    },
}


def _calls():
    return [
        simulate_call(SPEC, [("1", 8.0), ("2", 2.0)], file="call01.wav"),
        simulate_call(SPEC, [("5", 5.1), ("2", 9.0), ("2", 3.0)], file="call02.wav"),
        # an ignored press the walk took for accepted, then back from billing to the root
        simulate_call(SPEC, [("5", 6.0), ("1", 8.5), ("9", 4.0), ("3", 7.6)], file="call03.wav",
                      misread_ignored=True),
        simulate_call(SPEC, [("1", 7.5), ("1", 1.5), ("Tel#", 1.0)], file="call04.wav"),
        # "repeat these options", then billing questions
        simulate_call(SPEC, [("8", 9.5), ("1", 8.0), ("2", 1.4)], file="call05.wav"),
    ]


@pytest.fixture(scope="module")
def tree():
    return merge_timelines(_calls(), company="Northwind Telecom", number=NUMBER)


# -- merge -----------------------------------------------------------------------

def test_merge_structure_is_the_company_menu(tree):
    assert set(tree.nodes) == {"root", "0", "1", "1/1", "1/2", "1/9", "2", "2/1", "2/2", "3", "8"}
    kinds = dict(tree.nodes(data="kind"))
    assert kinds == {"root": "menu", "0": "unknown", "1": "menu", "1/1": "input", "1/2": "agent",
                     "1/9": "back", "2": "menu", "2/1": "unknown", "2/2": "agent", "3": "info", "8": "back"}
    labels = {v: d["label"] for _, v, d in tree.edges(data=True)}
    assert labels["1"] == "billing and payments" and labels["2/2"] == "television service"
    assert tree.nodes["1/1"]["entry"] == "Tel#"
    assert all(tree.nodes[n]["path"] == ([] if n == "root" else n.split("/")) for n in tree)


def test_ignored_press_misread_as_accepted_makes_no_branch(tree):
    # call03's "5" was reported accepted and the rest of the greeting as a new visit
    assert "5" not in tree and not any(n.startswith("5") for n in tree)
    assert "call03.wav@6.1 ignored" in tree.nodes["root"]["listen_evidence"]
    assert not any(e.startswith("call03.wav@6 accepted") for e in tree.nodes["root"]["listen_evidence"])


def test_back_and_repeat_options_are_edges_to_back_nodes(tree):
    back, rep = tree.nodes["1/9"], tree.nodes["8"]
    assert (back["kind"], back["returns_to"], tree.edges["1", "1/9"]["role"]) == ("back", [], "back")
    assert (rep["kind"], rep["returns_to"], tree.edges["root", "8"]["role"]) == ("back", [], "repeat")
    assert tree.out_degree("1/9") == 0 and tree.out_degree("8") == 0
    # the press that took them is evidence on the edge
    assert tree.edges["1", "1/9"]["evidence"] and tree.edges["root", "8"]["evidence"]
    # after "back", call03 pressed 3 at the root: the store hours hang off the root
    assert tree.has_edge("root", "3") and "1/9/3" not in tree


def test_revisits_do_not_time_the_first_visit(tree):
    # call05 pressed 1 at 8.0 s into the *repeated* menu; that says nothing about the
    # greeting's ignored span, so it is not root evidence
    assert not any(e.startswith("call05.wav@8 ") for e in tree.nodes["root"]["listen_evidence"])


def test_unknown_leaves_for_options_never_entered(tree):
    assert tree.nodes["0"]["kind"] == "unknown" and tree.edges["root", "0"]["label"] == "all other questions"
    assert tree.nodes["2/1"]["kind"] == "unknown"
    assert tree.edges["root", "0"]["heard"] and not tree.edges["root", "0"]["evidence"]


def test_every_edge_keeps_its_evidence(tree):
    ev = tree.edges["root", "1"]["evidence"]
    assert sorted(e.split("@")[0] for e in ev) == ["call01.wav", "call03.wav", "call04.wav", "call05.wav"]
    assert tree.edges["root", "1"]["confidence"] > tree.edges["root", "3"]["confidence"]


def test_sources_are_recorded(tree):
    srcs = tree.graph["sources"]
    assert [s["file"] for s in srcs] == [f"call0{i}.wav" for i in range(1, 6)]
    assert all(len(s["sha256"]) == 64 and s["duration"] > 10 for s in srcs)
    assert tree.graph["schema"] == "ivrkit.tree/1" and tree.graph["created"].endswith("Z")


def _visit(path, kind, prompt, options=(), via=None, start=1.0, entry=None, listen_after=2.0, presses=()):
    return {"path": list(path), "kind": kind, "start": start, "end": start + 10, "prompt": prompt,
            "listen_after": listen_after, "listen_bounds": [None, None],
            "options": [{"key": k, "label": lab, "start": start + 1 + i, "end": start + 2 + i, "role": "option"}
                        for i, (k, lab) in enumerate(options)],
            "entry": entry, "via": via, "presses": list(presses), "keyed": None}


def _call(name, visits):
    return {"schema": "ivrkit.timeline/1", "file": name, "sha256": name * 4, "duration": 30.0,
            "answer": 0.0, "greeting_onset": 1.0, "events": [], "menus": visits}


def test_conflicting_labels_and_kinds_are_voted():
    root_prompt = "Hello. For sales press 1. For support press 2."

    def call(i, label2, kind2):
        return _call(f"c{i}.wav", [
            _visit([], "menu", root_prompt, [("1", "sales"), ("2", label2)],
                   presses=[{"key": "2", "time": 5.0, "accepted": True}]),
            _visit(["2"], kind2, "Please hold for the next representative.", start=6.0,
                   via={"key": "2", "time": 5.0, "latency": 0.7}),
        ])

    G = merge_timelines([call(1, "support", "agent"), call(2, "support", "agent"),
                         call(3, "passport", "info"), call(4, "suport", "agent")])
    e = G.edges["root", "2"]
    assert e["label"] == "support" and e["label_votes"]["passport"] == 1
    assert G.nodes["2"]["kind"] == "agent"
    # 3 of 4 calls agree on the label; "sales" was heard the same in all four
    assert e["confidence"] < G.edges["root", "1"]["confidence"]


def test_merge_into_an_existing_tree_loses_nothing(tree):
    calls = _calls()
    first = merge_timelines(calls[:2], company="Northwind Telecom", number=NUMBER)
    stored = tree_from_json(json.loads(json.dumps(tree_to_json(first))))
    merged = merge_timelines(calls[2:], graph=stored)
    assert set(merged.nodes) == set(tree.nodes)
    assert merged.graph["company"] == "Northwind Telecom" and merged.graph["created"] == first.graph["created"]
    assert [s["file"] for s in merged.graph["sources"]] == [s["file"] for s in tree.graph["sources"]]
    for n in tree:
        assert sorted(merged.nodes[n]["listen_evidence"]) == sorted(tree.nodes[n]["listen_evidence"]), n
        assert merged.nodes[n]["kind"] == tree.nodes[n]["kind"]
        assert merged.nodes[n]["wait"] == tree.nodes[n]["wait"]
    for u, v, d in tree.edges(data=True):
        assert sorted(merged.edges[u, v]["evidence"]) == sorted(d["evidence"])
        assert merged.edges[u, v]["label"] == d["label"]
    # the same recordings again change nothing
    again = merge_timelines(calls, graph=merged)
    assert again.graph["sources"] == merged.graph["sources"]
    assert again.nodes["root"]["listen_evidence"] == merged.nodes["root"]["listen_evidence"]


# -- waits -----------------------------------------------------------------------

def test_listen_bracket_and_estimate(tree):
    root = tree.nodes["root"]
    # latest ignored: call03's "5" at 6.0-6.1 s; earliest accepted: call04's "1" at 7.5 s
    assert root["listen_bounds"] == [6.1, 7.5]
    assert root["listen_after"] == pytest.approx(7.4)
    # margin 0.5 s, plus 0.1 s of the late-listen allowance: call04's accepted press
    # at 7.5 s says the platform listened by then
    assert root["wait"] == pytest.approx(8.0)
    assert listen_bracket(root["listen_evidence"]) == (6.1, 7.5)


def test_prompt_estimate_is_clipped_into_the_press_bracket():
    calls = [simulate_call(SPEC, [("5", 6.9), ("2", 7.8)], file="a.wav"),
             simulate_call(SPEC, [("2", 8.2)], file="b.wav")]
    for c in calls:  # the prompt-based estimate says 3 s: too early, a press at 6.9 s was ignored
        c["menus"][0]["listen_after"] = 3.0
    G = merge_timelines(calls)
    assert G.nodes["root"]["listen_bounds"] == [7.0, 7.8]
    assert G.nodes["root"]["listen_after"] == pytest.approx(7.0)
    assert G.nodes["root"]["wait"] == pytest.approx(7.0 + 0.5 + 0.4)
    recommend_waits(G, margin_s=1.0, late_s=0.0)
    assert G.nodes["root"]["wait"] == pytest.approx(8.0)
    recommend_waits(G, margin_s=0.0, late_s=0.0)  # never below the ignored press
    assert G.nodes["root"]["wait"] == pytest.approx(7.0)


def test_only_an_accepted_press_caps_the_wait():
    c = simulate_call(SPEC, [("2", 7.6)], file="a.wav")
    c["menus"][0]["listen_after"] = 7.5  # estimate + margin would be 8.0 s; 7.6 s is known to work
    G = merge_timelines([c])
    assert G.nodes["root"]["listen_bounds"] == [None, 7.6]
    assert G.nodes["root"]["wait"] == pytest.approx(7.6)


def test_latency_and_answer_to_onset(tree):
    assert tree.edges["root", "1"]["latency"] == pytest.approx(0.8)
    assert tree.nodes["1"]["latency"] == pytest.approx(0.8)
    assert tree.graph["answer_to_onset"] == pytest.approx(0.8)


def test_explain_listen_names_the_evidence(tree):
    text = explain_listen(tree, "root")
    assert text.startswith("root listens from 7.4 s")
    assert "ignored press at 6.1 s in call03.wav" in text and "accepted at 7.5 s in call04.wav" in text
    assert "no evidence" in explain_listen(tree, "0")


def test_waits_cover_the_true_need_on_random_calls():
    """Random callers pressing early and late, estimates off by ~0.3 s: every node's
    wait is at least its true listen start and at most 1.5 s more."""
    rng = np.random.default_rng(7)
    truth = {"root": 7.4, "1": 1.2, "2": 1.0, "1/1": 0.5}
    calls = []
    for i in range(12):
        first = str(rng.choice(["1", "2"]))
        t_root = float(rng.uniform(4.0, 11.0))
        plan = [("4", float(rng.uniform(1.0, 7.3)))] if rng.random() < 0.5 else []
        plan += [(first, max(t_root, 7.45))]
        plan += [("2", float(rng.uniform(1.05, 3.0)))]
        calls.append(simulate_call(SPEC, plan, file=f"r{i:02d}.wav", estimate_noise_s=0.3, seed=i))
    G = merge_timelines(calls)
    checked = 0
    for n, need in truth.items():
        if n in G and G.nodes[n]["wait"] is not None:
            assert need <= G.nodes[n]["wait"] <= need + 1.5, (n, G.nodes[n]["wait"])
            checked += 1
    assert checked >= 3


# -- services, export ---------------------------------------------------------------

FAST_SPEC = {
    "greeting": "Acme.", "kind": "menu", "listen_after": 2.0,
    "options": {
        "1": {"label": "accounts", "kind": "menu", "greeting": "Accounts. " + "Please listen carefully. " * 6,
              "listen_after": 12.0,
              "options": {"1": {"label": "a representative", "kind": "agent"}}},
        "2": {"label": "other matters", "kind": "menu", "greeting": "Other.", "listen_after": 0.5,
              "options": {"2": {"label": "more", "kind": "menu", "greeting": "More.", "listen_after": 0.5,
                                "options": {"1": {"label": "a representative", "kind": "agent"}}}}},
    },
}


def test_fastest_route_not_fewest_keys():
    calls = [simulate_call(FAST_SPEC, [("1", 2.5), ("1", 12.5)], file="a.wav"),
             simulate_call(FAST_SPEC, [("2", 2.5), ("2", 1.0), ("1", 1.0)], file="b.wav")]
    G = merge_timelines(calls, number=NUMBER)
    reps = [s for s in services(G) if s["labels"][-1] == "a representative"]
    assert len(reps) == 1
    best = reps[0]
    assert best["keys"] == ["2", "2", "1"] and best["alternatives"] == [["1", "1"]]
    # waits[0] from the answer: answer-to-greeting (0.8 s) + root wait; then latency + wait
    assert best["waits"][0] == pytest.approx(0.8 + G.nodes["root"]["wait"], abs=0.05)
    assert best["waits"][1] == pytest.approx(0.8 + G.nodes["2"]["wait"], abs=0.05)


def test_dial_string_contract_example():
    assert dial_string(NUMBER, ["2", "1", "ID#"], [7.9, 1.6, 1.0]) == "18005550142,,,,2,1"
    assert dial_string(NUMBER, ["2", "2"], [7.9, 1.6]) == "18005550142,,,,2,2"
    assert dial_string(NUMBER, ["3"], [4.0]) == "18005550142,,3"


def _entry_tree(greeting_wait_s=7.4, entry="ID#"):
    spec = {"greeting": "Northwind.", "kind": "menu", "listen_after": greeting_wait_s,
            "options": {"2": {"label": "payments", "kind": "menu", "greeting": "Payments.", "listen_after": 0.3,
                              "options": {"1": {"label": "pay a bill", "kind": "input", "entry": entry,
                                                "listen_after": 0.2}}},
                        "3": {"label": "opening hours", "kind": "info"}}}
    calls = [simulate_call(spec, [("2", greeting_wait_s + 0.5), ("1", 1.0), (entry, 1.0)], file="p.wav",
                           answer_s=1.0, onset_s=0.0, latency_s=0.8),
             simulate_call(spec, [("3", greeting_wait_s + 1.0)], file="q.wav", answer_s=1.0, onset_s=0.0)]
    return merge_timelines(calls, company="Northwind Telecom", number=NUMBER)


def test_export_entry_strings_follow_the_contract():
    G = _entry_tree()
    entries = {e["service"]: e for e in export_entries(G)}
    pay = entries["payments / pay a bill"]
    assert pay["keys"] == ["2", "1", "ID#"] and pay["kind"] == "input"
    # root: capped by the accepted press at 7.9 s; then 0.8 s transition + 1.0 s
    # (capped by the accepted press at 1.0 s into the payments menu)
    assert pay["waits"][:2] == [7.9, 1.8]
    assert pay["directory"] == "1-800-555-0142 → 2,1,ID#"
    assert pay["dial"] == "18005550142,,,,2,1"
    assert set(pay) >= {"company", "number", "service", "path", "keys", "waits", "kind", "directory", "dial"}
    assert format_directory([pay]) == "1-800-555-0142 → 2,1,ID#\n"
    assert format_directory([pay], with_service=True) == "1-800-555-0142 → 2,1,ID#  payments / pay a bill (input)\n"
    assert format_dial([pay]) == "18005550142,,,,2,1\n"
    rows = list(csv.DictReader(io.StringIO(format_csv(list(entries.values())))))
    assert {r["directory"] for r in rows} == {e["directory"] for e in entries.values()}
    assert next(r for r in rows if r["service"] == "payments / pay a bill")["keys"] == "2,1,ID#"


def test_entries_since_keeps_only_changes():
    old = export_entries(_entry_tree())
    assert entries_since(old, old) == []
    small = export_entries(_entry_tree(greeting_wait_s=7.8))  # root wait moves 0.4 s: noise
    assert entries_since(small, old) == []
    later = export_entries(_entry_tree(greeting_wait_s=9.0))  # 1.6 s longer greeting
    assert {e["service"] for e in entries_since(later, old)} == {"payments / pay a bill", "opening hours"}
    token = export_entries(_entry_tree(entry="Tel#"))
    assert [e["service"] for e in entries_since(token, old)] == ["payments / pay a bill"]
    extra = copy.deepcopy(old) + [dict(old[0], service="new service")]
    assert [e["service"] for e in entries_since(extra, old)] == ["new service"]


def test_render_tree_reads_at_a_glance(tree):
    text = render_tree(tree)
    lines = text.splitlines()
    assert lines[0] == "Northwind Telecom  1-800-555-0142"
    assert lines[1] == "root  menu  wait 8.0 s  (listens from 7.4 s)"
    # 1.2 s + 0.5 s margin, capped by call05's accepted press at 1.4 s
    assert "├─ 1  billing and payments  menu  wait 1.4 s" in lines
    assert "│  ├─ 1  pay a bill  input Tel#  wait 1.0 s" in lines
    assert "│  └─ 9  return to the main menu  back  → root" in lines
    assert any(ln.startswith("├─ 0  all other questions  unknown") for ln in lines)
    assert len(lines) == 1 + tree.number_of_nodes()


def test_submenu_worded_like_its_parent_is_not_folded_into_it():
    """Menus of one company share their phrasing; only the same options make the same menu."""
    root_prompt = "Welcome to Acme. For sales, press 1. For support, press 2. For billing, press 3."
    calls = [_call("s.wav", [
        _visit([], "menu", root_prompt, [("1", "sales"), ("2", "support"), ("3", "billing")],
               presses=[{"key": "3", "time": 6.0, "accepted": True}]),
        # ...but billing's own menu: its key 1 is "payments", not "sales"
        _visit(["3"], "menu", "For payments, press 1. For support, press 2.",
               [("1", "payments"), ("2", "support")], start=7.0, via={"key": "3", "time": 6.0, "latency": 0.8}),
    ]), _call("t.wav", [
        _visit([], "menu", "Welcome to Acme.", presses=[{"key": "2", "time": 3.0, "accepted": True}]),
        # the root's prompt going on after a press it ignored, as discovery may report it
        _visit(["2"], "menu", "For sales, press 1. For support, press 2. For billing, press 3.",
               [("1", "sales"), ("2", "support"), ("3", "billing")], start=3.5,
               via={"key": "2", "time": 3.0, "latency": 0.4}),
    ])]
    G = merge_timelines(calls)
    assert set(G) == {"root", "1", "2", "3", "3/1", "3/2"}
    assert G.nodes["3"]["kind"] == "menu" and G.edges["3", "3/1"]["label"] == "payments"
    assert G.nodes["2"]["kind"] == "unknown"  # t.wav's "2" never left the root
    assert "t.wav@2 ignored" in G.nodes["root"]["listen_evidence"]  # 3.0 s, root started at 1.0 s


def test_keys_after_a_data_entry_follow_the_token():
    """Discovery keeps the prompt after an entry in the input visit, so the next key
    hangs off the input node; the directory still needs the token before it."""
    calls = [_call("i.wav", [
        _visit([], "menu", "For payments, press 1.", [("1", "payments")],
               presses=[{"key": "1", "time": 3.0, "accepted": True}]),
        _visit(["1"], "input", "Please enter your ID followed by pound. For a refund, press 2.",
               [("2", "a refund")], start=4.0, entry="ID#", listen_after=0.0,
               via={"key": "1", "time": 3.0, "latency": 0.9},
               presses=[{"key": "1", "time": 5.0, "accepted": True}, {"key": "#", "time": 6.0, "accepted": True},
                        {"key": "2", "time": 9.0, "accepted": True}]),
        _visit(["1", "2"], "agent", "Please hold.", start=10.0, via={"key": "2", "time": 9.0, "latency": 0.8}),
    ])]
    G = merge_timelines(calls, number="03-555-0100")
    (svc,) = [s for s in services(G) if s["kind"] == "agent"]
    assert svc["keys"] == ["1", "ID#", "2"] and len(svc["waits"]) == 3 and not svc["verified"]
    (e,) = [e for e in export_entries(G) if e["kind"] == "agent"]
    assert e["directory"] == "03-555-0100 → 1,ID#,2" and e["dial"].endswith(",1")


def test_a_false_key_that_looks_ignored_does_not_stretch_the_wait():
    """Talk-off (a detector's false key on speech) always looks like an ignored press.
    One such press after a call's accepted press is set aside; three calls agreeing
    that the node ignored keys that late are believed."""
    calls = [simulate_call(SPEC, [("2", 9.2)], file="a.wav"),
             simulate_call(SPEC, [("2", 7.8)], file="b.wav"),
             simulate_call(SPEC, [("5", 3.0), ("2", 9.0)], file="c.wav")]
    t0 = calls[2]["menus"][0]["start"]
    calls[2]["menus"][0]["presses"].insert(1, {"key": "5", "time": t0 + 8.9, "end": t0 + 8.95, "accepted": False})
    G = merge_timelines(calls)
    root = G.nodes["root"]
    assert root["listen_bounds"] == [3.1, 7.8]
    assert root["listen_after"] == pytest.approx(7.4)
    assert "set aside: ignored press at 8.9 s in c.wav" in explain_listen(G, "root")
    # two more calls ignoring a key at 8.5 s outweigh b.wav's accepted press at 7.8 s
    more = [simulate_call(SPEC, [("2", 9.0)], file=f"d{i}.wav") for i in range(2)]
    for m in more:
        t0 = m["menus"][0]["start"]
        m["menus"][0]["presses"].insert(0, {"key": "7", "time": t0 + 8.4, "end": t0 + 8.5, "accepted": False})
    G = merge_timelines(calls + more)
    assert G.nodes["root"]["listen_bounds"][0] == pytest.approx(8.95)
    assert G.nodes["root"]["wait"] >= 8.95 + 0.5


def test_a_misheard_key_joins_the_menu_it_led_to():
    """A press heard as "5" where no prompt offers 5, landing in the menu other calls
    reach by 2: the same menu, not a new branch."""
    calls = _calls()
    bad = simulate_call(SPEC, [("2", 8.0), ("2", 1.5)], file="m.wav")
    bad["menus"][1]["via"]["key"] = "5"
    bad["menus"][1]["path"] = ["5"]
    bad["menus"][0]["presses"][-1]["key"] = "5"
    G = merge_timelines(calls + [bad])
    assert "5" not in G and "5/2" not in G
    assert any(e.startswith("m.wav@") for e in G.edges["root", "2"]["evidence"])
    assert any(e.startswith("m.wav@") for e in G.edges["2", "2/2"]["evidence"])


def test_a_label_heard_under_a_second_key_once_is_the_first_key_misheard():
    """One call's recognizer heard "for store hours, press 4" where the others heard
    press 3: the root offers store hours once, under 3. A key somebody took, or a label
    of its own, stays."""
    calls = _calls()
    bad = simulate_call(SPEC, [("3", 9.5)], file="m.wav")
    for o in bad["menus"][0]["options"]:
        if o["key"] == "3":
            o["key"] = "4"
    G = merge_timelines(calls + [bad])
    assert "4" not in G
    assert G.edges["root", "3"]["label"] == "store hours"
    # the same mishearing, but a caller pressed 4 and got somewhere: the key is real
    taken = simulate_call(SPEC, [("3", 9.5)], file="t.wav")
    taken["menus"][0]["presses"][-1]["key"] = "4"
    taken["menus"][1]["via"]["key"] = "4"
    taken["menus"][1]["path"] = ["4"]
    G = merge_timelines(calls + [bad, taken])
    assert "4" in G


def test_two_keys_said_together_for_one_thing_are_both_kept():
    """ "To return to the main menu, press 9 or star": one label, two real keys, even
    where a caller pressed before the second was said (so it was heard less often)."""
    spec = copy.deepcopy(SPEC)
    spec["options"]["1"]["options"]["*"] = {"label": "return to the main menu", "role": "back"}
    calls = [simulate_call(spec, [("1", 8.0), ("2", 1.4)], file=f"c{i}.wav", seed=i) for i in range(3)]
    for c in calls:  # the recognizer heard both keys in one breath
        opts = {o["key"]: o for o in c["menus"][1]["options"]}
        opts["*"]["start"], opts["*"]["end"] = opts["9"]["start"] + 0.8, opts["9"]["end"] + 0.8
    # one more call pressed before "or star" was said
    early = simulate_call(spec, [("1", 8.0), ("2", 1.4)], file="early.wav")
    early["menus"][1]["options"] = [o for o in early["menus"][1]["options"] if o["key"] != "*"]
    G = merge_timelines(calls + [early])
    assert "1/9" in G and "1/*" in G



def test_estimate_cut_at_a_misread_press_comes_from_the_rest_of_the_prompt():
    """The front end clips a visit's estimate to the press it took for accepted; when
    the prompt went on, the call to action is in the rest of it."""
    call = _call("g.wav", [
        _visit([], "info", "Thank you for calling,", start=10.0, listen_after=1.2,
               presses=[{"key": "1", "time": 11.2, "end": 11.3, "accepted": True},
                        {"key": "2", "time": 22.0, "end": 22.1, "accepted": True}]),
        _visit(["1"], "menu", "Please note that our menu has changed. For technical support, press 1. "
               "For billing, press 2.", [("1", "technical support"), ("2", "billing")], start=12.4,
               listen_after=4.3, via={"key": "1", "time": 11.2, "latency": 1.1}),
        _visit(["2"], "agent", "Please hold.", start=23.0, via={"key": "2", "time": 22.0, "latency": 0.9}),
    ])
    whole = _call("f.wav", [  # a call that heard the whole root prompt
        _visit([], "menu", "Thank you for calling, please note that our menu has changed. "
               "For technical support, press 1. For billing, press 2.", [("1", "technical support"), ("2", "billing")],
               start=10.0, listen_after=6.5, presses=[{"key": "2", "time": 20.0, "end": 20.1, "accepted": True}]),
        _visit(["2"], "agent", "Please hold.", start=21.0, via={"key": "2", "time": 20.0, "latency": 0.9}),
    ])
    G = merge_timelines([whole, call])
    assert set(G) == {"root", "1", "2"} and G.nodes["1"]["kind"] == "unknown"
    assert "g.wav@6.7 prompt" in G.nodes["root"]["listen_evidence"]  # 12.4 + 4.3 - 10.0
    assert "g.wav@1.3 ignored" in G.nodes["root"]["listen_evidence"]
    assert G.nodes["root"]["listen_after"] == pytest.approx(6.6)  # median of 6.5 and 6.7


def test_a_refused_key_is_no_branch():
    """ "That option is invalid. Please try again." then the menu: the key was refused."""
    calls = _calls()
    bad = simulate_call(SPEC, [("7", 5.0), ("2", 9.0), ("2", 1.5)], file="x.wav")
    root = bad["menus"][0]
    root["presses"][0]["accepted"] = True  # the IVR reacted to 7: it refused it
    # discovery marks a visit that opens with the platform's refusal (prompts.opens_with_refusal)
    again = dict(root, start=root["start"] + 6.0, prompt="That option is invalid. Please try again. Press 1.", refused=True,
                 options=[{"key": "1", "label": "", "start": 0, "end": 0, "role": "option"}], presses=[],
                 via={"key": "7", "time": root["start"] + 5.0, "latency": 0.9})
    bad["menus"].insert(1, again)
    G = merge_timelines(calls + [bad])
    assert "7" not in G and set(G) == set(merge_timelines(calls))


def test_digits_typed_into_an_input_count_as_accepted_when_the_entry_was_taken():
    """The front end saw the prompt play on over the first digits of an entry; the IVR
    took the entry (it reacted to the final #), so the input listened from the first."""
    t0 = 20.0
    digits = [{"key": k, "time": t0 + 2.0 + 0.4 * i, "end": t0 + 2.1 + 0.4 * i, "accepted": False}
              for i, k in enumerate("123456789")]
    digits.append({"key": "#", "time": t0 + 5.6, "end": t0 + 5.7, "accepted": True})
    call = _call("e.wav", [
        _visit([], "menu", "For payments, press 1.", [("1", "payments")],
               presses=[{"key": "1", "time": 5.0, "accepted": True}]),
        _visit(["1"], "input", "Please enter your ID followed by pound.", start=t0, entry="ID#",
               listen_after=0.0, via={"key": "1", "time": 5.0, "latency": 0.9}, presses=digits),
    ])
    G = merge_timelines([call])
    assert G.nodes["1"]["listen_bounds"] == [None, 2.0]
    assert G.nodes["1"]["wait"] <= 2.0


def test_a_press_the_audio_never_paused_for_is_no_branch():
    """Garbled words match nothing, but the far end went on without a pause: the
    press changed nothing (the front end took it for accepted)."""
    whole = _call("f.wav", [
        _visit([], "menu", "Welcome to Acme Bank. This call may be recorded. Press 1 for your account balance. "
               "Press 2 for credit.", [("1", "your account balance"), ("2", "credit")], start=6.0,
               listen_after=4.6, presses=[{"key": "2", "time": 16.0, "end": 16.1, "accepted": True}]),
        _visit(["2"], "menu", "Credit cards.", start=17.0, via={"key": "2", "time": 16.0, "latency": 0.9}),
    ])
    garbled = _call("g.wav", [
        _visit([], "info", "Welcome to Hackme, so you didn't think.", start=6.2,
               presses=[{"key": "3", "time": 8.3, "end": 8.4, "accepted": True}]),
        _visit(["3"], "menu", "This goal may be monitored or go forward. Press 1 for yellow count balance. "
               "Press 2 for credit.", [("1", "yellow count balance"), ("2", "credit")], start=8.4,
               via={"key": "3", "time": 8.3, "latency": 0.005},
               presses=[{"key": "2", "time": 14.8, "end": 14.9, "accepted": True}]),
        _visit(["3", "2"], "menu", "Credit cards.", start=16.0, via={"key": "2", "time": 14.8, "latency": 1.1}),
    ])
    G = merge_timelines([whole, garbled])
    assert set(G) == {"root", "1", "2"}
    assert "g.wav@2.2 ignored" in G.nodes["root"]["listen_evidence"]
    assert any(e.startswith("g.wav@") for e in G.edges["root", "2"]["evidence"])


def test_label_vote_between_single_readings_takes_the_consensus():
    """Three calls of one menu through phone codecs at 12-18 dB, each heard once by
    tiny.en (Bluebird root option 3, "a Bluebird Rewards member", phone corpus): no
    two spellings agree, so no cluster outvotes another; the reading the other
    hearings share most words with wins, not the longest one. A real majority still
    decides over consensus."""
    from ivrkit.trees.textsim import vote_label

    heard = {"a loser reward is member": 1, "a bluebird reward member": 1, "a uber bring water to remember": 1}
    label, agree, total = vote_label(heard)
    assert (agree, total) == (1, 3)
    assert label in ("a bluebird reward member", "a loser reward is member")
    assert vote_label({**heard, "a uber bring water to remember": 2})[0] == "a uber bring water to remember"


def test_label_vote_combines_weak_readings_word_by_word():
    """Harbor City Water option 1 ("report a water main break") as tiny.en heard it in
    six phone-corpus calls: no reading has a majority, and the whole-label vote took
    "the report that water made in gray" (token-set 65 against the truth, below the
    benchmark's 75). Aligned word by word, most hearings say "water main" and end in
    "grade"/"break" rather than "in gray": the word-level vote restores the words."""
    from rapidfuzz import fuzz

    from ivrkit.trees.textsim import combine_readings, vote_label

    heard = {"the report that water made in gray": 1, "the report on water main gray": 1,
             "the reports at water main grade": 1, "before that water mains rate": 1,
             "the report at water main break": 1, "the report and water main grade": 1}
    truth = "report a water main break"
    label, agree, total = vote_label(heard)
    assert total == 6 and 2 * agree <= total  # no majority: the near spellings cluster to 3
    assert "water main" in label and "in gray" not in label
    assert fuzz.token_set_ratio(label, truth) >= 75 > fuzz.token_set_ratio("the report that water made in gray", truth)
    # a real majority is left as it is, and a word only changes where more hearings agree
    assert vote_label({**heard, "the report that water made in gray": 7})[0] == "the report that water made in gray"
    assert combine_readings({"pay by car": 1, "say by far": 1}, "say by far") == "say by far"
