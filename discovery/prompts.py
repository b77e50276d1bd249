"""Calls to action in recognized prompt words -> menu options, entry tokens, kinds.

Works on the recognizer's words (anything with ``word``, ``start_s``, ``end_s``) or on
plain text (times ``None``). Recognizers differ: Whisper punctuates ("For billing,
press 1."), Vosk gives bare lower-case words, and both mishear keys in key position
("press to" for "press 2", "for" for "4"). The parser therefore reads a call to
action as an *anchor* (a key verb followed by one or more keys) and gives each anchor
the words on one side of it as its label: before it ("for billing, press 1") or after
it ("press 1 for billing"). The sides are chosen jointly over the whole prompt
(dynamic programming: no word serves two options, as many options as possible get
words), because recognizers misplace periods over the short pauses of synthetic
voices ("for billing and payments. Press 1 for support.") and Vosk writes none.

The words are data: a grammar per language (``grammars/<lang>.toml``, loaded by
``grammar.py``) names the verbs, keys, lead words, word order and each recognizer's
mishearings; every function takes ``lang`` (a BCP-47 tag, default English) or a
loaded ``Grammar``. Nothing here imports a recognizer; it is pure Python.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, NamedTuple, Sequence

from .grammar import Grammar, GrammarError, available_languages, grammar

__all__ = [
    "Option",
    "parse_options",
    "parse_options_text",
    "parse_entry",
    "classify_prompt",
    "first_call_to_action",
    "call_to_action_words",
    "grammar",
    "available_languages",
    "GrammarError",
    "Grammar",
]

from ivrkit.trees.model import OPTION_ROLES as ROLES  # noqa: E402  (one list of roles)


@dataclass(frozen=True)
class Option:
    """One key a prompt offers. ``start_s``/``end_s``: file times of its clause
    (``None`` when parsed from plain text)."""

    key: str
    label: str
    start_s: float | None
    end_s: float | None
    role: str = "option"


# -- thresholds (token counts; language-neutral) -----------------------------------

#: A bare key ("2 to lock") continues a list of options only this close (tokens)
#: after the previous option's keys.
CONTINUATION_GAP = 12
#: Words in a lead-less sentence that can still be an option's label ("Billing questions.")
SHORT_LABEL = 4
#: An unpunctuated preamble before a label ("thank you for calling acme for billing")
#: is longer than this; a label rarely is, so the last lead word opens the label.
LONG_PREAMBLE = 10
#: A lead-less clause after the last comma before the verb ("X, press N") is its
#: label up to this length ...
CLAUSE_LABEL_MAX = 6
#: ... and a lead-less stretch with no comma, up to this one.
BARE_LABEL_MAX = 8
#: A terminator cue ("then", "when done") counts this many tokens before the verb.
TERMINATOR_CUE_WINDOW = 5
#: A Hebrew/Arabic prefixed lead ("לשירות") leaves a word of at least this many letters.
PREFIX_MIN_REST = 2

SENTENCE_END = frozenset(".?!;:")
#: A free-standing dash is a clause break in writing ("2 - чтобы заблокировать").
_TOKEN_RE = re.compile(r"[#*]|[0-9]+|[^\W\d_]+(?:['’][^\W\d_]+)*|[.,?!;:]|(?<!\S)[-–—](?!\S)", re.UNICODE)
CLAUSE_MARKS = frozenset(",-–—")
_BREAKS = SENTENCE_END | CLAUSE_MARKS


def _g(lang: str | Grammar) -> Grammar:
    return lang if isinstance(lang, Grammar) else grammar(lang)


class _Tok(NamedTuple):  # a tuple: built once per token, on the hot path
    text: str
    start_s: float | None
    end_s: float | None
    brk: str = ""  # "." sentence end or "," clause end after this token
    lead: bool = False  # opens an option's words ("for", Hebrew "לשירות")


def _fold(text: str, g: Grammar) -> str:
    """Lower case, the grammar's character folds (Arabic-Indic digits, ё -> е ...)
    and, when asked, no combining marks (niqqud, harakat)."""
    text = text.lower().replace("’", "'")
    if g.fold:
        text = text.translate(g.fold)
    if g.strip_marks:
        # on composed text: niqqud and harakat go, letters with a hamza stay (ئ, أ)
        text = "".join(c for c in unicodedata.normalize("NFC", text) if unicodedata.category(c) != "Mn")
    return text


def _prefixed_lead(t: str, g: Grammar) -> tuple[str, str] | None:
    """(prefix, replacement) when ``t`` is a lead prefix glued to a word ("לשירות",
    "للعربية"), else None."""
    for p, rep in g.lead_prefixes:
        if t.startswith(p) and len(rep) + len(t) - len(p) >= PREFIX_MIN_REST and t not in g.words["not_prefixed"]:
            return p, rep
    return None


def _is_lead_word(t: str, g: Grammar) -> bool:
    if t in g.words["leads"]:
        return True
    return bool(g.lead_prefixes) and t not in g.words["key_verbs"] and t not in g.words["press_verbs"] \
        and t not in g.plain and _prefixed_lead(t, g) is not None


def _bare_lead(tok: _Tok | None, g: Grammar) -> bool:
    """A lead word that makes a bare key the next option ("2 to lock", Hebrew "2
    למכירות": every prefixed lead counts)."""
    if tok is None:
        return False
    return tok.text in g.words["bare_key_leads"] or (
        bool(g.lead_prefixes) and tok.lead and tok.text not in g.words["leads"])


def _tokens(words: Iterable, g: Grammar) -> list[_Tok]:
    """Split recognizer words into lower-case tokens with punctuation as breaks.

    One recognizer word may hold several tokens ("1-800", "hash-key"): they share its
    times.
    """
    toks: list[_Tok] = []
    leads, prefixed, enders = g.words["leads"], bool(g.lead_prefixes), g.words["sentence_enders"]
    for w in words:
        text = _fold(str(getattr(w, "word", w)), g)
        s, e = getattr(w, "start_s", None), getattr(w, "end_s", None)
        for t in _TOKEN_RE.findall(text):
            if t in _BREAKS:
                if toks and toks[-1].brk != ".":
                    last = toks[-1]
                    toks[-1] = _Tok(last.text, last.start_s, last.end_s, "." if t in SENTENCE_END else ",", last.lead)
                continue
            # a sentence-final word ends its sentence where the recognizer wrote no period
            toks.append(_Tok(t, s, e, "." if t in enders else "", t in leads or (prefixed and _is_lead_word(t, g))))
    return toks


def _sentences(toks: Sequence[_Tok]) -> list[list[_Tok]]:
    out: list[list[_Tok]] = [[]]
    for t in toks:
        out[-1].append(t)
        if t.brk == ".":
            out.append([])
    return [s for s in out if s]


def _phrase_at(toks: Sequence[_Tok], i: int, phrase: tuple[str, ...]) -> bool:
    """``phrase`` spoken at ``i`` with no break inside it."""
    n = len(phrase)
    return i + n <= len(toks) and all(toks[i + k].text == phrase[k] for k in range(n)) \
        and not any(toks[i + k].brk for k in range(n - 1))


def _named_key(toks: Sequence[_Tok], i: int, g: Grammar) -> tuple[str, int] | None:
    """A key named at ``i`` by a phrase ("number sign", "tecla de numero"), a noun
    before it ("number 1", "la tecla 1", "клавишу 1") or a single word."""
    t, n = toks[i].text, len(toks)
    for phrase, key in g.key_phrases.get(t, ()):
        if _phrase_at(toks, i, phrase):
            return key, i + len(phrase)
    if t in g.words["key_prefix_nouns"] and i + 1 < n and toks[i].brk == "":
        k = g.plain.get(toks[i + 1].text)
        if k is not None:
            return k, i + 2
    k = g.plain.get(t)
    return (k, i + 1) if k is not None else None


def _key_at(toks: Sequence[_Tok], i: int, after_verb: bool, g: Grammar) -> tuple[str, int] | None:
    """The key starting at token ``i`` and the index after it, or None.

    Sound-alikes (the lexicon's ``key`` rows) count only right after a verb and only
    when the next token cannot continue a sentence ("press to speak" has no key;
    "press to, for billing" has).
    """
    n = len(toks)
    while i < n and toks[i].text in g.words["articles"] and not toks[i].brk:
        i += 1
    if i >= n:
        return None
    got = _named_key(toks, i, g)
    key, j = got if got is not None else (None, i + 1)
    t = toks[i].text
    if key is None and t in g.homophones:
        h = g.homophones[t]
        if after_verb and not toks[i].brk and j < n and g.plain.get(toks[j].text) == h:
            key, j = h, j + 1  # "press to 2": the key heard twice
        else:
            follow = toks[j] if j < n else None
            if toks[i].brk or follow is None or follow.text in g.words["leads"] \
                    or follow.text in g.words["key_followers"] or follow.text in g.words["key_verbs"] \
                    or follow.text in g.words["press_verbs"] or follow.text in g.words["key_nouns"]:
                if after_verb or _bare_lead(follow, g):
                    key = h
    if key is None:
        return None
    if key.isdigit() and j < n and not toks[j - 1].brk and (
            toks[j].text.isdigit() or (g.plain.get(toks[j].text) or "x").isdigit()
            or toks[j].text in g.words["digit_nouns"]):
        return None  # "dial nine one one", "הקישו את 9 הספרות": a number, not a key
    while j < n and toks[j - 1].brk == "" and toks[j].text in g.words["key_nouns"]:
        j += 1
    return key, j


def _key_after_break(toks: Sequence[_Tok], i: int, g: Grammar) -> tuple[str, int] | None:
    """A key after a verb the recognizer closed with punctuation ("press." / "press,"
    then "3." in the next utterance): only a plain key that stands alone (its own
    clause end, the prompt's end, or an option's lead word next)."""
    n = len(toks)
    if i >= n:
        return None
    key = g.plain.get(toks[i].text)
    if key is None:
        # a sound-alike that is a sentence of its own ("press." then "To.") is the key
        return (g.homophones[toks[i].text], i + 1) if toks[i].text in g.homophones \
            and toks[i].brk == "." else None
    if toks[i].brk or i + 1 >= n or toks[i + 1].lead:
        return key, i + 1
    return None


@dataclass
class _Anchor:
    keys: list[str]
    start: int  # index of the verb (or of the bare key; of the key where it comes first)
    end: int    # index after the last key (after the verb where the key comes first)
    bare: bool = False


def _is_terminator_verb(sent: Sequence[_Tok], i: int, g: Grammar) -> bool:
    """'... and then press the pound key', 'when done hang up or press pound': a
    terminator, not a menu choice."""
    return any(t.text in g.words["terminator_cues"] for t in sent[max(0, i - TERMINATOR_CUE_WINDOW):i])


def _multi_keys(sent: Sequence[_Tok], j: int, keys: list[str], g: Grammar) -> int:
    """Extend ``keys`` over 'or 6', ', 2, or 3' and return the index after them."""
    n = len(sent)
    conj, arts = g.words["conjunctions"], g.words["articles"]
    while j < n:
        k = j
        if sent[k - 1].brk and k < n and sent[k].text in conj:
            k += 1
        elif sent[k].text in conj and sent[k - 1].brk == "":
            k += 1
        elif sent[k - 1].brk != ",":
            break
        if k >= n or sent[k].text in arts:
            break
        got = _key_at(sent, k, False, g)
        if got is None:
            break
        # a bare next key followed by its own label is the next option, not this one
        nxt = sent[got[1]] if got[1] < n else None
        if _bare_lead(nxt, g) and sent[got[1] - 1].brk == "" and sent[j - 1].brk == ",":
            break
        if sent[k].text in g.homophones and sent[k].text not in g.plain:
            break
        keys.append(got[0])
        j = got[1]
    return j


def _skip_anytime(sent: Sequence[_Tok], j: int, g: Grammar) -> int:
    """Step over 'now' / 'at any time' right after the keys ('press 0 at any time to ...')."""
    while j < len(sent) and not sent[j - 1].brk:
        if sent[j].text in g.words["anytime"]:
            j += 1
            continue
        p = next((p for p in g.phrases["anytime"] if _phrase_at(sent, j, p)), None)
        if p is None:
            break
        j += len(p)
    return j


def _is_verb(sent: Sequence[_Tok], i: int, g: Grammar) -> bool:
    t = sent[i].text
    if t not in g.words["verbs"]:
        return False
    return not (t in g.words["past_verbs"] and i and sent[i - 1].text in g.words["not_before_past"])


def _verb_anchor(sent: Sequence[_Tok], i: int, g: Grammar) -> tuple[_Anchor | None, int]:
    """The call to action whose verb is at ``i`` (verb first: "press 1"), and the
    index to go on from; (None, i + 1) when there is none."""
    n, t = len(sent), sent[i].text
    got = _key_at(sent, i + 1, True, g) if not sent[i].brk else _key_after_break(sent, i + 1, g)
    if got is not None and not (got[0] in "#*" and _is_terminator_verb(sent, i, g)):
        keys = [got[0]]
        j = _skip_anytime(sent, _multi_keys(sent, got[1], keys, g), g)
        return _Anchor(keys, i, j), j
    press = g.words["press_verbs"]
    junk = not sent[i].brk and i + 1 < n and sent[i + 1].brk == "." \
        and not sent[i + 1].lead and sent[i + 1].text not in press
    if got is None and t in press and (
            sent[i].brk or i + 1 >= n or sent[i + 1].lead or sent[i + 1].text in press or junk):
        # "for billing, press" and the key lost (or unreadable: "press high."): a
        # call to action all the same, it ends this option's clause
        j = i + 2 if junk else i + 1
        return _Anchor([], i, j), j
    return None, i + 1


def _key_first_anchor(sent: Sequence[_Tok], i: int, g: Grammar) -> tuple[_Anchor | None, int]:
    """The call to action whose key is at ``i`` in a key-first language ("1번을
    누르세요"): the key, its nouns/particles, then a verb and its endings."""
    got = _key_at(sent, i, False, g)
    if got is None or (got[0] in "#*" and _is_terminator_verb(sent, i, g)):
        return None, i + 1
    if got[1] > i + 1 and sent[got[1] - 1].brk == ",":
        return _Anchor([got[0]], i, got[1]), got[1]  # "요금 문의는 1번, ...": the verb comes later
    if got[1] >= len(sent) or sent[got[1] - 1].brk or not _is_verb(sent, got[1], g):
        return None, i + 1
    j = got[1] + 1
    while j < len(sent) and not sent[j - 1].brk and sent[j].text in g.words["verb_tails"]:
        j += 1
    return _Anchor([got[0]], i, j), j


def _continuation(sent: Sequence[_Tok], i: int, out: list[_Anchor], g: Grammar) -> _Anchor | None:
    """A bare key continuing a list: "press 1 to mute, 2 to lock, or 8 to exit"
    (recognizers may put periods there: "press 1 to mute. 2 to lock.")."""
    n, t = len(sent), sent[i].text
    conj = g.words["conjunctions"]
    if not (out and out[-1].keys and i - out[-1].end <= CONTINUATION_GAP and (sent[i - 1].brk or t in conj)):
        return None
    k = i + 1 if t in conj else i
    got = _key_at(sent, k, False, g) if k < n else None
    if got is None:
        return None
    keys = [got[0]]
    j = _multi_keys(sent, got[1], keys, g)
    if j < n and _bare_lead(sent[j], g):
        return _Anchor(keys, i, j, bare=True)
    return None


def _anchors(sent: Sequence[_Tok], g: Grammar) -> list[_Anchor]:
    out: list[_Anchor] = []
    i, n = 0, len(sent)
    while i < n:
        if g.key_first:
            a, nxt = _key_first_anchor(sent, i, g)
        elif _is_verb(sent, i, g):
            a, nxt = _verb_anchor(sent, i, g)
        else:
            a = _continuation(sent, i, out, g)
            nxt = a.end if a is not None else i + 1
        if a is not None:
            out.append(a)
        i = nxt
    return out


def _skip_say(toks: Sequence[_Tok], lo: int, hi: int, g: Grammar) -> int:
    """Step over 'or say billing' after a key ('press 1 or say billing')."""
    p = next((p for p in g.phrases["say"] if hi - lo >= len(p) and _phrase_at(toks, lo, p)), None)
    if p is None:
        return lo
    k = start = lo + len(p)
    while k < hi and not toks[k].lead and toks[k - 1].brk != "." and (k == start or toks[k - 1].brk != ","):
        k += 1
    return k


def _is_not_lead(toks: Sequence[_Tok], k: int, g: Grammar) -> bool:
    w = toks[k].text
    for phrase in g.phrases["not_leads"]:
        for off, p in enumerate(phrase):
            a = k - off
            if p == w and a >= 0 and a + len(phrase) <= len(toks) and \
                    all(toks[a + j].text == phrase[j] for j in range(len(phrase))):
                return True
    return False


def _is_for_as_number(toks: Sequence[_Tok], k: int, lo: int, hi: int, g: Grammar) -> bool:
    """'four' / '4' opening a clause before a word ("Four billing, press 1", Whisper's
    "K4TV" for "for TV"): a misheard lead word (the lexicon's ``lead`` rows)."""
    if toks[k].text not in g.lead_homophones or k + 1 >= hi:
        return False
    nxt = toks[k + 1].text
    if toks[k].brk or nxt in g.plain or nxt in g.words["conjunctions"] or _bare_lead(toks[k + 1], g) \
            or nxt in g.words["digit_nouns"]:
        return False
    prev = toks[k - 1] if k > lo else None
    return prev is None or bool(prev.brk) or (len(prev.text) == 1 and prev.text.isalpha())


def _prefix_range(toks: Sequence[_Tok], lo: int, hi: int, g: Grammar,
                  alone: bool = False) -> tuple[int, int] | None:
    """Token range [lo, hi) before a verb that is its option's words, or None.

    Only the verb's own sentence counts, except when the sentence starts at the verb:
    recognizers misplace periods over short TTS pauses ("for billing and payments.
    Press 1 for support."), so then the previous sentence may hold the label, if it
    opens one with a lead word. A clause comma followed by a lead word ends a
    preamble ("Thank you for calling Acme, for billing, press 1").
    """
    while lo < hi and toks[hi - 1].text in g.words["filler"]:
        hi -= 1
    lo, need_lead = _label_sentence(toks, lo, hi, g)
    if lo >= hi:
        return None
    leads = [k for k in range(lo, hi) if (toks[k].lead and not _is_not_lead(toks, k, g))
             or _is_for_as_number(toks, k, lo, hi, g)]
    if leads:
        return _from_lead(toks, leads, hi, g)
    if need_lead:
        return (lo, hi) if alone and _verbless_label(toks, lo, hi, g) else None
    # "X, press N" with no lead word: the clause right before the verb
    cuts = [k + 1 for k in range(lo, hi - 1) if toks[k].brk]
    if cuts and hi - cuts[-1] <= CLAUSE_LABEL_MAX:
        return cuts[-1], hi
    if hi - lo > BARE_LABEL_MAX:
        return None
    return lo, hi


def _label_sentence(toks: Sequence[_Tok], lo: int, hi: int, g: Grammar) -> tuple[int, bool]:
    """Where the label before a verb may start: its sentence (or, when the verb opens
    a sentence, the previous one, which then needs a lead word: the flag), past a
    "say ..." and past a clause break followed by a lead word."""
    need_lead = False
    ends = [k for k in range(lo, hi) if toks[k].brk == "."]
    if ends and ends[-1] < hi - 1:
        lo = ends[-1] + 1
    elif ends:
        lo = ends[-2] + 1 if len(ends) > 1 else lo
        need_lead = True
    lo = _skip_say(toks, lo, hi, g)
    for k in range(lo, hi - 1):
        if toks[k].brk and (toks[k + 1].lead or _is_for_as_number(toks, k + 1, lo, hi, g)):
            lo = k + 1
    return lo, need_lead


def _from_lead(toks: Sequence[_Tok], leads: list[int], hi: int, g: Grammar) -> tuple[int, int]:
    """The label from its lead word: the first, or the last when a long preamble
    holds several; a trailing conjunction clause is another way out, not label."""
    first = leads[0]
    if hi - first > LONG_PREAMBLE and len(leads) > 1:
        first = leads[-1]
    cuts = [k + 1 for k in range(first, hi - 1) if toks[k].brk]
    if cuts and toks[hi - 1].text in g.words["conjunctions"]:
        hi = cuts[-1]  # "to end the test, hang up or press #": another way out, no label
    return first, hi


def _verbless_label(toks: Sequence[_Tok], lo: int, hi: int, g: Grammar) -> bool:
    """"Directions and hours. Press 4.": the recognizer lost the lead word and put a
    period over the pause; a short, verbless sentence right before a call to action
    that is a sentence of its own is its option's words."""
    return hi - lo <= SHORT_LABEL and not any(
        t.text in g.words["key_verbs"] or t.text in g.words["press_verbs"] or t.text in g.digits
        or t.text.isdigit() for t in toks[lo:hi]) and not any(_is_not_lead(toks, k, g) for k in range(lo, hi))


def _suffix_range(toks: Sequence[_Tok], lo: int, hi: int, g: Grammar) -> tuple[int, int] | None:
    """Token range after the keys that is their option's words: a lead word up to the
    clause's end. A sentence end right after the keys may be a recognizer's misplaced
    period ("Dial 1. If you wish to ..."), so it does not stop the search; the joint
    choice in ``_label_ranges`` weighs it against the other reading."""
    if lo == 0:
        return None
    lo = _skip_say(toks, lo, hi, g)
    while lo < hi and toks[lo].text in g.words["filler"] and not toks[lo].brk:
        lo += 1
    if lo >= hi or not toks[lo].lead:
        return None
    k = lo
    cont = g.words["clause_continuers"]
    while k < hi - 1 and (not toks[k].brk or (toks[k].brk == "," and toks[k + 1].text in cont)):
        k += 1
    if k + 1 < hi and toks[k + 1].lead and all(_is_not_lead(toks, m, g) for m in range(lo, k + 1)):
        return _suffix_range(toks, k + 1, hi, g)  # "для того, чтобы X": the lead is the second
    return lo, k + 1


def _strip_openings(words: list[str], g: Grammar) -> list[str]:
    changed = True
    by_first = g.phrases["label_openings_by_first"]
    while changed and words:
        changed = False
        for op in by_first.get(words[0], ()):
            if tuple(words[:len(op)]) == op and len(words) > len(op):
                words = words[len(op):]
                changed = True
                break
    return words


def _strip_affixes(words: list[str], g: Grammar) -> list[str]:
    """The lead prefix off the label's first word ("לשירות" -> "שירות", "للعربية" ->
    "العربية") and a topic particle off its last ("센터는" -> "센터")."""
    if words and g.lead_prefixes and words[0] not in g.words["lead_prefix_keep"]:
        p = _prefixed_lead(words[0], g)
        if p is not None:
            words = [p[1] + words[0][len(p[0]):], *words[1:]]
    for suf in g.words["label_suffixes"]:
        if len(words) > 1 and words[-1] == suf:
            words = words[:-1]
        elif words and words[-1].endswith(suf) and len(words[-1]) > len(suf):
            words = [*words[:-1], words[-1][:-len(suf)]]
    return words


def _drop_tails(words: list[str], g: Grammar) -> list[str]:
    tails = g.words["label_tails"] | g.words["conjunctions"]
    while words:
        if words[-1] in tails:
            words = words[:-1]
            continue
        p = next((p for p in g.phrases["label_tails"] if tuple(words[-len(p):]) == p), None)
        if p is None:
            break
        words = words[:-len(p)]
    return words


def _clean_label(toks: Sequence[_Tok], g: Grammar) -> str:
    words = [t.text for t in toks if t.text not in ("#", "*")]
    while words and words[0] in g.words["empty_openings"]:
        words = words[1:]
    if len(words) > 1 and words[0] in g.lead_homophones and words[1] not in g.plain \
            and words[1] not in g.words["conjunctions"] and words[1] not in g.words["digit_nouns"]:
        words = words[1:]  # "four billing": a misheard "for billing"
    if len(words) == 1 and words[0] in g.words["leads"]:
        return ""
    words = _strip_openings(words, g)
    for p in g.phrases["say"]:
        k = next((k for k in range(len(words)) if tuple(words[k:k + len(p)]) == p), None)
        if k is not None:
            words = words[:k]
    return " ".join(_strip_affixes(_drop_tails(words, g), g))


def _role(label: str, g: Grammar) -> str:
    r = g.roles
    if r["back"].search(label):
        return "back"
    if r["repeat"].search(label) and not r["repeat_not"].search(label):
        return "repeat"
    return "option"


#: A refusal opens what the platform plays after the key: looked for in this many
#: first words ("I'm sorry, that option is invalid" is 6; the menu follows it).
REFUSAL_WORDS = 12


def opens_with_refusal(text: str, lang: str | Grammar = "en") -> bool:
    """Whether ``text`` opens with the platform refusing a key ("that option is
    invalid, please try again", "данная опция недоступна": the grammar's
    ``kind.refusal``), in its first ``REFUSAL_WORDS`` words."""
    g = _g(lang)
    head = " ".join(_norm_text(text or "", g).split()[:REFUSAL_WORDS])
    return bool(g.kind["refusal"].search(head))


def goes_to_top(label: str, lang: str | Grammar = "en") -> bool:
    """Whether a back option's ``label`` names the first menu ("main menu", "menú
    principal": the grammar's ``roles.top``) rather than the previous one."""
    return bool(_g(lang).roles["top"].search(label))


def _split_alternatives(label: str, n: int, g: Grammar) -> list[str]:
    """'decrease or increase the volume' over keys 4 and 6 -> one label per key."""
    words = label.split()
    if n == 2 and len(words) >= 3 and words[1] in g.words["or_words"]:
        rest = words[3:]
        return [" ".join([words[0], *rest]), " ".join([words[2], *rest])]
    return [label] * n


def _span(toks: Sequence[_Tok]) -> tuple[float | None, float | None]:
    ss = [t.start_s for t in toks if t.start_s is not None]
    es = [t.end_s for t in toks if t.end_s is not None]
    return (min(ss) if ss else None, max(es) if es else None)


def _overlap(a: tuple[int, int] | None, b: tuple[int, int] | None) -> bool:
    return a is not None and b is not None and a[0] < b[1] and b[0] < a[1]


#: Tie-breaker weight for a reading that follows the prompt's own cues (a lead word
#: right after the key says "press 1 for X"; a sentence end after the key says
#: "For X, press 1."); far below one labelled option.
CUE_BONUS = 0.01
#: A verb whose key was lost still takes its clause's words (so that they do not run
#: into the next option's label), but gives way to an anchor with a key.
KEYLESS_WEIGHT = 0.5


def _label_ranges(toks: Sequence[_Tok], anchors: list[_Anchor], g: Grammar) -> list[tuple[int, int] | None]:
    """Each anchor's label range: its words before ("for X, press N") or after
    ("press N for X"). Chosen jointly (dynamic programming over the anchors) so that
    no words serve two options and as many options as possible get words. The
    grammar's word-order patterns say which sides a language allows."""
    cands = _range_candidates(toks, anchors, g)
    ranges: list[tuple[int, int] | None] = []
    for i, (c, ch) in enumerate(zip(cands, _pick_sides(cands, anchors))):
        rng = c[ch][0]
        ranges.append(None if i and _overlap(ranges[-1], rng) else rng)
    _split_shared_gaps(toks, anchors, ranges, g)
    return ranges


_Cand = dict[str, tuple[tuple[int, int] | None, float]]


def _range_candidates(toks: Sequence[_Tok], anchors: list[_Anchor], g: Grammar) -> list[_Cand]:
    """Per anchor, the label range on each side the grammar allows, with its bonus:
    ``{"S": (suffix, bonus), "P": (prefix, bonus)}`` (``"N"``: no side allowed)."""
    n = len(anchors)
    last = anchors[-1] if anchors else None
    labels_first = bool(last and last.keys and (toks[last.end - 1].brk == "." or last.end >= len(toks))
                        and _suffix_range(toks, last.end, len(toks), g) is None)
    cands: list[_Cand] = []
    for i, a in enumerate(anchors):
        prev_end = anchors[i - 1].end if i else 0
        next_start = anchors[i + 1].start if i + 1 < n else len(toks)
        suf = _suffix_range(toks, a.end, next_start, g) if g.label_after else None
        ends_sentence = toks[a.end - 1].brk == "." or a.end >= len(toks)
        lead_after = a.end < len(toks) and toks[a.end].lead and not toks[a.end - 1].brk
        # a verb whose key was lost ends its clause ("for X, press"): words before it
        c = {"S": (suf, CUE_BONUS if lead_after else 0.0)} if a.keys and g.label_after else {}
        # a bare key closing its clause ("Pour X, 2.") may take the words before it
        if g.label_before and (not a.bare or toks[a.end - 1].brk):
            # a call to action opening its sentence may take the short sentence before
            # it when the prompt ends "... Press 2." with nothing after: the menu names
            # its options before their keys ("a new mortgage. Press 1 for an existing
            # loan. Press 2.": lead word lost, periods misplaced by the recognizer)
            alone = a.start > 0 and toks[a.start - 1].brk == "." and (
                (ends_sentence and suf is None) or labels_first)
            c["P"] = (_prefix_range(toks, prev_end, a.start, g, alone), CUE_BONUS if ends_sentence else 0.0)
        cands.append(c or {"N": (None, 0.0)})  # a side the grammar does not allow
    return cands


def _pick_sides(cands: list[_Cand], anchors: list[_Anchor]) -> list[str]:
    """The side per anchor that gives the most options words, no two overlapping
    (Viterbi over the anchors; a keyless anchor counts ``KEYLESS_WEIGHT``)."""
    best: list[dict[str, tuple[float, str | None]]] = []  # [i][side] = (score, previous side)
    for i, c in enumerate(cands):
        row: dict[str, tuple[float, str | None]] = {}
        weight = 1.0 if anchors[i].keys else KEYLESS_WEIGHT
        for ch, (rng, bonus) in c.items():
            gain = (weight + bonus) if rng is not None else 0.0
            if i == 0:
                row[ch] = (gain, None)
                continue
            row[ch] = max((best[i - 1][pc][0] + (gain if not _overlap(cands[i - 1][pc][0], rng) else 0.0), pc)
                          for pc in best[i - 1])
        best.append(row)
    picks = [max(best[-1], key=lambda ch: best[-1][ch][0])]
    for i in range(len(cands) - 1, 0, -1):
        picks.append(best[i][picks[-1]][1])
    return picks[::-1]


def _split_shared_gaps(toks: Sequence[_Tok], anchors: list[_Anchor],
                       ranges: list[tuple[int, int] | None], g: Grammar) -> None:
    """"press 1 for billing for support press 2": one gap holding two labels is
    split at its second lead word between two neighbours, one of which got none."""
    for i in range(len(anchors) - 1):
        a, b = ranges[i], ranges[i + 1]
        if (a is None) == (b is None) or anchors[i + 1].bare:
            continue
        lo, hi = a if a is not None else b
        leads = [k for k in range(lo + 1, hi) if toks[k].lead and not _is_not_lead(toks, k, g)
                 and anchors[i].end <= k < anchors[i + 1].start]
        if toks[lo].lead and leads and anchors[i].end <= lo < anchors[i + 1].start:
            k = next((k for k in leads if toks[k - 1].brk), leads[0])
            ranges[i], ranges[i + 1] = (lo, k), (k, hi)


def _fill_lost_keys(anchors: list[_Anchor]) -> None:
    """Menus number their options one after another. A run of verbs whose keys the
    recognizer lost, between options N and N+m+1 (or before option m+1 at the start
    of the prompt), gets the missing numbers: "press 1 ... for X, press [lost] ...
    press 3" -> X is 2. Anything else stays unknown."""
    used = {k for a in anchors for k in a.keys}
    i, n = 0, len(anchors)
    while i < n:
        if anchors[i].keys:
            i += 1
            continue
        j = i
        while j < n and not anchors[j].keys:
            j += 1
        prev = anchors[i - 1].keys[-1] if i else None
        nxt = anchors[j].keys[0] if j < n else None
        run = j - i
        if nxt is not None and nxt.isdigit():
            b = int(nxt)
            if prev is None and b == run + 1:
                fill = [str(k) for k in range(1, b)]
            elif prev is not None and prev.isdigit() and b - int(prev) == run + 1:
                fill = [str(k) for k in range(int(prev) + 1, b)]
            else:
                fill = []
            if fill and not used & set(fill):
                for a, k in zip(anchors[i:j], fill):
                    a.keys = [k]
                used |= set(fill)
        i = j


def _options(toks: Sequence[_Tok], g: Grammar, lost: bool = False) -> list[Option]:
    """Options in ``toks``; with ``lost``, also one with key ``""`` per call to action
    whose key the recognizer lost (for timing: it still asks for a key)."""
    anchors = _anchors(toks, g)
    if not any(a.keys for a in anchors) and not (lost and anchors):
        return []
    ranges = _label_ranges(toks, anchors, g)  # before the fill: a lost key takes words before it
    _fill_lost_keys(anchors)
    out: list[Option] = []
    for a, rng in zip(anchors, ranges):
        if not a.keys:
            if lost and rng is not None:
                out.append(Option("", _clean_label(toks[rng[0]:rng[1]], g), *_span(toks[rng[0]:a.end])))
            continue
        lab = list(toks[rng[0]:rng[1]]) if rng is not None else []
        label = _clean_label(lab, g)
        s, e = _span(lab + list(toks[a.start:a.end]))
        for key, part in zip(a.keys, _split_alternatives(label, len(a.keys), g)):
            out.append(Option(key, part, s, e, _role(part, g)))
    return out


#: The word lists that make up a call to action (for a recognizer's word list).
CTA_LISTS = ("press_verbs", "key_verbs", "verb_tails", "articles", "key_nouns", "key_prefix_nouns",
             "star", "pound", "conjunctions", "label_suffixes")


def call_to_action_words(lang: str | Grammar = "en") -> list[str]:
    """The words a language's calls to action are made of (verbs and their endings,
    digit words, star/pound words, key nouns, particles), sorted: what a recognizer
    restricted to a word list (Vosk's grammar mode) needs to hear the keys of a menu;
    add the words of the labels you expect."""
    g = _g(lang)
    words = set(g.digits)
    for name in CTA_LISTS:
        words |= g.words[name]
        words |= {w for p in g.phrases.get(name, ()) for w in p}
    return sorted(w for w in words if w.strip())


def parse_options(words: Sequence, lang: str | Grammar = "en") -> list[Option]:
    """Options offered by a prompt, in the order spoken.

    ``words``: recognizer words (``.word``, ``.start_s``, ``.end_s``) in time order.
    ``lang``: the prompt's language (BCP-47 tag) or a loaded ``Grammar``.
    A key offered twice keeps its first mention.
    """
    g = _g(lang)
    out: list[Option] = []
    seen: set[str] = set()
    for o in _options(_tokens(words, g), g):
        if o.key not in seen:
            seen.add(o.key)
            out.append(o)
    return out


def option_mentions(words: Sequence, lang: str | Grammar = "en") -> list[Option]:
    """Every option mention of a prompt, a key offered twice included (a call that
    heard several menus in one stretch, with no key tone to cut it at)."""
    g = _g(lang)
    return list(_options(_tokens(words, g), g))


def parse_options_text(text: str, lang: str | Grammar = "en") -> list[Option]:
    """``parse_options`` on plain text (times are None)."""
    return parse_options([text], lang)


# -- data entry ------------------------------------------------------------------

_STRAY_RE = re.compile(r"[^\w#*'\s.,?!;:-]")


def _norm_text(text: str, g: Grammar) -> str:
    """Folded text with the lexicon's rewrites ("I D" -> id, "keep in your" -> "key in
    your") and no stray symbols."""
    t = _fold(text, g)
    for rx, rep in g.rewrites:
        t = rx.sub(rep, t)
    t = _STRAY_RE.sub(" ", t)
    return re.sub(r"\s+", " ", t)


def _split_sentences(text: str, g: Grammar) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.?!;])\s+", _norm_text(text, g)) if s.strip()]


def _flat(sentence: str) -> str:
    """Punctuation to spaces ("9-digit", Whisper's "9 -digit"), single spaces."""
    return re.sub(r"\s+", " ", re.sub(r"[.,?!;:-]", " ", sentence))


#: Characters after a data noun in which a trailing entry verb still counts
#: ("your ID number, please enter it").
VERB_AFTER_CHARS = 12


def parse_entry(text: str, need_verb: bool = True, lang: str | Grammar = "en") -> str | None:
    """The directory token a data-entry prompt asks for (``ID``, ``Tel``, ``4D``,
    ``Pass``) with ``#``/``*`` when it names a terminator; None otherwise.

    ``need_verb=False`` reads the data noun alone ("your four digit pin, follow by
    the"): for a node where the caller is known to have keyed data, whose prompt lost
    its verb to the recognizer or to the caller typing over it."""
    g = _g(lang)
    e = g.entry
    sents = _split_sentences(text, g)
    for i, s in enumerate(sents):
        if parse_options_text(s, g):
            continue  # "press 1 to enter your ID" offers a key, it does not ask for data
        flat = _flat(s)
        for noun in g.entry_nouns:
            m = noun.pattern.search(flat)
            if m is None:
                continue
            if need_verb and not e["verb"].search(flat[:m.start()]) and not e["verb_after"].search(
                    flat[m.end():m.end() + VERB_AFTER_CHARS]):
                continue
            tail = flat[m.end():]
            if i + 1 < len(sents):
                tail = re.sub(r"\s+", " ", tail + " " + _flat(sents[i + 1]))
            t = e["terminator"].search(tail) or e["terminator_key"].search(tail)
            if t is None:
                return noun.token + ("#" if e["terminator_lost"].search(tail) else "")
            return noun.token + ("*" if t.group(1) in e["star_words"] else "#")
    return None


# -- prompt kind -----------------------------------------------------------------


def classify_prompt(text: str, options: Sequence[Option] | None = None, lang: str | Grammar = "en") -> str:
    """Kind hint for a node's prompt: ``menu``, ``input``, ``agent``, ``info``, ``back``."""
    g = _g(lang)
    k = g.kind
    if options is None:
        options = parse_options_text(text, g)
    norm = _norm_text(text, g)
    if parse_entry(text, lang=g) is not None:
        return "input"
    if any(o.role == "option" for o in options):
        return "menu"
    if k["input"].search(norm):
        return "input"
    if k["agent"].search(norm):
        return "agent"
    if k["back"].search(norm) and not options:
        return "back"
    if k["dial_any"].search(norm) and k["extension"].search(norm):
        return "menu"
    if options:
        return "menu"
    return "info"


# -- first moment the prompt asks for a key ----------------------------------------

#: "If you know your party's extension, dial it at any time": the call to action
#: starts at its "if" when that is at most this many words before the verb ...
CONDITIONAL_MAX_WORDS = 10
#: ... else this many words before the verb.
PREAMBLE_WORDS = 3


def _dial_any_start(sent: Sequence[_Tok], text: str, g: Grammar) -> float | None:
    m = g.kind["dial_any"].search(text)
    if not (m and g.kind["extension"].search(text)):
        return None
    ws = [t.text for t in sent]
    dial_at = text[:m.start()].count(" ")
    k = next((j for j in range(dial_at, -1, -1) if ws[j] in g.conditional), None)
    if k is None or dial_at - k > CONDITIONAL_MAX_WORDS:
        k = max(0, dial_at - PREAMBLE_WORDS)
    return sent[k].start_s


def first_call_to_action(words: Sequence, lang: str | Grammar = "en") -> float | None:
    """File time of the first call to action: the start of the first option clause,
    of an "if you know your party's extension, dial it at any time" sentence, or of a
    data-entry request. None when there is none (or the words carry no times)."""
    g = _g(lang)
    toks = _tokens(words, g)
    cands = [o.start_s for o in _options(toks, g, lost=True) if o.start_s is not None]
    for sent in _sentences(toks):
        text = " ".join(t.text for t in sent)
        s = _dial_any_start(sent, text, g)
        if s is not None:
            cands.append(s)
        m2 = g.kind["input"].search(text)
        if m2 is not None or parse_entry(text, lang=g) is not None:
            k = min(len(sent) - 1, text[:m2.start()].count(" ")) if m2 else 0
            if sent[k].start_s is not None:
                cands.append(sent[k].start_s)
    return min(cands) if cands else None
