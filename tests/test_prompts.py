"""Prompt parsing on a table of real prompt sentences (Asterisk's recorded-prompt
transcripts and common IVR phrasings, tests/data/prompts.tsv), plus word-timed input."""
from __future__ import annotations

from pathlib import Path

import pytest

from ivrkit.discovery.asr import Word
from ivrkit.discovery.prompts import (
    Option,
    classify_prompt,
    first_call_to_action,
    parse_entry,
    parse_options,
    parse_options_text,
)

TABLE = Path(__file__).parent / "data" / "prompts.tsv"


def _rows():
    lines = [ln for ln in TABLE.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    header = lines[0].split("\t")
    return [dict(zip(header, ln.split("\t"))) for ln in lines[1:]]


ROWS = _rows()


def _expected_options(cell: str) -> list[tuple[str, str, str]]:
    if cell == "-":
        return []
    out = []
    for part in cell.split("; "):
        key, rest = part.split("=", 1)
        label, _, role = rest.partition("@")
        out.append((key, label, role or "option"))
    return out


def test_table_is_big_and_varied():
    assert len(ROWS) >= 150
    assert sum(r["options"] == "-" for r in ROWS) >= 40  # sentences that must yield nothing
    assert sum(r["entry"] != "-" for r in ROWS) >= 15
    assert {r["kind"] for r in ROWS} >= {"menu", "input", "agent", "info", "back"}


@pytest.mark.parametrize("row", ROWS, ids=[f"{i}:{r['source']}" for i, r in enumerate(ROWS)])
def test_table_row(row):
    text = row["text"]
    opts = parse_options_text(text)
    assert [(o.key, o.label, o.role) for o in opts] == _expected_options(row["options"])
    assert (parse_entry(text) or "-") == row["entry"]
    assert classify_prompt(text, opts) == row["kind"]


def test_table_scores():
    """Recall/precision of keys over the whole table (a readable summary when rows fail)."""
    tp = fp = fn = 0
    for r in ROWS:
        got = {o.key for o in parse_options_text(r["text"])}
        want = {k for k, _, _ in _expected_options(r["options"])}
        tp += len(got & want)
        fp += len(got - want)
        fn += len(want - got)
    assert tp / (tp + fn) >= 0.95 and tp / (tp + fp) >= 0.95


def _timed(text: str, t0: float = 10.0, step: float = 0.3) -> list[Word]:
    return [Word(w, t0 + i * step, t0 + i * step + 0.25, 0.9) for i, w in enumerate(text.split())]


def test_word_times_give_clause_spans():
    words = _timed("Thank you for calling Acme. For billing and payments, press 1. "
                   "To speak with an agent, press 2. To repeat these options, press 9.")
    opts = parse_options(words)
    assert [o.key for o in opts] == ["1", "2", "9"]
    assert opts[0].label == "billing and payments"
    assert opts[0].start_s == pytest.approx(words[5].start_s)  # "For"
    assert opts[0].end_s == pytest.approx(words[10].end_s)     # "1."
    assert words[11].word == "To"
    assert opts[1].start_s == pytest.approx(words[11].start_s)
    assert opts[2].role == "repeat"
    for a, b in zip(opts, opts[1:]):
        assert a.end_s <= b.start_s
    assert first_call_to_action(words) == pytest.approx(words[5].start_s)


def test_unpunctuated_words_like_vosk():
    words = _timed("thank you for calling acme for billing press one for support press to "
                   "press star to return to the main menu")
    opts = parse_options(words)
    assert [(o.key, o.label, o.role) for o in opts] == [
        ("1", "billing", "option"), ("2", "support", "option"), ("*", "return to the main menu", "back")]
    # the option starts at "for billing", not at the greeting
    assert opts[0].start_s == pytest.approx(words[5].start_s)


def test_punctuation_split_across_recognizer_words():
    # Whisper attaches punctuation and spaces to its words
    words = [Word(" For", 1.0, 1.2, 0.9), Word(" sales,", 1.2, 1.6, 0.9), Word(" press", 1.7, 2.0, 0.9),
             Word(" 1.", 2.0, 2.3, 0.9), Word(" Press", 3.0, 3.3, 0.9), Word(" #", 3.3, 3.6, 0.9),
             Word(" to", 3.6, 3.7, 0.9), Word(" go", 3.7, 3.9, 0.9), Word(" back.", 3.9, 4.3, 0.9)]
    opts = parse_options(words)
    assert opts == [Option("1", "sales", 1.0, 2.3, "option"), Option("#", "go back", 3.0, 4.3, "back")]


def test_dial_at_any_time_is_a_call_to_action_without_option():
    words = _timed("Welcome to Acme. If you know your party's extension, you may dial it at any time.", t0=2.0)
    assert parse_options(words) == []
    assert first_call_to_action(words) == pytest.approx(words[3].start_s)  # "If"


def test_entry_request_is_a_call_to_action():
    words = _timed("Welcome. Please enter your ID number followed by the pound key.", t0=0.0)
    assert first_call_to_action(words) == pytest.approx(words[1].start_s)
    assert parse_entry(" ".join(w.word for w in words)) == "ID#"


def test_no_call_to_action_in_greeting():
    words = _timed("Thank you for calling. Calls may be recorded for quality and training purposes.")
    assert parse_options(words) == []
    assert first_call_to_action(words) is None


def test_repeated_key_keeps_first_mention():
    opts = parse_options_text("For billing, press 1. To hear that again, for billing, press 1.")
    assert len(opts) == 1 and opts[0].label == "billing"


def test_option_is_frozen():
    o = parse_options_text("For sales, press 1.")[0]
    with pytest.raises(Exception):
        o.key = "2"  # type: ignore[misc]


def test_lost_key_between_consecutive_options_is_filled_with_times():
    # tiny.en on a synthetic voice often drops the digit at the end of an utterance
    words = _timed("Thank you for calling Acme. For billing, press 1. For support, press "
                   "To upgrade your plan, press 3.")
    opts = parse_options(words)
    assert [(o.key, o.label) for o in opts] == [("1", "billing"), ("2", "support"), ("3", "upgrade your plan")]
    assert opts[1].start_s == pytest.approx(words[9].start_s)  # "For" of "For support"
    for a, b in zip(opts, opts[1:]):
        assert a.end_s <= b.start_s


def test_call_to_action_whose_key_was_lost_still_times_the_prompt():
    words = _timed("Welcome to Acme. For billing, press For support, press 5.")
    assert [(o.key, o.label) for o in parse_options(words)] == [("5", "support")]
    assert first_call_to_action(words) == pytest.approx(words[3].start_s)  # "For billing"


def test_four_opening_a_clause_is_never_a_key():
    for text in ("Four billing, press 1. Four support, press 2.", "4 billing, press 1. 4 support, press 2."):
        assert [(o.key, o.label) for o in parse_options_text(text)] == [("1", "billing"), ("2", "support")]


def test_entry_noun_without_its_verb_only_where_data_was_keyed():
    # the caller typed over "Enter your four digit PIN, followed by the star key" and the
    # recognizer kept the middle: the noun names the data only when asked to
    cut = "your four digit pin, follow by the"
    assert parse_entry(cut) is None
    assert parse_entry(cut, need_verb=False) == "Pass"
    assert parse_entry("Thank you for calling.", need_verb=False) is None
