"""Keys from outside the audio: a CALL.keys.json sidecar or --keys, reconciled with
the tones heard (discovery/keys.py), on the bundled Northwind calls."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ivrkit.audio import load
from ivrkit.audio.dtmf import detect_dtmf
from ivrkit.audio.events import DtmfPress
from ivrkit.discovery import keys as K

REC = Path(__file__).parents[1] / "recordings"
NW = REC / "northwind"
sys.path.insert(0, str(REC))
import simulate  # noqa: E402


def discover(*args):
    return subprocess.run([sys.executable, "-m", "ivrkit.discovery.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=900)


def untoned_copy(call: Path, out_dir: Path, sidecar: bool = True) -> tuple[Path, dict]:
    """``call`` with its key tones muted (truth spans) and, optionally, its sidecar."""
    truth = json.loads(call.with_suffix(".truth.json").read_text())
    y, sr = load(call)
    dst = out_dir / call.name
    simulate.encode(simulate.erase_key_tones(y, truth["presses"], sr), dst, "pcm16")
    if sidecar:
        K.sidecar_path(dst).write_text(json.dumps(simulate.keys_sidecar(truth)))
    return dst, truth


def test_keys_option_parses_and_sorts():
    got = K.parse_keys_option("1@20.40, 2@12.31,#@21")
    assert [(k.key, k.time_s) for k in got] == [("2", 12.31), ("1", 20.4), ("#", 21.0)]


@pytest.mark.parametrize("bad", ["2@", "x@1.0", "2-12.3", "2@-1", "2@nan", "22@1.0"])
def test_bad_keys_option_is_refused(bad):
    with pytest.raises(K.KeysError, match="--keys"):
        K.parse_keys_option(bad)


def test_reconcile_takes_tone_timing_and_keeps_unheard_keys():
    heard = [DtmfPress("2", 12.40, 12.50, -9.0), DtmfPress("7", 30.0, 30.1, -8.0)]
    listed = [K.ListedKey("2", 12.31, "inband"), K.ListedKey("1", 20.40, "rfc4733")]
    got = K.reconcile(heard, listed)
    assert [(p.key, p.start_s) for p in got] == [("2", 12.40), ("1", 20.40), ("7", 30.0)]
    assert got[0].heard and got[0].level_db == -9.0
    assert not got[1].heard and got[1].level_db is None and got[1].end_s == pytest.approx(20.5)
    assert K.event_fields(got[1]) == {"source": "sidecar", "heard": False, "method": "rfc4733"}
    assert K.event_fields(got[2]) == {}  # heard, not listed: kept as heard


def test_reconcile_window_is_150_ms():
    heard = [DtmfPress("2", 12.47, 12.57, -9.0)]
    far = K.reconcile(heard, [K.ListedKey("2", 12.31)])
    assert [(p.key, p.start_s, getattr(p, "heard", None)) for p in far] == [("2", 12.31, False), ("2", 12.47, None)]


def test_erased_call_has_no_tones_left():
    truth = json.loads((NW / "call01.truth.json").read_text())
    y, sr = load(NW / "call01.wav")
    assert len(detect_dtmf(y, sr)) == len(truth["presses"])
    assert detect_dtmf(simulate.erase_key_tones(y, truth["presses"], sr), sr) == []


@pytest.mark.parametrize("content, says", [
    ("{not json", "not a keys file"),
    ('{"key": "2"}', "expected a JSON list"),
    ('[{"key": "2"}]', "entry 1: expected an object"),
    ('[{"key": "X", "time": 1.0}]', "not a DTMF key"),
    ('[{"key": "2", "time": 1.0, "method": "sms"}]', "method 'sms'"),
])
def test_bad_sidecar_is_one_line_exit_2(tmp_path, content, says):
    call = tmp_path / "call01.wav"
    call.write_bytes((NW / "call01.wav").read_bytes())
    K.sidecar_path(call).write_text(content)
    r = discover("timeline", call)
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "call01.keys.json" in lines[0] and says in lines[0]


def test_keys_option_errors_exit_2(tmp_path):
    r = discover("map", NW / "call01.wav", NW / "call02.wav", "--keys", "2@1.0")
    assert r.returncode == 2 and "one call" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = discover("timeline", NW / "call01.wav", "--keys", "2@1e9")
    assert r.returncode == 2 and "past the end" in r.stderr


def _shape(tree: dict) -> tuple:
    """A tree's menu structure: nodes (id, kind) and edges (from, to, key, label, role)."""
    nodes = sorted((n["id"], n.get("kind")) for n in tree["nodes"])
    edges = sorted((e["source"], e["target"], str(e["key"]), e.get("label") or "", e.get("role", "option"))
                   for e in tree["edges"])
    return nodes, edges


@pytest.mark.slow
def test_sidecar_on_a_call_without_tones_gives_the_same_tree(tmp_path):
    call = NW / "call01.wav"
    plain = tmp_path / "plain"
    plain.mkdir()
    untoned, truth = untoned_copy(call, plain, sidecar=False)
    with_keys = tmp_path / "keys"
    with_keys.mkdir()
    untoned_k, _ = untoned_copy(call, with_keys, sidecar=True)
    trees = {}
    for name, c in (("tones", call), ("none", untoned), ("sidecar", untoned_k)):
        out = tmp_path / f"{name}.json"
        r = discover("map", c, "--out", out)
        assert r.returncode == 0, r.stderr
        trees[name] = json.loads(out.read_text())
    assert _shape(trees["sidecar"]) == _shape(trees["tones"])
    assert _shape(trees["none"]) != _shape(trees["tones"])  # the test can fail: tones matter
    # --keys gives the same as the sidecar, and the events say where the keys came from
    spec = ",".join(f"{p['key']}@{p['start']:.3f}" for p in truth["presses"])
    r = discover("timeline", untoned, "--json", "--keys", spec)
    assert r.returncode == 0, r.stderr
    ev = [e for e in json.loads(r.stdout)["events"] if e["type"] == "dtmf"]
    assert len(ev) == len(truth["presses"])
    assert all(e["source"] == "sidecar" and e["heard"] is False and e["level_db"] is None for e in ev)
