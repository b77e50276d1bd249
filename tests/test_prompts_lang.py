"""The prompt grammar in other languages: tables of real sentences per language
(tests/data/prompts_<lang>.tsv: Asterisk's es/fr/ru transcripts and common menu
phrasing in he/ar/ko), the grammar files' loading and validation, and that the
English default is untouched."""
from __future__ import annotations

import fnmatch
import shutil
import tomllib
from pathlib import Path

import pytest

from ivrkit.discovery import grammar as grammar_mod
from ivrkit.discovery.asr import Word
from ivrkit.discovery.prompts import (
    GrammarError,
    available_languages,
    call_to_action_words,
    classify_prompt,
    first_call_to_action,
    grammar,
    parse_entry,
    parse_options,
    parse_options_text,
)

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
LANGS = ("es", "fr", "ru", "he", "ar", "ko")
#: Sentences per table the issue asks for (Korean: a small table for the Vosk path).
MIN_ROWS = {"es": 60, "fr": 60, "ru": 60, "he": 60, "ar": 60, "ko": 15}


def _rows(lang: str) -> list[dict]:
    lines = [ln for ln in (DATA / f"prompts_{lang}.tsv").read_text(encoding="utf-8").splitlines()
             if ln and not ln.startswith("#")]
    header = lines[0].split("\t")
    return [dict(zip(header, ln.split("\t")), lang=lang) for ln in lines[1:]]


ROWS = {lang: _rows(lang) for lang in LANGS}
ALL = [r for lang in LANGS for r in ROWS[lang]]


def _expected(cell: str) -> list[tuple[str, str, str]]:
    if cell == "-":
        return []
    out = []
    for part in cell.split("; "):
        key, rest = part.split("=", 1)
        label, _, role = rest.partition("@")
        out.append((key, label, role or "option"))
    return out


@pytest.mark.parametrize("lang", LANGS)
def test_tables_are_big_and_varied(lang):
    rows = ROWS[lang]
    assert len(rows) >= MIN_ROWS[lang]
    assert sum(r["options"] == "-" for r in rows) >= len(rows) // 6  # sentences that must yield nothing
    assert sum(r["entry"] != "-" for r in rows) >= 3
    assert {"menu", "input", "info"} <= {r["kind"] for r in rows}


@pytest.mark.parametrize("row", ALL, ids=[f"{r['lang']}{i}:{r['source']}" for i, r in enumerate(ALL)])
def test_table_row(row):
    lang, text = row["lang"], row["text"]
    opts = parse_options_text(text, lang)
    assert [(o.key, o.label, o.role) for o in opts] == _expected(row["options"])
    assert (parse_entry(text, lang=lang) or "-") == row["entry"]
    assert classify_prompt(text, opts, lang=lang) == row["kind"]


@pytest.mark.parametrize("lang", LANGS)
def test_table_key_scores(lang):
    """Key recall/precision over each table (a readable summary when rows fail)."""
    tp = fp = fn = 0
    for r in ROWS[lang]:
        got = {o.key for o in parse_options_text(r["text"], lang)}
        want = {k for k, _, _ in _expected(r["options"])}
        tp, fp, fn = tp + len(got & want), fp + len(got - want), fn + len(want - got)
    assert tp / (tp + fn) >= 0.95 and tp / (tp + fp) >= 0.95


# -- the Hebrew and Arabic label rules, on word-timed input ---------------------------


def _timed(text: str, t0: float = 5.0, step: float = 0.3) -> list[Word]:
    return [Word(w, t0 + i * step, t0 + i * step + 0.25, 0.9) for i, w in enumerate(text.split())]


def test_hebrew_label_is_the_service_name_without_its_prefix():
    words = _timed("שלום וברוכים הבאים למוקד השירות לשירות לקוחות הקישו 1 להמשך בעברית הקישו 2")
    opts = parse_options(words, "he")
    assert [(o.key, o.label) for o in opts] == [("1", "שירות לקוחות"), ("2", "המשך בעברית")]
    assert opts[0].start_s == pytest.approx(words[5].start_s)  # "לשירות", not the greeting
    assert first_call_to_action(words, "he") == pytest.approx(words[5].start_s)
    # a word that begins with ל without being prefixed keeps it; infinitives stay whole
    assert parse_options_text("לקוחות עסקיים הקישו 3", "he")[0].label == "לקוחות עסקיים"
    assert parse_options_text("כדי לדבר עם נציג הקישו 0", "he")[0].label == "לדבר עם נציג"


def test_arabic_prefix_and_digits():
    opts = parse_options_text("للعربية اضغط ٢. لـ خدمة العملاء اضغط ١", "ar")
    assert [(o.key, o.label) for o in opts] == [("2", "العربية"), ("1", "خدمة العملاء")]


def test_verb_first_and_verb_last_orders_read_alike():
    for lang, a, b in (("ru", "Для оплаты нажмите 1.", "Нажмите 1 для оплаты."),
                       ("es", "Para ventas, marque 2.", "Marque 2 para ventas."),
                       ("fr", "Pour la facturation, appuyez sur 3.", "Appuyez sur 3 pour la facturation."),
                       ("he", "למכירות הקישו 2", "הקישו 2 למכירות")):
        assert [(o.key, o.label) for o in parse_options_text(a, lang)] == \
            [(o.key, o.label) for o in parse_options_text(b, lang)] != []


def test_a_prompt_in_another_language_yields_nothing_in_the_wrong_grammar():
    assert parse_options_text("Нажмите 1 для оплаты.", "en") == []
    assert parse_options_text("לשירות לקוחות הקישו 1", "en") == []


def test_english_is_the_default():
    text = "For billing, press 1. Please enter your ID number followed by the pound key."
    assert parse_options_text(text) == parse_options_text(text, "en") == parse_options_text(text, "en-US")
    assert parse_entry(text) == parse_entry(text, lang="en") == "ID#"


# -- grammar files -------------------------------------------------------------------


def test_every_language_has_a_grammar_that_loads():
    assert set(available_languages()) >= {"en", "es", "fr", "ru", "he", "ar", "ko"}
    for lang in available_languages():
        g = grammar(lang)
        assert g.lang == lang and g.path.name == f"{lang}.toml"
        assert set(g.digits.values()) == set("0123456789") or lang == "fr"  # French "un" is a lexicon row
    assert grammar("he-IL") is grammar("he")
    assert grammar("he").direction == "rtl" and grammar("en").direction == "ltr"
    assert grammar("ko").key_first and not grammar("ko").label_after


def test_unknown_language_is_a_clear_error():
    with pytest.raises(GrammarError, match=r"'xx'.*available: .*en"):
        grammar("xx")
    with pytest.raises(GrammarError):
        parse_options_text("press 1", lang="xx")


BAD_EDITS = [
    ('patterns = ["LEAD LABEL VERB KEY", "VERB KEY LEAD LABEL"]', 'patterns = ["LABEL KEY"]', "pattern"),
    ("[digits]", "[digits]\n\"x\" = [\"ex\"]", "digits"),
    ("verb_after = ", "verb_after = '(unclosed'\nold_verb_after = ", "entry.verb_after"),
    ("key_nouns = [", "key_nounz = [\"key\"]\nkey_nouns = [", "unknown lists"),
    ('lang = "en"', 'lang = "fr"', "does not match the file name"),
    ("[[lexicon]]\nasr = \"whisper\"\nheard = \"to\"\nkey = \"2\"",
     "[[lexicon]]\nasr = \"whisper\"\nheard = \"to\"\nkey = \"22\"", "not a phone key"),
    ("[words]", "[words\n", "cannot read grammar"),
]


@pytest.mark.parametrize("old,new,problem", BAD_EDITS, ids=[b[2] for b in BAD_EDITS])
def test_bad_grammar_file_names_the_file_and_the_problem(tmp_path, old, new, problem):
    src = (grammar_mod.GRAMMAR_DIR / "en.toml").read_text(encoding="utf-8")
    assert old in src
    bad = tmp_path / "en.toml"
    bad.write_text(src.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(GrammarError) as e:
        grammar_mod.load_grammar(bad)
    msg = str(e.value)
    assert str(bad) in msg and problem in msg and "\n" not in msg


def test_a_copied_grammar_loads_from_anywhere(tmp_path):
    dst = tmp_path / "ko.toml"
    shutil.copy(grammar_mod.GRAMMAR_DIR / "ko.toml", dst)
    g = grammar_mod.load_grammar(dst)
    assert [(o.key, o.label) for o in parse_options_text("요금 문의는 2번을 누르세요", g)] == [("2", "요금 문의")]


def test_grammar_files_ship_in_the_wheel():
    """Every grammar file matches the package-data globs setuptools packs."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = cfg["tool"]["setuptools"]["package-data"]["ivrkit.discovery"]
    files = [p.relative_to(ROOT / "discovery").as_posix() for p in (ROOT / "discovery" / "grammars").rglob("*.toml")]
    assert files and all(any(fnmatch.fnmatch(f, g) for g in globs) for f in files)


def test_call_to_action_words_for_a_word_list_recognizer():
    ko = call_to_action_words("ko")
    assert {"일", "이", "번", "누르", "세요", "별표"} <= set(ko)
    assert {"press", "one", "pound", "star"} <= set(call_to_action_words("en"))


#: A back option naming the first menu, and one naming the previous menu, per language.
BACK_LABELS = {
    "en": ("to return to the main menu", "to go back to the previous menu"),
    "es": ("para volver al menú principal", "para volver al menú anterior"),
    "fr": ("pour revenir au menu principal", "pour revenir au menu précédent"),
    "ru": ("чтобы вернуться в главное меню", "чтобы вернуться в предыдущее меню"),
    "he": ("לחזרה לתפריט הראשי", "לחזרה לתפריט הקודם"),
    "ar": ("للعودة الى القائمة الرئيسية", "للعودة الى القائمة السابقة"),
}


@pytest.mark.parametrize("lang", sorted(BACK_LABELS))
def test_back_to_the_first_menu_is_grammar_data(lang):
    from ivrkit.discovery.prompts import goes_to_top

    top, previous = BACK_LABELS[lang]
    g = grammar(lang)
    assert g.roles["back"].search(top) and g.roles["back"].search(previous)
    assert goes_to_top(top, lang)
    assert not goes_to_top(previous, lang)


def _asterisk_transcript(lang: str, sound: str) -> str | None:
    import gzip
    p = Path(f"/usr/share/doc/asterisk-core-sounds-{lang}/core-sounds-{lang}.txt.gz")
    if not p.exists():
        return None
    for line in gzip.open(p, "rt", encoding="utf-8", errors="replace"):
        name, _, text = line.partition(":")
        if name.strip() == sound and text.strip():
            return text.strip()
    return None


@pytest.mark.parametrize("lang", ["en", "es", "fr", "ru"])
def test_the_platform_refusing_a_key_is_grammar_data(lang):
    """Asterisk's own refusals (pm-invalid-option, invalid, as its transcripts say
    them) open with a refusal in their language's grammar; no menu sentence of the
    language's prompt table does."""
    from ivrkit.discovery.prompts import opens_with_refusal

    said = [t for s in ("pm-invalid-option", "invalid") if (t := _asterisk_transcript(lang, s))]
    if not said:
        pytest.skip(f"asterisk-core-sounds-{lang} transcripts not installed")
    for text in said:
        assert opens_with_refusal(text + " For billing, press 1.", lang), text
    offers = [r for r in ROWS.get(lang, []) if r["options"] != "-"]  # sentences offering keys
    assert not [r["text"] for r in offers if opens_with_refusal(r["text"], lang)]


@pytest.mark.parametrize("lang, text", [("he", "בחירה שגויה, נסו שוב. לשירות לקוחות הקישו 1"),
                                        ("ar", "خيار غير صحيح، يرجى المحاولة مرة أخرى"),
                                        ("ko", "잘못 누르셨습니다. 다시 시도해 주세요")])
def test_refusals_in_the_directory_languages(lang, text):
    from ivrkit.discovery.prompts import opens_with_refusal

    assert opens_with_refusal(text, lang)
    offers = [r for r in ROWS[lang] if r["options"] != "-"]
    assert not [r["text"] for r in offers if opens_with_refusal(r["text"], lang)]
