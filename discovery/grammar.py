"""Menu grammars as data: one TOML file per language under ``grammars/``.

``grammar(lang)`` loads, validates and compiles a file into a frozen ``Grammar``
that ``prompts.py`` reads; nothing language-specific lives in code. The file
format is documented in ``grammars/README.md``.
"""
from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

__all__ = ["Grammar", "GrammarError", "grammar", "load_grammar", "available_languages", "GRAMMAR_DIR"]

GRAMMAR_DIR = Path(__file__).parent / "grammars"
DEFAULT_LANG = "en"

#: Word lists a ``[words]`` table may hold (all lists of strings; phrases allowed).
WORD_LISTS = (
    "press_verbs", "key_verbs", "past_verbs", "not_before_past", "verb_tails", "articles",
    "key_nouns", "key_prefix_nouns", "star", "pound", "key_followers", "conjunctions",
    "or_words", "digit_nouns", "leads", "bare_key_leads", "lead_prefix_keep", "label_suffixes",
    "not_prefixed", "clause_continuers", "sentence_enders", "filler", "anytime", "say", "terminator_cues", "not_leads", "label_openings",
    "empty_openings", "label_tails",
)
#: The lists an ``include`` takes from another language: the words of a call to
#: action, so a menu may offer a branch in that language ("para español, oprima 9").
INCLUDED_LISTS = ("press_verbs", "key_verbs", "articles", "key_nouns", "star", "pound", "leads")
TOP_KEYS = {"lang", "name", "direction", "include", "patterns", "words", "digits", "lexicon",
            "lead_prefixes", "fold", "strip_marks", "roles", "entry", "kind"}
LEXICON_KEYS = {"asr", "heard", "key", "lead", "pound", "means", "before", "pattern", "note"}
KEYS = frozenset("0123456789*#")
PATTERN_WORDS = {"LEAD", "LABEL", "VERB", "KEY"}


class GrammarError(ValueError):
    """A grammar file that does not load: the message names the file and the problem."""


@dataclass(frozen=True)
class EntryNoun:
    token: str
    pattern: re.Pattern


@dataclass(frozen=True)
class Grammar:
    """One language's menu vocabulary and word order, compiled for the parser.

    Word sets hold single tokens; ``*_phrases`` hold multi-word entries as tuples."""

    lang: str
    name: str
    direction: str
    path: Path
    key_first: bool          # the key comes before its verb ("1번을 누르세요")
    label_before: bool       # a label may stand before its call to action
    label_after: bool        # ... or after it
    words: dict = field(repr=False)        # list name -> frozenset of single tokens
    phrases: dict = field(repr=False)      # list name -> tuple of token tuples (longest first)
    digits: dict = field(repr=False)       # token -> key
    key_phrases: dict = field(repr=False)  # first token -> (((tokens...), key), ...), multi-word keys
    homophones: dict = field(repr=False)   # token -> key, read only in key position
    lead_homophones: frozenset = field(repr=False)
    lead_prefixes: tuple = field(repr=False)   # ((prefix, replacement), ...) longest first
    fold: dict = field(repr=False)          # str.translate table
    strip_marks: bool = False
    plain: dict = field(default_factory=dict, repr=False)  # token -> key for digits, star, pound words
    rewrites: tuple = field(default=(), repr=False)   # ((compiled, replacement), ...)
    roles: dict = field(default_factory=dict, repr=False)
    entry: dict = field(default_factory=dict, repr=False)
    entry_nouns: tuple = field(default=(), repr=False)
    kind: dict = field(default_factory=dict, repr=False)
    conditional: frozenset = frozenset()

    def w(self, name: str) -> frozenset:
        return self.words[name]


def available_languages() -> list[str]:
    """Language codes with a grammar file (``grammars/<lang>.toml``), sorted."""
    return sorted(p.stem for p in GRAMMAR_DIR.glob("*.toml"))


def _primary(lang: str) -> str:
    """BCP-47 tag -> the file's code: "he-IL" -> "he", "EN_us" -> "en"."""
    return re.split(r"[-_]", str(lang).strip())[0].lower()


@lru_cache(maxsize=64)
def grammar(lang: str = DEFAULT_LANG) -> Grammar:
    """The grammar for ``lang`` (a BCP-47 tag; the primary subtag picks the file).

    Raises ``GrammarError`` for an unknown language or a file that does not load."""
    code = _primary(lang)
    path = GRAMMAR_DIR / f"{code}.toml"
    if not code.isalpha() or not path.is_file():
        raise GrammarError(f"no grammar for language {lang!r} (available: {', '.join(available_languages())})")
    return load_grammar(path)


@lru_cache(maxsize=32)
def load_grammar(path: Path) -> Grammar:
    """Load, validate and compile one grammar file (cached per path)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise GrammarError(f"{path}: cannot read grammar: {e}") from None
    try:
        return _compile(path, data)
    except GrammarError:
        raise
    except (TypeError, ValueError, KeyError, re.error) as e:
        raise GrammarError(f"{path}: {e}") from None


def _fail(path: Path, msg: str):
    raise GrammarError(f"{path}: {msg}")


def _strs(path: Path, where: str, v) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(s, str) and s.strip() for s in v):
        _fail(path, f"{where} must be a list of non-empty strings")
    return [s.strip().lower() for s in v]


def _patterns(path: Path, pats) -> tuple[bool, bool, bool]:
    """Word-order patterns -> (key_first, label_before, label_after)."""
    pats = _strs(path, "patterns", pats)
    if not pats:
        _fail(path, "patterns must name at least one word order")
    orders, before, after = set(), False, False
    for p in pats:
        toks = p.upper().split()
        if not set(toks) <= PATTERN_WORDS or toks.count("VERB") != 1 or toks.count("KEY") != 1 \
                or toks.count("LABEL") != 1:
            _fail(path, f"pattern {p!r}: use VERB, KEY, LABEL once each (and LEAD)")
        v, k, lab = toks.index("VERB"), toks.index("KEY"), toks.index("LABEL")
        if abs(v - k) != 1:
            _fail(path, f"pattern {p!r}: VERB and KEY must stand together")
        orders.add(k < v)
        before |= lab < min(v, k)
        after |= lab > max(v, k)
    if len(orders) > 1:
        _fail(path, "patterns mix KEY VERB and VERB KEY orders")
    return orders.pop(), before, after


def _merge_include(path: Path, data: dict) -> dict:
    """Add the call-to-action words of each ``include``d language to ``data``."""
    words = dict(data.get("words", {}))
    digits = {k: list(v) for k, v in data.get("digits", {}).items()}
    for other in _strs(path, "include", data.get("include", [])):
        src = GRAMMAR_DIR / f"{other}.toml"
        if not src.is_file() or src == path:
            _fail(path, f"include {other!r}: no such grammar")
        o = tomllib.loads(src.read_text(encoding="utf-8"))
        for name in INCLUDED_LISTS:
            words[name] = list(words.get(name, [])) + [w for w in o.get("words", {}).get(name, [])
                                                        if w not in words.get(name, [])]
        for k, v in o.get("digits", {}).items():
            digits[k] = digits.get(k, []) + [w for w in v if w not in digits.get(k, [])]
    return {**data, "words": words, "digits": digits}


NEVER = re.compile(r"(?!)")


def _norm_word(s: str, fold: dict, strip_marks: bool) -> str:
    s = s.lower().translate(fold)
    if strip_marks:
        s = "".join(c for c in unicodedata.normalize("NFC", s) if unicodedata.category(c) != "Mn")
    return s


def _regex(path: Path, where: str, v, **fill) -> re.Pattern:
    if v is None:
        return NEVER
    if not isinstance(v, str):
        _fail(path, f"{where} must be a regular expression string")
    for k, alt in fill.items():
        v = v.replace("{" + k + "}", alt)
    try:
        return re.compile(v)
    except re.error as e:
        _fail(path, f"{where}: bad regular expression: {e}")


def _lexicon(path: Path, rows, norm) -> tuple[dict, set, list, list]:
    """Mishearing rows -> (key homophones, lead homophones, terminator pound words, rewrites)."""
    homophones, leads, pounds, rewrites = {}, set(), [], []
    if not isinstance(rows, list):
        _fail(path, "lexicon must be a list of [[lexicon]] rows")
    for i, row in enumerate(rows, 1):
        if not isinstance(row, dict) or set(row) - LEXICON_KEYS:
            _fail(path, f"lexicon row {i}: unknown fields {sorted(set(row) - LEXICON_KEYS)}")
        kinds = [k for k in ("key", "lead", "pound", "means") if k in row]
        if len(kinds) != 1 or ("heard" not in row and "pattern" not in row):
            _fail(path, f"lexicon row {i}: needs heard (or pattern) and exactly one of key, lead, pound, means")
        kind = kinds[0]
        if kind == "key":
            if row["key"] not in KEYS:
                _fail(path, f"lexicon row {i}: key {row['key']!r} is not a phone key")
            homophones[norm(row["heard"])] = row["key"]
        elif kind == "lead":
            leads.add(norm(row["heard"]))
        elif kind == "pound":
            pounds.append(norm(row["heard"]))
        elif "pattern" in row:
            rewrites.append((_regex(path, f"lexicon row {i} pattern", row["pattern"]), row["means"]))
        else:
            ahead = row.get("before")
            look = "(?=(?:" + "|".join(map(re.escape, _strs(path, f"lexicon row {i} before", ahead))) + r")\b)" \
                if ahead else r"\b"
            rewrites.append((re.compile(r"\b" + re.escape(norm(row["heard"])) + r" " + look),
                             norm(row["means"]) + " "))
    return homophones, leads, pounds, rewrites


def _word_tables(path: Path, words: dict, norm) -> tuple[dict, dict]:
    if set(words) - set(WORD_LISTS):
        _fail(path, f"[words]: unknown lists {sorted(set(words) - set(WORD_LISTS))}")
    singles, phrases = {}, {}
    for name in WORD_LISTS:
        items = [norm(s) for s in _strs(path, f"words.{name}", words.get(name, []))]
        singles[name] = frozenset(s for s in items if " " not in s)
        multi = [tuple(s.split()) for s in items if " " in s]
        # label openings keep their order (first match wins); others: longest first
        phrases[name] = tuple(multi if name == "label_openings" else sorted(multi, key=len, reverse=True))
    listed = [tuple(norm(x).split()) for x in _strs(path, "words.label_openings", words.get("label_openings", []))]
    # every lead word opens a label too ("para español" -> "español")
    phrases["label_openings_all"] = tuple(listed + [(w,) for w in sorted(singles["leads"]) if (w,) not in listed])
    phrases["label_openings_by_first"] = _by_first(phrases["label_openings_all"])
    return singles, phrases


def _by_first(items) -> dict:
    """Phrases (or (phrase, value) pairs) indexed by their first word, order kept."""
    out: dict = {}
    for it in items:
        words = it[0] if isinstance(it[0], tuple) else it
        out.setdefault(words[0], []).append(it)
    return {k: tuple(v) for k, v in out.items()}


def _digit_table(path: Path, digits: dict, norm) -> dict:
    if not isinstance(digits, dict) or set(digits) != set("0123456789"):
        _fail(path, "[digits] must list words for each of the keys 0-9")
    out = {}
    for k, ws in digits.items():
        for w in _strs(path, f"digits.{k}", ws):
            out[norm(w)] = k
    return out


def _prefixes(path: Path, rows, norm) -> tuple:
    out = []
    for r in rows or []:
        if isinstance(r, str):
            r = {"prefix": r}
        if not isinstance(r, dict) or not isinstance(r.get("prefix"), str) or set(r) - {"prefix", "becomes"}:
            _fail(path, "lead_prefixes: each row is a prefix string or {prefix = ..., becomes = ...}")
        out.append((norm(r["prefix"]), norm(r.get("becomes", ""))))
    return tuple(sorted(out, key=lambda p: len(p[0]), reverse=True))


def _check_top(path: Path, data: dict) -> dict:
    """The file's top level checked (known tables, ``lang`` = file name); returns its
    character fold table for ``str.translate``."""
    unknown = set(data) - TOP_KEYS
    if unknown:
        _fail(path, f"unknown tables/keys {sorted(unknown)}")
    if data.get("lang") != path.stem:
        _fail(path, f"lang = {data.get('lang')!r} does not match the file name {path.stem!r}")
    fold_src = data.get("fold", {})
    if not isinstance(fold_src, dict) or not all(isinstance(k, str) and len(k) == 1 and isinstance(v, str)
                                                 for k, v in fold_src.items()):
        _fail(path, "[fold] maps single characters to strings")
    return str.maketrans(fold_src)


def _entry_nouns(path: Path, ent: dict) -> tuple[EntryNoun, ...]:
    """``[[entry.nouns]]`` rows: the directory token a data-entry noun stands for."""
    nouns = []
    for i, n in enumerate(ent.get("nouns", []), 1):
        if not isinstance(n, dict) or n.get("token") not in ("ID", "Tel", "4D", "Pass") or "pattern" not in n:
            _fail(path, f"entry.nouns row {i}: needs token (ID, Tel, 4D or Pass) and pattern")
        nouns.append(EntryNoun(n["token"], _regex(path, f"entry.nouns row {i}", n["pattern"])))
    return tuple(nouns)


def _key_word_alternations(path: Path, singles: dict, phrases: dict, pounds: list, ent: dict,
                           norm) -> tuple[dict, list[str]]:
    """The words for pound and star as regex alternations (``{pound}`` / ``{star}`` in
    the entry patterns; ``(?!)`` when a language has none) and the star words."""
    pound_alt = "|".join(re.escape(w) for w in dict.fromkeys(
        sorted(singles["pound"], key=lambda w: (len(w), w)) + [" ".join(p) for p in phrases["pound"]] + pounds
        + [norm(w) for w in _strs(path, "entry.pound", ent.get("pound", []))]))
    star_words = [norm(w) for w in _strs(path, "entry.star", ent.get("star", []))] + sorted(singles["star"])
    star_alt = "|".join(re.escape(w) for w in dict.fromkeys(star_words))
    return {"pound": pound_alt or "(?!)", "star": star_alt or "(?!)"}, star_words


def _compile(path: Path, data: dict) -> Grammar:
    """A grammar file's tables (``data``, parsed TOML) checked and compiled."""
    fold = _check_top(path, data)
    strip_marks = bool(data.get("strip_marks", False))

    def norm(s: str) -> str:
        return _norm_word(s, fold, strip_marks)

    data = _merge_include(path, data)
    key_first, before, after = _patterns(path, data.get("patterns"))
    singles, phrases = _word_tables(path, data["words"], norm)
    singles["verbs"] = singles["press_verbs"] | singles["key_verbs"]
    if not singles["verbs"]:
        _fail(path, "[words] needs press_verbs or key_verbs")
    digits = _digit_table(path, data.get("digits"), norm)
    key_phrases = _by_first(sorted([(p, "*") for p in phrases["star"]] + [(p, "#") for p in phrases["pound"]],
                               key=lambda kp: len(kp[0]), reverse=True))
    homophones, lead_h, pounds, rewrites = _lexicon(path, data.get("lexicon", []), norm)
    ent, kind, roles = data.get("entry", {}), data.get("kind", {}), data.get("roles", {})
    fill, star_words = _key_word_alternations(path, singles, phrases, pounds, ent, norm)
    return Grammar(
        lang=data["lang"], name=str(data.get("name", data["lang"])), direction=data.get("direction", "ltr"),
        path=path, key_first=key_first, label_before=before, label_after=after,
        words=singles, phrases=phrases, digits=digits, key_phrases=key_phrases,
        homophones=homophones, lead_homophones=frozenset(lead_h),
        lead_prefixes=_prefixes(path, data.get("lead_prefixes"), norm), fold=fold, strip_marks=strip_marks,
        plain={**{d: d for d in "0123456789"}, "*": "*", "#": "#", **digits,
               **{w: "*" for w in singles["star"]}, **{w: "#" for w in singles["pound"]}},
        rewrites=tuple(rewrites),
        roles={k: _regex(path, f"roles.{k}", roles.get(k)) for k in ("back", "top", "repeat", "repeat_not")},
        entry={**{k: _regex(path, f"entry.{k}", ent.get(k), **fill)
                  for k in ("terminator", "terminator_key", "terminator_lost")},
               **{k: _regex(path, f"entry.{k}", ent.get(k)) for k in ("verb", "verb_after")},
               "star_words": frozenset(star_words)},
        entry_nouns=_entry_nouns(path, ent),
        kind={k: _regex(path, f"kind.{k}", kind.get(k)) for k in ("agent", "input", "back", "dial_any", "extension", "refusal")},
        conditional=frozenset(_strs(path, "kind.conditional", kind.get("conditional", []))),
    )
