"""The call records and shared vocabulary of ivrkit.trees.model."""
import ast
import json
import sys
from pathlib import Path

import numpy as np

from ivrkit.audio.vocab import bridge_spans, mask_spans, resample, to_phone_rate
from ivrkit.trees import model
from ivrkit.trees.model import Evidence, Timeline, entry_runs, key_order, keypad_rank, node_id, node_path

ROOT = Path(__file__).resolve().parents[1]
TIMELINES = sorted((ROOT / "tests" / "fixtures").rglob("*.timeline.json"))


def test_every_fixture_timeline_round_trips_exactly():
    assert len(TIMELINES) >= 10
    for p in TIMELINES:
        d = json.loads(p.read_text())
        tl = Timeline.from_json(d)
        assert tl.to_json() == d, p
        # key order too: the CLI prints this JSON
        assert json.dumps(tl.to_json()) == json.dumps(d), p


def test_records_are_typed_and_frozen():
    d = json.loads(TIMELINES[0].read_text())
    tl = Timeline.from_json(d)
    v = tl.menus[0]
    assert isinstance(v.path, tuple) and all(isinstance(o, model.Option) for o in v.options)
    assert all(isinstance(p.accepted, bool) for m in tl.menus for p in m.presses)
    try:
        v.kind = "agent"
    except AttributeError:
        pass
    else:
        raise AssertionError("Visit is not frozen")


def test_missing_fields_read_as_none():
    tl = Timeline.from_json({"file": "x.wav", "menus": [{"path": ["2"], "options": [{"key": "1"}],
                                                         "presses": [{"key": "1", "time": 3.0}]}]})
    v = tl.menus[0]
    assert v.path == ("2",) and v.via is None and v.listen_bounds == (None, None)
    assert v.options[0].role == "option" and v.options[0].label is None
    assert v.presses[0].end is None and v.presses[0].accepted is False


def test_evidence_text_round_trips_with_the_tree_rounding():
    e = Evidence.at("call03.wav", 5.1049, "ignored")
    assert str(e) == "call03.wav@5.1 ignored" and e.t == 5.1
    assert Evidence.parse(str(e)) == e
    assert Evidence.parse("a@b.wav@-0.5 prompt") == Evidence("a@b.wav", -0.5, "prompt")
    assert Evidence.parse("call.wav 5.1 ignored") is None


def test_node_ids_and_paths_are_inverse():
    for path in ([], ["2"], ["2", "1"], ["1", "ID#"], ["*", "#"]):
        assert node_path(node_id(path)) == path
    assert node_id(()) == "root"


def test_key_orders():
    keys = ["#", "ID#", "10", "2", "*", "0", "1"]
    assert sorted(keys, key=key_order) == ["0", "1", "2", "10", "#", "*", "ID#"]
    assert sorted(["0", "#", "*", "9", "1"], key=keypad_rank) == ["1", "9", "*", "0", "#"]


def test_entry_runs_split_at_pauses_and_terminators():
    times = [1.0, 1.4, 1.8, 2.2, 2.6, 8.0, 8.3]
    keys = ["1", "2", "3", "#", "5", "1", "2"]
    assert entry_runs(times) == [[0, 1, 2, 3, 4], [5, 6]]
    assert entry_runs(times, keys) == [[0, 1, 2, 3], [4], [5, 6]]
    assert entry_runs([1.0, None, 1.2]) == [[0], [1], [2]]


def test_clip_listen_keeps_the_estimate_in_the_bracket():
    assert model.clip_listen(4.0, 5.0, None) == 5.0
    assert model.clip_listen(4.0, None, 3.0) == 3.0
    assert model.clip_listen(4.0, 1.0, 6.0) == 4.0


def test_model_imports_nothing_but_the_standard_library():
    tree = ast.parse((ROOT / "trees" / "model.py").read_text())
    mods = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    mods |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0}
    assert mods <= set(sys.stdlib_module_names) | {"__future__"}, mods


def test_mask_spans_and_bridging():
    mask = np.array([0, 1, 1, 0, 0, 1, 0, 1, 1, 1], dtype=bool)
    assert mask_spans(mask) == [(1, 3), (5, 6), (7, 10)]
    assert all(type(i) is int for s in mask_spans(mask) for i in s)
    assert bridge_spans(mask_spans(mask), lambda end, s: s - end <= 1) == [[1, 3], [5, 10]]


def test_resampler_keeps_a_tone():
    sr = 16000
    t = np.arange(sr) / sr
    y8 = to_phone_rate(np.sin(2 * np.pi * 440 * t), sr)
    assert len(y8) == 8000 and y8.dtype == np.float32
    spec = np.abs(np.fft.rfft(y8))
    assert abs(np.argmax(spec) - 440) <= 1  # 1 Hz bins at 8 kHz for 1 s
    assert resample(y8, 8000, 8000) is not None and len(resample(y8, 8000, 16000)) == 16000
