"""Entry tokens voted across calls: a terminator one call heard is not outvoted by a
call that was cut off before the prompt named it."""
import copy
import json
from pathlib import Path

from ivrkit.trees.build import merge_timelines

FX = Path(__file__).parent / "fixtures" / "trees" / "northwind"


def _call01():
    # the front end's real output: the caller typed over "...followed by the pound key"
    return json.loads((FX / "call01.timeline.json").read_text())


def test_a_call_cut_off_before_the_terminator_supports_the_one_that_heard_it():
    cut = _call01()
    heard = copy.deepcopy(cut)
    heard["file"], heard["sha256"] = "call09.wav", "0" * 64
    for m in heard["menus"]:
        if m["kind"] == "input":
            m["entry"] = "Tel#"
    assert merge_timelines([cut]).nodes["1/2"]["entry"] == "Tel"
    assert merge_timelines([cut, heard]).nodes["1/2"]["entry"] == "Tel#"
    assert merge_timelines([heard, cut]).nodes["1/2"]["entry"] == "Tel#"
