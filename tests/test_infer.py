"""Presses inferred where no tone is heard (trees/infer.py), on the bundled Northwind
calls with their tones muted as a phone sending keys out of band does."""
import copy
import json
import sys
from pathlib import Path

import pytest

from ivrkit.audio import load
from ivrkit.audio.dtmf import detect_dtmf
from ivrkit.trees.build import merge_timelines
from ivrkit.trees.io import tree_to_json

REC = Path(__file__).parents[1] / "recordings"
NW = REC / "northwind"
sys.path.insert(0, str(REC))
import simulate  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def calls(tmp_path_factory):
    """Timelines of the four Northwind calls with tones, and of calls 02 and 03 with
    every tone muted (no sidecar), analysed as ``discover`` does."""
    from ivrkit.discovery.pipeline import analyse_calls

    out = tmp_path_factory.mktemp("toneless")
    paths = [NW / f"call0{i}.wav" for i in range(1, 5)]
    for name in ("call02", "call03"):
        truth = json.loads((NW / f"{name}.truth.json").read_text())
        y, sr = load(NW / f"{name}.wav")
        y = simulate.erase_key_tones(y, truth["presses"], sr)
        assert detect_dtmf(y, sr) == []
        simulate.encode(y, out / f"{name}.wav", "pcm16")
        paths.append(out / f"{name}.wav")
    tls = analyse_calls(paths)
    return {"tones": dict(zip(("call01", "call02", "call03", "call04"), tls[:4])),
            "none": {"call02": tls[4], "call03": tls[5]}}


def _truth(name):
    return json.loads((NW / f"{name}.truth.json").read_text())


def _moves(truth):
    """(key, time, path) of the true presses after which the caller was elsewhere."""
    vs = truth["visits"]
    return [(v["via"]["key"], v["via"]["time"], tuple(v["path"])) for a, v in zip(vs, vs[1:])
            if v.get("via") and v["path"] != a["path"]]


def _merge(tls):
    merged = []
    G = merge_timelines(tls, calls_out=merged)
    return G, merged


def _inferred(tl):
    return [p for m in tl["menus"] for p in m["presses"] if p.get("inferred")]


def test_toneless_call_maps_to_its_branch(calls):
    others = [calls["tones"][c] for c in ("call01", "call03", "call04")]
    G, merged = _merge(others + [calls["none"]["call02"]])
    tl = next(t for t in merged if t["file"] == "call02.wav")
    got = _inferred(tl)
    key, t_true, _ = _moves(_truth("call02"))[0]
    assert got and got[0]["key"] == key == "2"
    lo, hi = got[0]["window"]
    assert lo - 1.0 <= t_true <= hi  # at the place the prompt stopped for it
    assert got[0]["rule"] in ("known", "echo", "unknown-child", "label-words")
    assert 0 < got[0]["confidence"] < 1
    assert tl["menus"][1]["path"][:1] == ["2"] and tl["menus"][1]["inferred"]["key"] == "2"
    assert "call02.wav@" in " ".join(G.edges["root", "2"]["inferred"])
    # the tree still exports, and the toneless call added no node the others lack
    assert tree_to_json(G)["edges"]
    base = merge_timelines(others)
    assert set(G.nodes) - set(base.nodes) <= {"2/2"}


def test_replayed_menu_is_no_press(calls):
    """Call 03 presses 9 ("repeat these options") and the root plays again, then 4:
    the replay moves nothing; the 4 is the one key no other call took."""
    others = [calls["tones"][c] for c in ("call01", "call02", "call04")]
    G, merged = _merge(others + [calls["none"]["call03"]])
    tl = next(t for t in merged if t["file"] == "call03.wav")
    moves = _moves(_truth("call03"))
    assert [m[0] for m in moves] == ["4"]
    got = _inferred(tl)
    assert [p["key"] for p in got] == ["4"]
    lo, hi = got[0]["window"]
    assert lo - 1.0 <= moves[0][1] <= hi
    assert "9" not in G.nodes or G.nodes["9"].get("kind") == "back"  # a repeat, not a branch
    from ivrkit.trees.render import render_tree

    line = next(x for x in render_tree(G).splitlines() if x.lstrip("├└─ ").startswith("4 "))
    assert line.endswith("(key inferred, no tone heard)")  # no call with tones took it


def test_calls_with_tones_get_no_inferred_press(calls):
    tls = list(calls["tones"].values())
    G, merged = _merge(tls)
    assert not any(_inferred(t) for t in merged)
    assert not any(d.get("inferred") for _, _, d in G.edges(data=True))
    off = tree_to_json(merge_timelines(tls, infer_presses=False))
    on = tree_to_json(G)
    strip = lambda d: {k: v for k, v in d.items() if k not in ("created",)}  # noqa: E731
    assert strip(on["graph"] if "graph" in on else {}) == strip(off["graph"] if "graph" in off else {})
    assert on["nodes"] == off["nodes"] and on["edges"] == off["edges"]


ECHO_SPEC = {
    "company": "Echo Gas", "number": "1-800-555-0123", "voice": "flite:kal",
    "greeting": ["Thank you for calling Echo Gas."],
    "menu": {"kind": "menu", "options": [
        {"key": "1", "label": "billing", "say": "For {label}, press {key}.",
         "node": {"kind": "info", "prompt": ["Billing. Your bill is due on the first of the month.", "Goodbye."]}},
        {"key": "2", "label": "gas leaks", "say": "To report {label}, press {key}.",
         "node": {"kind": "info", "prompt": ["Gas leaks. Leave the building now and call nine one one.",
                                              "Goodbye."]}},
    ]},
}


def test_one_toneless_call_alone_by_the_option_it_echoes(tmp_path):
    """No other call to compare with: the new prompt opens with the label of the
    option just offered ("gas leaks. ..." after "to report gas leaks, press 2")."""
    import shutil

    from ivrkit.discovery.pipeline import analyse_calls

    if not shutil.which("flite"):
        pytest.skip("flite (Debian package) not installed")
    spec = simulate.prepare_spec(copy.deepcopy(ECHO_SPEC))
    plan = {"name": "call01", "seed": 5, "codec": "pcm16", "snr_db": 35, "ring_cycles": 1,
            "keys_out_of_band": True, "steps": [{"key": "2", "at": "end", "t": 1.0}]}
    truth = simulate.render_call(spec, plan, simulate.Renderer(simulate.default_cache()), tmp_path)
    (tl,) = analyse_calls([tmp_path / truth["file"]])
    assert not [e for e in tl["events"] if e["type"] == "dtmf"]
    G, merged = _merge([tl])
    got = _inferred(merged[0])
    assert [(p["key"], p["rule"]) for p in got] == [("2", "echo")]
    lo, hi = got[0]["window"]
    assert lo - 1.0 <= truth["presses"][0]["start"] <= hi
    assert G.has_edge("root", "2") and G.edges["root", "2"]["inferred"] and not G.edges["root", "2"]["evidence"]
    assert "1" not in G.nodes or not G.nodes["1"].get("visits")  # nothing invented on the way


LEFT_SPEC = {
    "company": "Left Gas", "number": "1-800-555-0124", "voice": "flite:kal",
    "greeting": ["Thank you for calling Left Gas."],
    "menu": {"kind": "menu", "options": [
        {"key": "1", "label": "billing", "say": "For {label}, press {key}.",
         "node": {"kind": "info", "prompt": ["Your bill is due on the first of the month.", "Goodbye."]}},
        {"key": "2", "label": "gas leaks", "say": "To report {label}, press {key}.",
         "node": {"kind": "info", "prompt": ["Leave the building now. Report gas leaks from outside.",
                                              "Goodbye."]}},
        {"key": "3", "label": "outages", "say": "For {label}, press {key}.",
         "node": {"kind": "info", "prompt": ["There are no outages in your area today.", "Goodbye."]}},
    ]},
}


@pytest.fixture(scope="module")
def left_calls(tmp_path_factory):
    """Three calls to LEFT_SPEC: call01 with tones presses 3; call02 (2) and call03
    (1) send their keys out of band. Timelines and truths."""
    import shutil

    from ivrkit.discovery.pipeline import analyse_calls

    if not shutil.which("flite"):
        pytest.skip("flite (Debian package) not installed")
    out = tmp_path_factory.mktemp("left")
    spec = simulate.prepare_spec(copy.deepcopy(LEFT_SPEC))
    rend = simulate.Renderer(simulate.default_cache())
    truths = []
    # call01 waits 2 s after the menu (heard whole, a key awaited), the others 1 s
    for i, (key, oob) in enumerate((("3", False), ("2", True), ("1", True)), 1):
        plan = {"name": f"call0{i}", "seed": 10 + i, "codec": "pcm16", "snr_db": 35, "ring_cycles": 1,
                "keys_out_of_band": oob, "steps": [{"key": key, "at": "end", "t": 1.0 if oob else 2.0}]}
        truths.append(simulate.render_call(spec, plan, rend, out))
    tls = analyse_calls([out / t["file"] for t in truths])
    assert [bool([e for e in tl["events"] if e["type"] == "dtmf"]) for tl in tls] == [True, False, False]
    return tls, truths


def test_toneless_calls_learn_from_each_other(left_calls):
    """call02's new prompt says its label's own word ("gas leaks"); that leaves one
    key nobody entered for call03, whose prompt says nothing of its label."""
    tls, truths = left_calls
    G, merged = _merge(tls)
    got = {t["file"]: _inferred(t) for t in merged}
    assert [p["key"] for p in got["call02.wav"]] == ["2"]
    assert got["call02.wav"][0]["rule"] in ("label-words", "unknown-child")
    assert [(p["key"], p["rule"]) for p in got["call03.wav"]] == [("1", "unknown-child")]
    for t in truths[1:]:
        p = got[t["file"]][0]
        assert p["window"][0] - 1.0 <= t["presses"][0]["start"] <= p["window"][1]
    assert {"1", "2", "3"} <= set(G.nodes)


def test_two_equally_possible_keys_are_flagged_not_guessed(left_calls):
    """call03 alone with call01: keys 1 and 2 are both unentered and its prompt names
    neither, so no press is inferred; the call is flagged with both candidates and
    what it heard after the stop is not filed under the root."""
    tls, _ = left_calls
    G, merged = _merge([tls[0], tls[2]])
    tl = next(t for t in merged if t["file"] == "call03.wav")
    assert _inferred(tl) == []
    assert tl["menus"][-1]["unplaced"]["candidates"] == ["1", "2"]
    assert "first of the month" not in textsim_norm(tl["menus"][-1]["prompt"])
    assert set(G.nodes) == set(merge_timelines([tls[0]]).nodes)


def textsim_norm(s):
    from ivrkit.trees.textsim import normalize

    return normalize(s)


HANDOFF_SPEC = {
    "company": "Handoff Gas", "number": "1-800-555-0125", "voice": "flite:kal",
    "greeting": ["Thank you for calling Handoff Gas."],
    "menu": {"kind": "menu", "options": [
        {"key": "1", "label": "billing", "say": "For {label}, press {key}.",
         "node": {"kind": "info", "prompt": ["Your bill is due on the first of the month.", "Goodbye."]}},
        {"key": "2", "label": "a customer advocate", "say": "To speak with {label}, press {key}.",
         "node": {"kind": "agent", "prompt": ["Please hold while we try to connect you."]}},
        {"key": "3", "label": "technical support", "say": "For {label}, press {key}.",
         "node": {"kind": "agent", "prompt": ["Please hold for technical support."]}},
        {"key": "0", "label": "an operator", "say": "For {label}, press {key}.",
         "node": {"kind": "agent", "prompt": ["Please hold while we try to connect you."]}},
    ]},
}


@pytest.fixture(scope="module")
def handoff_calls(tmp_path_factory):
    """HANDOFF_SPEC: keys 2 and 0 play one stock hand-off. call01 (2) and call02 (1)
    with tones; call03 (0) and call04 (3) send their keys out of band, after the
    whole menu. Timelines and truths."""
    import shutil

    from ivrkit.discovery.pipeline import analyse_calls

    if not shutil.which("flite"):
        pytest.skip("flite (Debian package) not installed")
    out = tmp_path_factory.mktemp("handoff")
    spec = simulate.prepare_spec(copy.deepcopy(HANDOFF_SPEC))
    rend = simulate.Renderer(simulate.default_cache())
    truths = []
    for i, (key, oob) in enumerate((("2", False), ("1", False), ("0", True), ("3", True)), 1):
        plan = {"name": f"call0{i}", "seed": 20 + i, "codec": "pcm16", "snr_db": 35, "ring_cycles": 1,
                "keys_out_of_band": oob, "steps": [{"key": key, "at": "end", "t": 1.5}]}
        truths.append(simulate.render_call(spec, plan, rend, out))
    tls = analyse_calls([out / t["file"] for t in truths])
    assert [bool([e for e in tl["events"] if e["type"] == "dtmf"]) for tl in tls] == [True, True, False, False]
    return tls, truths


def test_a_stock_hand_off_two_keys_play_is_flagged_not_guessed(handoff_calls):
    """call03 pressed 0 and heard "please hold while we try to connect you", the
    sentence call01 heard after 2. Nobody with tones entered 0, and the hand-off
    names nothing of "a customer advocate": 2 or any key nobody entered (0, 3) may
    have led there, so no press is inferred; the call is flagged with them, not
    with 1 (call02 heard where 1 leads)."""
    tls, _ = handoff_calls
    G, merged = _merge(tls[:3])
    tl = next(t for t in merged if t["file"] == "call03.wav")
    assert _inferred(tl) == []
    assert set(tl["menus"][-1]["unplaced"]["candidates"]) == {"2", "3", "0"}
    assert not any(d.get("inferred") for _, _, d in G.edges(data=True))


def test_a_hand_off_naming_its_option_is_echoed(handoff_calls):
    """call04 pressed 3 and heard "please hold for technical support": the label
    comes after words of the hand-off's own ("please hold for"), which the menu
    never said, so it is the echo of option 3, not the menu going on; the call
    alone tells it (no other call entered a key)."""
    tls, truths = handoff_calls
    G, merged = _merge([tls[3]])
    tl = next(t for t in merged if t["file"] == "call04.wav")
    got = _inferred(tl)
    assert [(p["key"], p["rule"]) for p in got] == [("3", "echo")]
    assert got[0]["window"][0] - 1.0 <= truths[3]["presses"][0]["start"] <= got[0]["window"][1]
    assert G.has_edge("root", "3") and G.edges["root", "3"]["inferred"]


SHORT_SPEC = {
    "company": "Short Gas", "number": "1-800-555-0126", "voice": "flite:kal",
    "greeting": ["Thank you for calling Short Gas."],
    "menu": {"kind": "menu", "options": [
        {"key": "1", "label": "billing", "say": "For {label}, press {key}.",
         "node": {"kind": "info", "prompt": ["Your account is paid up until March.", "Goodbye."]}},
        {"key": "2", "label": "an agent", "say": "To speak with {label}, press {key}.",
         "node": {"kind": "agent", "prompt": ["Please hold."]}},
        {"key": "3", "label": "outages", "say": "For {label}, press {key}.",
         "node": {"kind": "info", "prompt": ["There are no outages in your area today.", "Goodbye."]}},
    ]},
}


def test_a_key_whose_prompt_is_too_short_to_match_was_still_entered(tmp_path):
    """call01 pressed 2 and heard only "please hold" (too few words to name a node
    by), call02 pressed 3; the toneless call03 pressed 1 and its prompt says nothing
    of "billing". Key 2 was entered all the same, so 1 is the one key left."""
    import shutil

    from ivrkit.discovery.pipeline import analyse_calls

    if not shutil.which("flite"):
        pytest.skip("flite (Debian package) not installed")
    spec = simulate.prepare_spec(copy.deepcopy(SHORT_SPEC))
    rend = simulate.Renderer(simulate.default_cache())
    truths = []
    for i, (key, oob) in enumerate((("2", False), ("3", False), ("1", True)), 1):
        plan = {"name": f"call0{i}", "seed": 30 + i, "codec": "pcm16", "snr_db": 35, "ring_cycles": 1,
                "keys_out_of_band": oob, "steps": [{"key": key, "at": "end", "t": 1.0 if oob else 2.0}]}
        truths.append(simulate.render_call(spec, plan, rend, tmp_path))
    tls = analyse_calls([tmp_path / t["file"] for t in truths])
    G, merged = _merge(tls)
    got = _inferred(next(t for t in merged if t["file"] == "call03.wav"))
    assert [(p["key"], p["rule"]) for p in got] == [("1", "unknown-child")]
    assert got[0]["window"][0] - 1.0 <= truths[2]["presses"][0]["start"] <= got[0]["window"][1]


CUT_SPEC = {
    "company": "Cut Gas", "number": "1-800-555-0127", "voice": "flite:kal",
    "greeting": ["Thank you for calling Cut Gas."],
    "menu": {"kind": "menu", "options": [
        {"key": "1", "label": "billing", "say": "For {label}, press {key}.",
         "node": {"kind": "menu", "options": [
             {"key": "1", "label": "your balance", "say": "To hear {label}, press {key}.",
              "node": {"kind": "info", "prompt": ["Your balance is twenty dollars.", "Goodbye."]}},
             {"key": "2", "label": "a payment", "say": "To make {label}, press {key}.",
              "node": {"kind": "info", "prompt": ["Payments are taken on our website.", "Goodbye."]}}]}},
        {"key": "2", "label": "outages", "say": "For {label}, press {key}.",
         "node": {"kind": "info", "prompt": ["There are no outages in your area today.", "Goodbye."]}},
    ]},
}


def test_a_known_prompt_heard_differently_is_no_new_node(tmp_path):
    """call01 (tones) went 1, 2; the toneless call02 went 1 and cut the billing menu
    with 1. Whisper hears the billing menu's opening as "so here we are battling" in
    one call and "so here we are balanced" in the other: alike only in their first
    words, no stock phrase, it is the node call01 entered, not a new one, so key 2
    (the root's one key nobody entered) is not named. Every inferred press is a true
    move."""
    import shutil

    from ivrkit.discovery.pipeline import analyse_calls

    if not shutil.which("flite"):
        pytest.skip("flite (Debian package) not installed")
    spec = simulate.prepare_spec(copy.deepcopy(CUT_SPEC))
    rend = simulate.Renderer(simulate.default_cache())
    truths = []
    for i, steps in enumerate(((("1", "end", 2.0), ("2", "end", 2.0)),
                                      (("1", "end", 2.0), ("1", "start", 1.3))), 1):
        plan = {"name": f"call0{i}", "seed": 40 + i, "codec": "pcm16", "snr_db": 35, "ring_cycles": 1,
                "keys_out_of_band": i == 2, "steps": [{"key": k, "at": at, "t": t} for k, at, t in steps]}
        truths.append(simulate.render_call(spec, plan, rend, tmp_path))
    tls = analyse_calls([tmp_path / t["file"] for t in truths])
    G, merged = _merge(tls)
    moves = _moves(truths[1])
    assert [m[0] for m in moves] == ["1", "1"]
    for p in _inferred(merged[1]):
        assert any(k == p["key"] and p["window"][0] - 1.0 <= t <= p["window"][1] for k, t, _ in moves), p
    assert not G.has_edge("root", "2") or not G.edges["root", "2"].get("inferred")
