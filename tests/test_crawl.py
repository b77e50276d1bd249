"""The crawler's planner and SIP glue, without a network (fast)."""
import numpy as np
import pytest

from ivrkit.audio.dtmf import detect_dtmf
from ivrkit.discovery import crawl, sip
from ivrkit.trees import tree_from_json


def test_parse_sip_uri():
    assert sip.parse_sip_uri("sip:alice@pbx.example.org:5070") == sip.SipTarget("alice", "pbx.example.org", 5070)
    assert sip.parse_sip_uri("sip:bob@10.0.0.1").port == 5060
    for bad in ("alice@host", "sip:host", "sip:a@b:port", "http://x"):
        with pytest.raises(ValueError):
            sip.parse_sip_uri(bad)


@pytest.mark.parametrize("key", list("0123456789*#"))
def test_inband_key_tones_are_heard_after_g711(key):
    """The tones the crawler sends, through a mu-law round trip, are the key."""
    import audioop

    y = np.concatenate([np.zeros(800, np.float32), sip.dtmf_audio(key), np.zeros(800, np.float32)])
    mu = audioop.lin2ulaw(sip.to_pcm16(y), 2)
    back = sip.from_pcm16(audioop.ulaw2lin(mu, 2))
    presses = detect_dtmf(back, sip.SR)
    assert [p.key for p in presses] == [key]
    assert abs(presses[0].start_s - 0.1) < 0.02


def _tree(nodes, edges):
    return tree_from_json({"directed": True, "multigraph": False,
                           "graph": {"schema": "ivrkit.tree/1", "company": "X", "number": "1"},
                           "nodes": nodes, "edges": edges})


def _node(path, kind, wait=None, visits=1):
    return {"id": "/".join(path) or "root", "path": path, "kind": kind, "wait": wait,
            "listen_after": None if wait is None else wait - 0.5, "visits": visits}


def _edge(src, dst, key, role="option"):
    return {"source": src, "target": dst, "key": key, "label": f"l{key}", "role": role}


def test_plan_goes_breadth_first_to_options_never_entered_with_learned_waits():
    G = _tree([_node([], "menu", 6.4), _node(["1"], "menu", 0.9), _node(["2"], "agent"),
               _node(["9"], "back", visits=0), _node(["1", "1"], "unknown", visits=0),
               _node(["1", "*"], "back", visits=0), _node(["3"], "unknown", visits=0)],
              [_edge("root", "1", "1"), _edge("root", "2", "2"), _edge("root", "9", "9", "repeat"),
               _edge("root", "3", "3"), _edge("1", "1/1", "1"), _edge("1", "1/*", "*", "back")])
    assert crawl.unexplored(G) == [("3",), ("1", "1")]  # back / repeat never entered
    p = crawl.next_plans(G, {})[0]
    assert p.target == ("3",) and p.steps == (crawl.Step("3", 6.4),)
    p2 = crawl.next_plans(G, {("3",): crawl.MAX_TRIES})[0]  # given up after MAX_TRIES
    assert p2.steps == (crawl.Step("1", 6.4), crawl.Step("1", 0.9))
    assert len(crawl.next_plans(G, {}, n=5)) == 2
    assert crawl.next_plans(G, {}, skip=lambda G, p: p in {("3",), ("1", "1")}) == []
    assert crawl.next_plans(None, {})[0].target == ()  # the first call listens to the root


def test_recording_keeps_the_caller_side_on_the_far_sides_clock():
    rec = sip.Recording()
    rec.add_far(np.zeros(800, np.float32))
    rec.add_caller(np.full(80, 0.5, np.float32))
    rec.add_far(np.zeros(800, np.float32))
    m = rec.mixed()
    assert len(m) == 1600 and m[800] == 0.5 and m[799] == 0 and m[880] == 0


def test_input_prompts_are_leaves_unless_an_entry_is_given():
    G = _tree([_node([], "menu", 4.0), {**_node(["2"], "input", 1.5), "entry": "Tel#"}],
              [_edge("root", "2", "2")])
    assert crawl.next_plans(G, {}) == []
    for given in ({"Tel#": "2125550142#"}, {"2": "2125550142#"}):  # by token or by node id
        (p,) = crawl.next_plans(G, {}, entries=given)
        assert p.target == ("2", "Tel#")
        assert p.steps == (crawl.Step("2", 4.0), crawl.Step("2125550142#", None))
    assert crawl.next_plans(G, {("2", "Tel#"): crawl.MAX_TRIES}, entries={"Tel#": "1#"}) == []


def _fed_in_frames(listener, y):
    keys = []
    for i in range(0, len(y), int(sip.FRAME_S * sip.SR)):
        keys += listener.feed(y[i:i + int(sip.FRAME_S * sip.SR)])
    return keys


@pytest.mark.parametrize("hole_ms", [0, 20, 40])
def test_test_ivr_hears_one_press_through_lost_packets(hole_ms):
    """The test IVR's in-band listener reports the crawler's 100 ms tone once even
    when RTP lost packets inside it (a 40 ms hole is a Q.24 pause to the detector)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recordings"))
    import ivr_server

    tone = sip.dtmf_audio("1")
    cut = int(0.04 * sip.SR)
    holed = np.concatenate([tone[:cut], np.zeros(int(hole_ms * sip.SR / 1000), np.float32), tone[cut:]])
    y = np.concatenate([np.zeros(4000, np.float32), holed, np.zeros(4000, np.float32)])
    assert detect_dtmf(y, sip.SR) and (hole_ms < 40) == (len(detect_dtmf(y, sip.SR)) == 1)
    assert _fed_in_frames(ivr_server.InbandKeys(), y) == ["1"]


def test_test_ivr_hears_a_typed_entry_digit_by_digit():
    """Digits typed at the crawler's pace, a key repeated included, are all reported."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recordings"))
    import ivr_server

    # the crawler starts a digit DIGIT_GAP_S after the last one's start
    gap = np.zeros(int((crawl.DIGIT_GAP_S - sip.INBAND_KEY_S) * sip.SR), np.float32)
    y = np.concatenate([gap] + [np.concatenate([sip.dtmf_audio(k), gap]) for k in "1123"])
    assert _fed_in_frames(ivr_server.InbandKeys(), y) == list("1123")
