"""A key the platform refuses ("That option is invalid. Please try again.", Asterisk's
own recording) is no branch: discovery marks the visit and the speech from the
grammar's ``kind.refusal``, the tree and the press inference read the marks."""
from __future__ import annotations

import copy
import shutil
import sys
from pathlib import Path

import pytest

from ivrkit.trees.build import merge_timelines

REC = Path(__file__).parents[1] / "recordings"
sys.path.insert(0, str(REC))
import simulate  # noqa: E402

pytestmark = pytest.mark.slow

SPEC = {
    "company": "Refusal Gas", "number": "1-800-555-0125", "voice": "flite:kal",
    "greeting": ["Thank you for calling Refusal Gas."],
    "menu": {"kind": "menu", "options": [
        {"key": "1", "label": "billing", "say": "For {label}, press {key}.",
         "node": {"kind": "info", "prompt": ["Your bill is due on the first of the month.", "Goodbye."]}},
        {"key": "2", "label": "outages", "say": "For {label}, press {key}.",
         "node": {"kind": "info", "prompt": ["There are no outages in your area today.", "Goodbye."]}},
    ]},
}


def _render(tmp_path, out_of_band: bool):
    from ivrkit.discovery.pipeline import analyse_calls

    if not shutil.which("flite") or not (simulate.ASTERISK_ROOT / "en" / "pm-invalid-option.wav").exists():
        pytest.skip("flite or asterisk-core-sounds-en not installed")
    spec = simulate.prepare_spec(copy.deepcopy(SPEC))
    plan = {"name": "call01", "seed": 3, "codec": "pcm16", "snr_db": 35, "ring_cycles": 1,
            "keys_out_of_band": out_of_band,
            "steps": [{"key": "7", "at": "end", "t": 1.0}, {"key": "1", "at": "end", "t": 1.0}]}
    truth = simulate.render_call(spec, plan, simulate.Renderer(simulate.default_cache()), tmp_path)
    (tl,) = analyse_calls([tmp_path / truth["file"]])
    return truth, tl


def test_a_refused_key_is_marked_and_is_no_branch(tmp_path):
    truth, tl = _render(tmp_path, out_of_band=False)
    refused = [m for m in tl["menus"] if m.get("refused")]
    assert len(refused) == 1 and refused[0]["via"]["key"] == "7"
    assert [e for e in tl["events"] if e["type"] == "speech" and e.get("refusal")]
    G = merge_timelines([tl])
    assert G.has_edge("root", "1") and "7" not in G


def test_no_press_is_inferred_at_a_refusal(tmp_path):
    truth, tl = _render(tmp_path, out_of_band=True)
    assert not [e for e in tl["events"] if e["type"] == "dtmf"]
    merged = []
    G = merge_timelines([tl], calls_out=merged)
    inferred = [p for m in merged[0]["menus"] for p in m["presses"] if p.get("inferred")]
    refusal_s = next(e["start"] for e in tl["events"] if e["type"] == "speech" and e.get("refusal"))
    assert not [p for p in inferred if abs(p["time"] - refusal_s) < 3.0]
    assert "7" not in G
