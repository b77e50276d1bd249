"""The call simulator (recordings/simulate.py) and the simulated test calls.

The simulator itself runs here with its numpy-only voice (no apt package); the
committed fixture calls (tests/fixtures/calls/, made with real voices and codecs by
make_calls.py) are checked against their truth files.
"""
from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "calls"

_spec = importlib.util.spec_from_file_location("ivrsim", ROOT / "recordings" / "simulate.py")
sim = importlib.util.module_from_spec(_spec)
sys.modules["ivrsim"] = sim
_spec.loader.exec_module(sim)

SR = sim.SR

SPEC = {
    "company": "Test Co", "number": "1-800-555-0000", "voice": "synthetic", "ringback": "us",
    "platform": {"barge_latency_s": [0.15, 0.3], "transition_s": [0.6, 1.0], "gap_s": 0.4, "greeting_gap_s": 0.5},
    "greeting": ["Thank you for calling Test Company.", "Calls may be recorded."],
    "menu": {"kind": "menu", "options": [
        {"key": "1", "label": "billing", "say": "For {label}, press {key}.",
         "node": {"kind": "input", "entry": "Tel#", "prompt": ["Enter your phone number, then pound."],
                  "then": {"kind": "agent", "prompt": ["Please hold."], "music": "synthetic"}}},
        {"key": "2", "label": "support", "say": "For {label}, press {key}.",
         "node": {"kind": "menu", "options": [
             {"key": "1", "label": "internet", "say": "For {label}, press {key}.",
              "node": {"kind": "info", "prompt": ["Restart your modem."], "end": "busy"}},
             {"key": "*", "label": "return to the main menu", "role": "back", "to": [],
              "say": "Press star to return to the main menu."}]}},
        {"key": "9", "label": "repeat these options", "role": "repeat", "say": "To {label}, press {key}."},
    ]},
}


def make_spec():
    spec = copy.deepcopy(SPEC)
    plat = {"listen_offset_s": 0.0}
    plat.update(spec["platform"])
    spec["platform"] = plat
    sim.index_nodes(spec)
    return spec


def run(plan):
    return sim.Simulation(make_spec(), plan, sim.Renderer(None)).run()


def rms_db(y):
    return 20 * np.log10(np.sqrt(np.mean(np.square(y, dtype=np.float64))) + 1e-12)


def band_db(y, f_hz):
    """Power (dB) within +-3.5 % of ``f_hz`` (the Q.24 reject limit) in a Hann spectrum."""
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y)), n=8192)) ** 2
    f = np.fft.rfftfreq(8192, 1 / SR)
    return 10 * np.log10(spec[(f > f_hz * 0.965) & (f < f_hz * 1.035)].sum() + 1e-20)


def key_freqs(key):
    r = next(i for i, row in enumerate(sim.DTMF_KEYS) if key in row)
    return sim.DTMF_ROWS[r], sim.DTMF_COLS[sim.DTMF_KEYS[r].index(key)]


def assert_tones_at_presses(y, presses):
    all_f = sim.DTMF_ROWS + sim.DTMF_COLS
    for p in presses:
        seg = y[int(p["start"] * SR): int(p["end"] * SR)]
        lo, hi = key_freqs(p["key"])
        others = max(band_db(seg, f) for f in all_f if f not in (lo, hi))
        assert min(band_db(seg, lo), band_db(seg, hi)) > others + 6, p


BASE_PLAN = {"seed": 7, "snr_db": 40, "ring_cycles": 1, "dtmf": {"dur_s": 0.1, "level_db": -12},
             "steps": [{"key": "5", "at": "start", "t": 0.8},           # over the greeting: ignored
                       {"key": "2", "at": "listen", "t": 1.0},          # barges into the menu
                       {"key": "1", "at": "end", "t": 0.8}]}            # after the submenu ended


def test_same_seed_same_audio_other_seed_other_audio():
    y1, t1 = run(BASE_PLAN)
    y2, t2 = run(BASE_PLAN)
    assert np.array_equal(y1, y2) and t1 == t2
    y3, t3 = run({**BASE_PLAN, "seed": 8})
    assert t3["presses"][1]["start"] != t1["presses"][1]["start"] or not np.array_equal(y1[: len(y3)], y3[: len(y1)])


def test_ignored_press_is_played_over_and_accepted_press_stops_the_prompt():
    y, truth = run(BASE_PLAN)
    ignored, barge, after = truth["presses"]
    assert (ignored["accepted"], barge["accepted"], after["accepted"]) == (False, True, True)
    assert ignored["node"] == [] and barge["node"] == [] and after["node"] == ["2"]
    speech = rms_db(y[int(truth["greeting_onset"] * SR): int(truth["visits"][0]["prompt_end"] * SR)])
    # the greeting goes on right after the ignored press
    assert rms_db(y[int((ignored["end"] + 0.02) * SR): int((ignored["end"] + 0.4) * SR)]) > speech - 10
    # the menu stops within the platform latency (<= 0.3 s) after the accepted press ...
    nxt = truth["visits"][1]
    quiet = y[int((barge["start"] + 0.32) * SR): int((nxt["start"] - 0.02) * SR)]
    assert len(quiet) > 0.2 * SR and rms_db(quiet) < speech - 25
    # ... although it had more to say
    assert truth["visits"][0]["prompt_end"] > barge["start"] + 1.0
    assert nxt["via"]["key"] == "2" and 0.6 <= nxt["via"]["latency"] <= 1.0
    assert_tones_at_presses(y, truth["presses"])


def test_root_listen_after_is_the_end_of_the_greeting_and_matches_the_tree():
    spec = make_spec()
    r = sim.Renderer(None)
    greeting = [r.speech(t, "synthetic") for t in spec["greeting"]]
    expected = sum(len(g) for g in greeting) / SR + 0.5 * len(greeting)
    _, truth = run(BASE_PLAN)
    assert truth["visits"][0]["listen_after"] == pytest.approx(expected, abs=2e-3)
    tree = sim.true_tree(spec, r)
    root = next(n for n in tree["nodes"] if n["id"] == "root")
    assert root["listen_after"] == pytest.approx(expected, abs=2e-3)
    assert {(e["source"], e["key"], e["label"]) for e in tree["edges"]} >= {
        ("root", "1", "billing"), ("root", "2", "support"), ("2", "*", "return to the main menu")}
    assert next(n for n in tree["nodes"] if n["id"] == "1")["entry"] == "Tel#"


@pytest.mark.parametrize("seed", range(6))
def test_random_plans_accept_exactly_the_presses_made_while_listening(seed):
    spec = make_spec()
    leaf = sim.leaves(spec)[seed % len(sim.leaves(spec))]
    plan = sim.random_plan(spec, leaf, "x", seed, harsh=False)
    plan["snr_db"] = 40
    y, truth = sim.Simulation(spec, plan, sim.Renderer(None)).run()
    visits = truth["visits"]
    for p in truth["presses"]:
        if p["phase"] == "transition":
            assert not p["accepted"]
            continue
        v = [v for v in visits if v["path"] == p["node"] and v["start"] <= p["start"] <= v["end"] + 1e-3][-1]
        listening = v["listen_after"] is not None and p["start"] >= v["start"] + v["listen_after"] - 1e-3
        if p["accepted"]:
            assert listening
        elif v["kind"] == "menu" and p["phase"] == "ignored":
            assert not listening
    # the caller reached the leaf the plan walked to
    assert visits[-1]["path"] == leaf
    if spec["_nodes"][tuple(leaf)]["kind"] == "input":
        keyed = visits[-1]["keyed"]
        entered = "".join(p["key"] for p in truth["presses"] if p["phase"] == "entry")
        assert keyed == entered and keyed.endswith("#") and len(keyed) == 11
    assert len(y) / SR == pytest.approx(truth["duration"], abs=1e-3)


def test_rapid_second_key_is_lost_in_the_transition():
    plan = {"seed": 3, "snr_db": 40, "ring_cycles": 0, "dtmf": {"dur_s": 0.08},
            "steps": [{"keys": "21", "at": "end", "t": 0.5, "gap": 0.12},
                      {"key": "1", "at": "end", "t": 0.5}]}
    _, truth = run(plan)
    first, lost, again = truth["presses"]
    assert first["accepted"] and not lost["accepted"] and lost["phase"] == "transition"
    assert lost["start"] < truth["visits"][1]["start"] and again["accepted"]
    assert [v["path"] for v in truth["visits"]] == [[], ["2"], ["2", "1"]]
    assert truth["tones"][-1]["name"] == "busy"


def test_ringback_cadence_and_tone():
    y, truth = run({**BASE_PLAN, "ring_cycles": 2})
    rb = [t for t in truth["tones"] if t["name"] == "ringback"]
    assert [(t["start"], t["end"]) for t in rb] == [(0.0, 2.0), (6.0, 8.0)]
    on = y[int(0.5 * SR): int(1.5 * SR)]
    off = y[int(3.0 * SR): int(5.0 * SR)]
    assert band_db(on, 440) > band_db(on, 1000) + 20 and band_db(on, 480) > band_db(on, 1000) + 20
    assert rms_db(off) < rms_db(on) - 30
    assert truth["answer"] > 8.0 and truth["greeting_onset"] > truth["answer"]


FIXTURE_TRUTHS = sorted(FIXTURES.glob("*/*.truth.json"))


def test_fixture_set_is_varied():
    truths = [json.loads(p.read_text()) for p in FIXTURE_TRUTHS]
    assert len(truths) >= 3
    assert len({t["voice"] for t in truths}) >= 3 and len({t["codec"] for t in truths}) >= 3
    assert sum(p.stat().st_size for p in FIXTURES.rglob("*") if p.is_file()) < 2_000_000


@pytest.mark.parametrize("truth_path", FIXTURE_TRUTHS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture_calls_match_their_truth(truth_path):
    from ivrkit.audio import load

    truth = json.loads(truth_path.read_text())
    y, sr = load(truth_path.parent / truth["file"], sr=SR)
    assert len(y) / sr == pytest.approx(truth["duration"], abs=0.05)
    assert_tones_at_presses(y, truth["presses"])
    # nothing of the IVR before the answer except ringback bursts
    if truth["tones"] and truth["tones"][0]["name"] == "ringback":
        first = truth["tones"][0]
        gap = y[int((first["end"] + 0.1) * sr): int(min(first["end"] + 3.5, truth["greeting_onset"] - 0.1) * sr)]
        if len(gap):
            assert rms_db(gap) < rms_db(y[int(first["start"] * sr): int(first["end"] * sr)]) - 15
    tree = json.loads((truth_path.parent / "tree.json").read_text())
    assert tree["graph"]["schema"] == "ivrkit.tree/1" and tree["graph"]["company"] == truth["company"]
    ids = {n["id"] for n in tree["nodes"]}
    for v in truth["visits"]:
        assert ("/".join(v["path"]) or "root") in ids


def test_stereo_call_has_the_ivr_left_and_the_caller_right():
    y, truth = run({**BASE_PLAN, "stereo": True})
    assert y.shape[0] == 2 and truth["channels"] == 2
    ivr, caller = y
    ignored = truth["presses"][0]
    seg = slice(int((truth["greeting_onset"] + 0.1) * SR), int((ignored["start"] - 0.05) * SR))
    # the prompt is on the left only (the caller's side carries only its room noise)
    assert rms_db(ivr[seg]) > rms_db(caller[seg]) + 25
    # the key tones are on the right only (the left has the greeting, not the tone)
    assert_tones_at_presses(caller, truth["presses"])
    k = slice(int(ignored["start"] * SR), int(ignored["end"] * SR))
    lo, hi = key_freqs(ignored["key"])
    assert band_db(caller[k], hi) > band_db(ivr[k], hi) + 10  # the left has speech there


def test_keys_out_of_band_leave_no_tone_and_keep_the_truth():
    """``--no-tones-share``: a call whose keys went out of band has the same audio
    but for the tones, and its truth keeps every key, marked ``in_band: false``."""
    from ivrkit.audio.dtmf import detect_dtmf

    y, truth = run(BASE_PLAN)
    y_oob, t_oob = run({**BASE_PLAN, "keys_out_of_band": True})
    assert len(detect_dtmf(y, SR)) == len(truth["presses"]) == 3
    assert detect_dtmf(y_oob, SR) == []
    assert t_oob["keys_out_of_band"] is True and all(p["in_band"] is False for p in t_oob["presses"])
    assert [(p["key"], p["start"]) for p in t_oob["presses"]] == [(p["key"], p["start"]) for p in truth["presses"]]
    far = np.ones(len(y), bool)
    for p in truth["presses"]:
        far[int(p["start"] * SR) - 8: int(p["end"] * SR) + 8] = False
    assert np.allclose(y[far], y_oob[far], atol=1e-6)  # the same call, tones aside


def test_no_tones_share_picks_that_share_of_calls():
    assert sim.out_of_band_calls(8, 0.0, 1) == set()
    picked = sim.out_of_band_calls(9, 0.33, 1)
    assert len(picked) == 3 and picked <= set(range(9))
    assert picked == sim.out_of_band_calls(9, 0.33, 1) and len(sim.out_of_band_calls(8, 1.0, 5)) == 8
