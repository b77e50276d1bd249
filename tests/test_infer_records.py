"""Presses inferred on timelines ivrkit made of the benchmark's calls (trees/infer.py on
records: no audio). ``tests/fixtures/infer/<corpus>-<company>.json``: one company's
eight calls, a third with their keys sent out of band (no tone, no sidecar), as
discovery heard them (``phone-*``: through the phone codecs, by three versions of the
recognizer: ``plain``, ``unguarded`` and ``guarded`` denoised reading; ``default``: the
default corpus, ``unguarded`` and ``guarded``), with their truths."""
import json
from pathlib import Path

import pytest

from ivrkit.trees import infer
from ivrkit.trees.build import merge_timelines

FIX = Path(__file__).parent / "fixtures" / "infer"


def _company(name, corpus="phone-unguarded"):
    return json.loads((FIX / f"{corpus}-{name}.json").read_text())


def _moves(truth):
    """(key, time) of the true presses after which the caller was at another node."""
    vs = truth["visits"]
    return [(v["via"]["key"], v["via"]["time"]) for a, v in zip(vs, vs[1:])
            if v.get("via") and v["path"] != a["path"]]


def _inferred(name, corpus="phone-unguarded"):
    """Per toneless call: [(inferred press, is it a true move)] after merging the
    company's calls (the benchmark's tolerance: the true press 1 s before the stop
    at most, and before the window's end)."""
    doc = _company(name, corpus)
    merged = []
    merge_timelines(doc["timelines"], calls_out=merged)
    by_file = {t["file"]: t for t in merged}
    out = {}
    for i in doc["oob"]:
        truth = doc["truths"][i]
        got = [p for m in by_file[truth["file"]]["menus"] for p in m["presses"] if p.get("inferred")]
        out[truth["file"]] = [(p, any(k == p["key"] and p["window"][0] - 1.0 <= t <= p["window"][1]
                                      for k, t in _moves(truth))) for p in got]
    return out


def test_a_label_tail_is_echoed_from_its_own_first_word_and_says_enough_of_it():
    """bluebird call02 pressed 2; its new prompt was heard "three members of this series
    ...", and key 3's label as "a little bit more than one of these members": the
    label's last words "these members" and "three members" are alike letter by letter,
    another word first. No echo of 3 (a tail is echoed from the word it starts with)."""
    got = _inferred("bluebird-airlines")
    assert all(ok for presses in got.values() for _, ok in presses), got
    assert [ok for _, ok in got["call03.wav"]] == [True]  # the other toneless call's known press stays
    # the same call as another recognizer heard it: "remember notice this is
    # confirmation code", key 3's label "among the users we want to remember": its last
    # word says too little of it to be echoed
    got = _inferred("bluebird-airlines", "phone-guarded")
    assert all(ok for presses in got.values() for _, ok in presses), got
    assert [ok for _, ok in got["call03.wav"]] == [True]
    assert infer.echo_score("a little bit more than one of these members", "three members of this series come")[0] \
        < infer.ECHO_RATIO
    assert infer.echo_score("report gas leaks", "gas leaks leave the building")[0] >= infer.ECHO_RATIO


def test_a_key_digit_glued_to_a_new_prompt_names_nothing():
    """dynamo: a call with tones heard key 3's hand-off as "3 please vote" ("press 3 |
    please hold", the digit timed into the new speech); the toneless call03's "please
    go for a billing specialist" matched it loosely by "please" and the digit's
    letters counted in the opening's length. Openings leave the digits they open with
    out: "please vote" is too short to name a node, and no 3 is inferred."""
    got = _inferred("dynamo-power")
    assert all(ok for presses in got.values() for _, ok in presses), got
    assert [ok for _, ok in got["call01.awb"]] == [True]
    assert [ok for _, ok in got["call08.wav"]] == [True, True]
    assert infer.opening_text([(0.0, 0.3, "3"), (0.4, 0.8, "please"), (0.9, 1.2, "vote")], 0.0, 3.0) \
        == "please vote"


def test_an_opening_sharing_a_start_with_an_entered_child_is_no_new_node():
    """evergreen call01, at the claims menu (keys 1, 2; a call with tones entered 1 and
    heard "please keep your id in the policy"), heard "please keep in your eyes it s
    probably ...": the same start (no stock phrase) and loosely alike, the rest
    garbled. It is that child heard differently, not a new node, so 2 (the key left)
    is not named by elimination; the call's two presses before stay."""
    got = _inferred("evergreen-insurance")
    assert all(ok for presses in got.values() for _, ok in presses), got
    assert [ok for _, ok in got["call01.wav"]][:2] == [True, True]


def test_an_option_split_by_a_pause_before_its_key_is_no_new_node():
    """dynamo call03 (default corpus) at the billing menu: "For payment or instrument,"
    a pause, "press 2.", a pause, then the hand-off "Please go for a billing
    specialist." The "press 2" after the pause ends the option's sentence (its label
    before, nothing said after it), not a new node's opening; read on across the pause
    it had made "press 2 please" a new prompt no key was left for (flagged, the call
    placed no further). The hand-off after the second pause is the one unentered key's
    child: 2."""
    got = _inferred("dynamo-power", "default-unguarded")
    assert all(ok for presses in got.values() for _, ok in presses), got
    assert [(p["key"], ok) for p, ok in got["call03.wav"]] == [("2", True), ("2", True)]
    assert got["call03.wav"][1][0]["rule"] == "unknown-child"


def test_two_toneless_calls_eliminated_to_one_key_do_not_cancel_out():
    """acme: call02 and call03 (both toneless) pressed 2, the one root key no call with
    tones entered, and each heard the credit-card menu's opening garbled differently.
    Each is named by elimination; one's inferred arrival is no evidence for the other's
    elimination (the same reasoning on the same keys), so it no longer "enters" key 2
    and leaves the other with no key at all (both were flagged with no candidate)."""
    got = _inferred("acme-bank")
    assert [(p["key"], p["rule"], ok) for p, ok in got["call02.wav"]] == [("2", "unknown-child", True)]
    assert [(p["key"], p["rule"], ok) for p, ok in got["call03.amr"]] == [("2", "unknown-child", True)]
    assert all(ok for presses in got.values() for _, ok in presses), got


def test_a_way_back_heard_at_the_root_means_the_call_moved_unseen():
    """evergreen (an earlier recognizer's timelines): call02 pressed 1 at the root and
    heard nothing of the policy-holder menu but its "press star to return to the main
    menu"; then it pressed on (1, 2) to a hand-off. The root has nowhere to go back
    to: the call was elsewhere, so no root key is named by elimination for the
    hand-off (2, the key nobody with tones entered, was invented). call04, which did
    press 2, is named by elimination."""
    got = _inferred("evergreen-insurance", "phone-plain")
    assert all(ok for presses in got.values() for _, ok in presses), got
    assert [(p["key"], ok) for p, ok in got["call04.wav"]] == [("2", True)]


def test_a_new_node_with_no_key_left_waits_for_the_next_words():
    """dynamo call03 (default corpus, the current recognizer): the root cut during "For
    an operator" ("For enough."), a pause, then "To pay my card, press 1". Read on
    across the pause, "for enough to pay my card" matched no child, and every root key
    had one: no key left, and the call was flagged there and placed no further. Such
    a result now waits for the next words the rules read: "to pay my card ..." is the
    billing menu (known), and the hand-off after it the billing menu's one key left."""
    got = _inferred("dynamo-power", "default-guarded")
    assert all(ok for presses in got.values() for _, ok in presses), got
    assert [(p["key"], ok) for p, ok in got["call03.wav"]] == [("2", True), ("2", True)]
