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

Nothing here imports a recognizer; it is pure Python.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

__all__ = [
    "Option",
    "parse_options",
    "parse_options_text",
    "parse_entry",
    "classify_prompt",
    "first_call_to_action",
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


# -- vocabulary ------------------------------------------------------------------

#: Verbs that only ever ask for a key: a recognizer that loses the key after one of
#: them ("for billing, press" + silence) still marks the end of an option clause.
PRESS_VERBS = frozenset({
    "press", "push",
    "oprima", "oprime", "presione", "pulse", "pulsa",  # Spanish menus
    "prez", "pres", "presse", "pressed",  # how recognizers write "press" in a synthetic voice
})
#: Verbs that put a key into a call to action. "pressing" is left out on purpose:
#: "you may quit at any time by pressing the pound key" is an exit hint, and
#: "enter" asks for data, not a menu choice.
KEY_VERBS = PRESS_VERBS | {"dial", "select", "touch", "choose", "marque"}
#: "pressed" is a recognizer's "press" only where no one is being told what they
#: pressed ("you pressed 1", "if you have pressed").
PAST_VERBS = frozenset({"pressed"})
NOT_BEFORE_PAST = frozenset({"you", "have", "has", "had", "already", "was", "were", "i", "we"})

DIGIT_WORDS = {
    "zero": "0", "one": "1", "won": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
    "cero": "0", "uno": "1", "dos": "2", "tres": "3", "cuatro": "4", "cinco": "5",
    "seis": "6", "siete": "7", "ocho": "8", "nueve": "9",
}
#: Words a recognizer writes for a key only when the key position forces it:
#: "press to" (2), "press for" (4), "press oh" (0), "press ate" (8).
HOMOPHONE_KEYS = {"to": "2", "too": "2", "for": "4", "fore": "4", "oh": "0", "o": "0", "ate": "8",
                  "start": "*", "forward": "4", "free": "3", "tree": "3"}
#: A number word a recognizer writes for "for" at the start of an option clause
#: ("Four billing, press 1."): it opens the clause, it is never a key there.
FOR_AS_NUMBER = frozenset({"four", "4", "fore"})
STAR_WORDS = frozenset({"star", "asterisk", "*", "estrella", "asterisco"})
POUND_WORDS = frozenset({"pound", "hash", "#", "numeral", "gato"})
KEY_NOUNS = frozenset({"key", "button", "sign", "tecla"})

#: Words that open an option's own words ("for billing", "to pay a bill",
#: "if you are a new customer", Spanish "para español").
LEAD_WORDS = frozenset({"for", "to", "if", "para", "regarding"})
FILLER = frozenset({"now", "please", "then"})
#: Phrases in which a lead word does not open an option ("thank you for calling").
NOT_LEADS = (
    ("thank", "you", "for"), ("for", "calling"), ("for", "choosing"), ("for", "holding"),
    ("for", "your", "patience"), ("for", "quality"), ("for", "training"),
    ("for", "waiting"), ("thanks", "for"), ("welcome", "to"), ("like", "to"), ("want", "to"),
    ("need", "to"), ("wish", "to"), ("going", "to"), ("due", "to"), ("have", "to"),
)
#: Openings stripped from a label: the option is what follows them.
LABEL_OPENINGS = tuple(tuple(p.split()) for p in (
    "if you are calling about", "if you are calling regarding", "if you are calling for",
    "if you are calling to", "if you're calling about", "if you're calling to",
    "if you would like to", "if you'd like to", "if you want to",
    "if you wish to", "if you need to", "if you would like", "if you'd like", "if you want",
    "if you wish", "if you need", "if you are", "if you're", "if you have", "if you",
    "if", "for", "to", "para", "regarding", "or", "and", "please",
))
#: Openings that say nothing about the option ("otherwise, press star").
EMPTY_OPENINGS = frozenset({"otherwise", "or", "and", "please", "now"})
LABEL_TAILS = frozenset({"now", "please", "at", "any", "time"})

SENTENCE_END = frozenset(".?!;:")
_TOKEN_RE = re.compile(r"[#*]|[0-9]+|[^\W\d_]+(?:['’][^\W\d_]+)*|[.,?!;:]", re.UNICODE)


@dataclass(frozen=True)
class _Tok:
    text: str
    start_s: float | None
    end_s: float | None
    brk: str = ""  # "." sentence end or "," clause end after this token


def _tokens(words: Iterable) -> list[_Tok]:
    """Split recognizer words into lower-case tokens with punctuation as breaks.

    One recognizer word may hold several tokens ("1-800", "hash-key"): they share its
    times.
    """
    toks: list[_Tok] = []
    for w in words:
        text = str(getattr(w, "word", w)).lower().replace("’", "'")
        s, e = getattr(w, "start_s", None), getattr(w, "end_s", None)
        for m in _TOKEN_RE.finditer(text):
            t = m.group(0)
            if t in SENTENCE_END or t == ",":
                if toks:
                    brk = "." if t in SENTENCE_END else ","
                    last = toks[-1]
                    if last.brk != ".":
                        toks[-1] = _Tok(last.text, last.start_s, last.end_s, brk)
                continue
            toks.append(_Tok(t, s, e))
    return toks


def _sentences(toks: Sequence[_Tok]) -> list[list[_Tok]]:
    out: list[list[_Tok]] = [[]]
    for t in toks:
        out[-1].append(t)
        if t.brk == ".":
            out.append([])
    return [s for s in out if s]


def _plain_key(tok: str) -> str | None:
    if len(tok) == 1 and tok.isdigit():
        return tok
    if tok in DIGIT_WORDS:
        return DIGIT_WORDS[tok]
    if tok in STAR_WORDS:
        return "*"
    if tok in POUND_WORDS:
        return "#"
    return None


def _key_at(toks: Sequence[_Tok], i: int, after_verb: bool) -> tuple[str, int] | None:
    """The key starting at token ``i`` and the index after it, or None.

    Homophones count only right after a verb and only when the next token cannot
    continue a sentence ("press to speak" has no key; "press to, for billing" has).
    """
    n = len(toks)
    if i < n and toks[i].text in ("the", "el", "la") and not toks[i].brk:
        i += 1
    if i >= n:
        return None
    t = toks[i].text
    key = None
    j = i + 1
    if t == "number" and j < n and toks[i].brk == "":
        nxt = toks[j].text
        if nxt == "sign":
            key, j = "#", j + 1
        else:
            k = _plain_key(nxt)
            if k is not None:
                key, j = k, j + 1
    if key is None:
        key = _plain_key(t)
    if key is None and t in HOMOPHONE_KEYS and after_verb and not toks[i].brk and j < n \
            and _plain_key(toks[j].text) == HOMOPHONE_KEYS[t]:
        key, j = HOMOPHONE_KEYS[t], j + 1  # "press to 2": the key heard twice
    if key is None and t in HOMOPHONE_KEYS:
        follow = toks[j].text if j < n else None
        if toks[i].brk or follow is None or follow in LEAD_WORDS or follow in ("or", "now", "and") \
                or follow in KEY_VERBS or follow in KEY_NOUNS:
            if after_verb or follow in ("to", "for"):
                key = HOMOPHONE_KEYS[t]
    if key is None:
        return None
    if key.isdigit() and j < n and not toks[j - 1].brk and (
            toks[j].text.isdigit() or (_plain_key(toks[j].text) or "x").isdigit()):
        return None  # "dial nine one one": a number, not a key
    while j < n and toks[j - 1].brk == "" and toks[j].text in KEY_NOUNS:
        j += 1
    return key, j


def _key_after_break(toks: Sequence[_Tok], i: int) -> tuple[str, int] | None:
    """A key after a verb the recognizer closed with punctuation ("press." / "press,"
    then "3." in the next utterance): only a plain key that stands alone (its own
    clause end, the prompt's end, or an option's lead word next)."""
    n = len(toks)
    if i >= n:
        return None
    key = _plain_key(toks[i].text)
    if key is None:
        # a homophone that is a sentence of its own ("press." then "To.") is the key
        return (HOMOPHONE_KEYS[toks[i].text], i + 1) if toks[i].text in HOMOPHONE_KEYS \
            and toks[i].brk == "." else None
    if toks[i].brk or i + 1 >= n or toks[i + 1].text in LEAD_WORDS:
        return key, i + 1
    return None


@dataclass
class _Anchor:
    keys: list[str]
    start: int  # index of the verb (or of the bare key)
    end: int    # index after the last key
    bare: bool = False


def _is_terminator_verb(sent: Sequence[_Tok], i: int) -> bool:
    """'... and then press the pound key', 'when done hang up or press pound': a
    terminator, not a menu choice."""
    prev = [t.text for t in sent[max(0, i - 5):i]]
    return "then" in prev or "done" in prev or "finished" in prev


def _multi_keys(sent: Sequence[_Tok], j: int, keys: list[str]) -> int:
    """Extend ``keys`` over 'or 6', ', 2, or 3' and return the index after them."""
    n = len(sent)
    while j < n:
        k = j
        if sent[k - 1].brk and k < n and sent[k].text in ("or", "and"):
            k += 1
        elif sent[k].text in ("or", "and") and sent[k - 1].brk == "":
            k += 1
        elif sent[k - 1].brk != ",":
            break
        got = _key_at(sent, k, after_verb=False)
        if got is None or sent[k].text in ("the", "el", "la"):
            break
        # a bare next key followed by its own label is the next option, not this one
        nxt = sent[got[1]].text if got[1] < n else None
        if nxt in ("to", "for") and sent[got[1] - 1].brk == "" and sent[j - 1].brk == ",":
            break
        if sent[k].text in HOMOPHONE_KEYS and _plain_key(sent[k].text) is None:
            break
        keys.append(got[0])
        j = got[1]
    return j


def _skip_anytime(sent: Sequence[_Tok], j: int) -> int:
    """Step over 'now' / 'at any time' right after the keys ('press 0 at any time to ...')."""
    words = [t.text for t in sent]
    while j < len(sent) and not sent[j - 1].brk:
        if words[j] in ("now", "anytime"):
            j += 1
        elif words[j:j + 3] == ["at", "any", "time"]:
            j += 3
        else:
            break
    return j


#: A bare key ("2 to lock") continues a list of options only this close (tokens)
#: after the previous option's keys.
CONTINUATION_GAP = 12


def _anchors(sent: Sequence[_Tok]) -> list[_Anchor]:
    out: list[_Anchor] = []
    i, n = 0, len(sent)
    while i < n:
        t = sent[i].text
        if t in KEY_VERBS and not (t in PAST_VERBS and i and sent[i - 1].text in NOT_BEFORE_PAST):
            got = _key_at(sent, i + 1, after_verb=True) if not sent[i].brk else _key_after_break(sent, i + 1)
            if got is not None and not (got[0] in "#*" and _is_terminator_verb(sent, i)):
                keys = [got[0]]
                j = _skip_anytime(sent, _multi_keys(sent, got[1], keys))
                out.append(_Anchor(keys, i, j))
                i = j
                continue
            junk = not sent[i].brk and i + 1 < n and sent[i + 1].brk == "." \
                and sent[i + 1].text not in LEAD_WORDS and sent[i + 1].text not in PRESS_VERBS
            if got is None and t in PRESS_VERBS and (
                    sent[i].brk or i + 1 >= n or sent[i + 1].text in LEAD_WORDS
                    or sent[i + 1].text in PRESS_VERBS or junk):
                # "for billing, press" and the key lost (or unreadable: "press high."):
                # a call to action all the same, it ends this option's clause
                j = i + 2 if junk else i + 1
                out.append(_Anchor([], i, j))
                i = j
                continue
        elif out and out[-1].keys and i - out[-1].end <= CONTINUATION_GAP and (sent[i - 1].brk or t in ("or", "and")):
            # continuation: "press 1 to mute, 2 to lock, or 8 to exit" (recognizers
            # may put periods there: "press 1 to mute. 2 to lock.")
            k = i + 1 if t in ("or", "and") else i
            got = _key_at(sent, k, after_verb=False) if k < n and sent[k].text != "the" else None
            if got is not None:
                keys = [got[0]]
                j = _multi_keys(sent, got[1], keys)
                if j < n and sent[j].text in ("to", "for"):
                    out.append(_Anchor(keys, i, j, bare=True))
                    i = j
                    continue
        i += 1
    return out


def _skip_say(toks: Sequence[_Tok], lo: int, hi: int) -> int:
    """Step over 'or say billing' after a key ('press 1 or say billing')."""
    if hi - lo >= 2 and toks[lo].text == "or" and toks[lo + 1].text == "say":
        k = lo + 2
        while k < hi and toks[k].text not in LEAD_WORDS and toks[k - 1].brk != "." \
                and (k == lo + 2 or toks[k - 1].brk != ","):
            k += 1
        return k
    return lo


def _is_not_lead(toks: Sequence[_Tok], k: int) -> bool:
    w = toks[k].text
    for phrase in NOT_LEADS:
        for off, p in enumerate(phrase):
            a = k - off
            if p == w and a >= 0 and a + len(phrase) <= len(toks) and \
                    all(toks[a + j].text == phrase[j] for j in range(len(phrase))):
                return True
    return False


#: Words in a lead-less sentence that can still be an option's label ("Billing questions.")
SHORT_LABEL = 4


def _is_for_as_number(toks: Sequence[_Tok], k: int, lo: int, hi: int) -> bool:
    """'four' / '4' opening a clause before a word ("Four billing, press 1", Whisper's
    "K4TV" for "for TV"): a misheard "for", which opens the option's words."""
    if toks[k].text not in FOR_AS_NUMBER or k + 1 >= hi:
        return False
    nxt = toks[k + 1].text
    if toks[k].brk or _plain_key(nxt) is not None or nxt in ("or", "and", "to", "for", "digit", "digits"):
        return False
    prev = toks[k - 1] if k > lo else None
    return prev is None or bool(prev.brk) or (len(prev.text) == 1 and prev.text.isalpha())


def _prefix_range(toks: Sequence[_Tok], lo: int, hi: int, alone: bool = False) -> tuple[int, int] | None:
    """Token range [lo, hi) before a verb that is its option's words, or None.

    Only the verb's own sentence counts, except when the sentence starts at the verb:
    recognizers misplace periods over short TTS pauses ("for billing and payments.
    Press 1 for support."), so then the previous sentence may hold the label, if it
    opens one with a lead word. A clause comma followed by a lead word ends a
    preamble ("Thank you for calling Acme, for billing, press 1").
    """
    while lo < hi and toks[hi - 1].text in FILLER:
        hi -= 1
    need_lead = False
    ends = [k for k in range(lo, hi) if toks[k].brk == "."]
    if ends and ends[-1] < hi - 1:
        lo = ends[-1] + 1
    elif ends:
        lo = ends[-2] + 1 if len(ends) > 1 else lo
        need_lead = True
    lo = _skip_say(toks, lo, hi)
    for k in range(lo, hi - 1):
        if toks[k].brk and (toks[k + 1].text in LEAD_WORDS or _is_for_as_number(toks, k + 1, lo, hi)):
            lo = k + 1
    if lo >= hi:
        return None
    leads = [k for k in range(lo, hi) if (toks[k].text in LEAD_WORDS and not _is_not_lead(toks, k))
             or _is_for_as_number(toks, k, lo, hi)]
    if leads:
        first = leads[0]
        # a preamble with no punctuation ("thank you for calling acme for billing") is
        # long; a label rarely is
        if hi - first > 10 and len(leads) > 1:
            first = leads[-1]
        return first, hi
    if need_lead:
        # "Directions and hours. Press 4.": the recognizer lost the lead word and put a
        # period over the pause; a short, verbless sentence right before a call to
        # action that is a sentence of its own is its option's words
        if alone and hi - lo <= SHORT_LABEL and not any(
                t.text in KEY_VERBS or t.text in DIGIT_WORDS or t.text.isdigit() for t in toks[lo:hi]) \
                and not any(_is_not_lead(toks, k) for k in range(lo, hi)):
            return lo, hi
        return None
    # "X, press N" with no lead word: the clause right before the verb
    cuts = [k + 1 for k in range(lo, hi - 1) if toks[k].brk]
    if cuts and hi - cuts[-1] <= 6:
        return cuts[-1], hi
    if hi - lo > 8:
        return None
    return lo, hi


def _suffix_range(toks: Sequence[_Tok], lo: int, hi: int) -> tuple[int, int] | None:
    """Token range after the keys that is their option's words: a lead word up to the
    clause's end. A sentence end right after the keys may be a recognizer's misplaced
    period ("Dial 1. If you wish to ..."), so it does not stop the search; the joint
    choice in ``_label_ranges`` weighs it against the other reading."""
    if lo == 0:
        return None
    lo = _skip_say(toks, lo, hi)
    while lo < hi and toks[lo].text in FILLER and not toks[lo].brk:
        lo += 1
    if lo >= hi or toks[lo].text not in LEAD_WORDS:
        return None
    k = lo
    while k < hi - 1 and not toks[k].brk:
        k += 1
    return lo, k + 1


def _clean_label(toks: Sequence[_Tok]) -> str:
    words = [t.text for t in toks if t.text not in ("#", "*")]
    while words and words[0] in EMPTY_OPENINGS:
        words = words[1:]
    if len(words) > 1 and words[0] in FOR_AS_NUMBER and _plain_key(words[1]) is None \
            and words[1] not in ("or", "and", "digit", "digits"):
        words = words[1:]  # "four billing": a misheard "for billing"
    if len(words) == 1 and words[0] in LEAD_WORDS:
        return ""
    changed = True
    while changed and words:
        changed = False
        for op in LABEL_OPENINGS:
            if tuple(words[:len(op)]) == op and len(words) > len(op):
                words = words[len(op):]
                changed = True
                break
    if "or" in words:
        k = words.index("or")
        if k + 1 < len(words) and words[k + 1] in ("say", "stay"):
            words = words[:k]
    while words and (words[-1] in LABEL_TAILS or words[-1] in ("or", "and")):
        words.pop()
    if words[-3:] == ["at", "any", "time"]:
        words = words[:-3]
    return " ".join(words)


_BACK_RE = re.compile(r"\b(main|previous|prior|last|top|top level|first) menu\b|^(go )?back$|\bgo back\b|\breturn to the menu\b")
_REPEAT_RE = re.compile(r"\b(repeat|replay|hear|listen to)\b.*\b(options?|menu|choices|selections|again)\b|^repeat$|^hear (them|this) again$")


def _role(label: str) -> str:
    if _BACK_RE.search(label):
        return "back"
    if _REPEAT_RE.search(label) and not re.search(r"\b(message|recording|greeting|number)\b", label):
        return "repeat"
    return "option"


def _split_alternatives(label: str, n: int) -> list[str]:
    """'decrease or increase the volume' over keys 4 and 6 -> one label per key."""
    words = label.split()
    if n == 2 and len(words) >= 3 and words[1] == "or":
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


def _label_ranges(toks: Sequence[_Tok], anchors: list[_Anchor]) -> list[tuple[int, int] | None]:
    """Each anchor's label range: its words before ("for X, press N") or after
    ("press N for X"). Chosen jointly (dynamic programming over the anchors) so that
    no words serve two options and as many options as possible get words."""
    n = len(anchors)
    last = anchors[-1] if anchors else None
    labels_first = bool(last and last.keys and (toks[last.end - 1].brk == "." or last.end >= len(toks))
                        and _suffix_range(toks, last.end, len(toks)) is None)
    cands: list[dict[str, tuple[tuple[int, int] | None, float]]] = []
    for i, a in enumerate(anchors):
        prev_end = anchors[i - 1].end if i else 0
        next_start = anchors[i + 1].start if i + 1 < n else len(toks)
        suf = _suffix_range(toks, a.end, next_start)
        ends_sentence = toks[a.end - 1].brk == "." or a.end >= len(toks)
        lead_after = a.end < len(toks) and toks[a.end].text in LEAD_WORDS and not toks[a.end - 1].brk
        # a verb whose key was lost ends its clause ("for X, press"): words before it
        c = {"S": (suf, CUE_BONUS if lead_after else 0.0)} if a.keys else {}
        if not a.bare:
            # a call to action opening its sentence may take the short sentence before
            # it when the prompt ends "... Press 2." with nothing after: the menu names
            # its options before their keys ("a new mortgage. Press 1 for an existing
            # loan. Press 2.": lead word lost, periods misplaced by the recognizer)
            alone = a.start > 0 and toks[a.start - 1].brk == "." and (
                (ends_sentence and suf is None) or labels_first)
            c["P"] = (_prefix_range(toks, prev_end, a.start, alone), CUE_BONUS if ends_sentence else 0.0)
        cands.append(c)
    # best[i][choice] = (score, previous choice)
    best: list[dict[str, tuple[float, str | None]]] = []
    for i, c in enumerate(cands):
        row: dict[str, tuple[float, str | None]] = {}
        weight = 1.0 if anchors[i].keys else KEYLESS_WEIGHT
        for ch, (rng, bonus) in c.items():
            gain = (weight + bonus) if rng is not None else 0.0
            if i == 0:
                row[ch] = (gain, None)
                continue
            opts = [(best[i - 1][pc][0] + (gain if not _overlap(cands[i - 1][pc][0], rng) else 0.0), pc)
                    for pc in best[i - 1]]
            row[ch] = max(opts)
        best.append(row)
    choice = max(best[-1], key=lambda ch: best[-1][ch][0])
    picks = [choice]
    for i in range(n - 1, 0, -1):
        picks.append(best[i][picks[-1]][1])
    picks.reverse()
    ranges: list[tuple[int, int] | None] = []
    for i, ch in enumerate(picks):
        rng = cands[i][ch][0]
        if i and _overlap(ranges[-1], rng):
            rng = None
        ranges.append(rng)
    # "press 1 for billing for support press 2": one gap holding two labels
    for i in range(n - 1):
        a, b = ranges[i], ranges[i + 1]
        if (a is None) == (b is None) or anchors[i + 1].bare:
            continue
        lo, hi = a if a is not None else b
        leads = [k for k in range(lo + 1, hi) if toks[k].text in LEAD_WORDS and not _is_not_lead(toks, k)
                 and anchors[i].end <= k < anchors[i + 1].start]
        if toks[lo].text in LEAD_WORDS and leads and anchors[i].end <= lo < anchors[i + 1].start:
            k = next((k for k in leads if toks[k - 1].brk), leads[0])
            ranges[i], ranges[i + 1] = (lo, k), (k, hi)
    return ranges


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


def _options(toks: Sequence[_Tok], lost: bool = False) -> list[Option]:
    """Options in ``toks``; with ``lost``, also one with key ``""`` per call to action
    whose key the recognizer lost (for timing: it still asks for a key)."""
    anchors = _anchors(toks)
    if not any(a.keys for a in anchors) and not (lost and anchors):
        return []
    ranges = _label_ranges(toks, anchors)  # before the fill: a lost key takes words before it
    _fill_lost_keys(anchors)
    out: list[Option] = []
    for a, rng in zip(anchors, ranges):
        if not a.keys:
            if lost and rng is not None:
                out.append(Option("", _clean_label(toks[rng[0]:rng[1]]), *_span(toks[rng[0]:a.end])))
            continue
        lab = list(toks[rng[0]:rng[1]]) if rng is not None else []
        label = _clean_label(lab)
        s, e = _span(lab + list(toks[a.start:a.end]))
        for key, part in zip(a.keys, _split_alternatives(label, len(a.keys))):
            out.append(Option(key, part, s, e, _role(part)))
    return out


def parse_options(words: Sequence) -> list[Option]:
    """Options offered by a prompt, in the order spoken.

    ``words``: recognizer words (``.word``, ``.start_s``, ``.end_s``) in time order.
    A key offered twice keeps its first mention.
    """
    out: list[Option] = []
    seen: set[str] = set()
    for o in _options(_tokens(words)):
        if o.key not in seen:
            seen.add(o.key)
            out.append(o)
    return out


def parse_options_text(text: str) -> list[Option]:
    """``parse_options`` on plain text (times are None)."""
    return parse_options([text])


# -- data entry ------------------------------------------------------------------

_ENTRY_VERB = r"(?:enter|re-?enter|key in|key|type|input|punch in|dial|tap in|provide|say)"
#: Checked in order: "personal identification number" is a PIN, not an ID.
_ENTRY_NOUNS = (
    ("Pass", r"\b(?:password|passcode|pass code|pin|pin number|pin code|secret number|"
             r"personal identification number|(?:secret|access|security|confirmation|verification) code)\b"),
    ("4D", r"\blast (?:four|4) digits\b"),
    ("Tel", r"\b(?:(?:tele)?phone number|your (?:tele)?phone(?= followed| then| and|\s*$)|mobile number|cell(?:ular)?(?: phone)? number|"
            r"home number|number on (?:your|the) account|account(?:'s)? phone number|"
            r"number(?:,)? starting with the area code|area code|"
            r"number (?:you (?:wish|want|would like|'d like) to|to) call)\b"),
    ("ID", r"\b(?:national id(?:entity)?(?: number)?|identity (?:number|card number)|id number|i d number|"
           r"id card number|teudat zehut|identification number|personal id|"
           r"(?:your|the)(?: \w+){0,4} id)\b(?! like)"),
)
#: "pound" as a recognizer hears it in terminator position ("followed by found").
_POUND = r"pound|pounds|found|hash|hashtag|number sign|#"
_TERMINATOR = re.compile(
    r"\b(?:follow(?:ed)? by|followed with|followed|then press|and then press|then|and press|"
    r"ending with|end with|terminated by|finish with|and then)\s+(?:the\s+)?"
    r"(" + _POUND + r"|star|asterisk|\*)\b")
#: The terminator's key word lost ("followed key", "followed by the key"): the pound
#: key is the one IVRs end entries with.
_TERMINATOR_LOST = re.compile(r"\bfollow(?:ed)?(?: by| with)?(?: the)? key\b")


def _norm_text(text: str) -> str:
    t = text.lower().replace("’", "'")
    # recognizers and TTS scripts spell the letters: "I D", "I.D."
    t = re.sub(r"\bi\.? ?d\b\.?", "id", t)
    # "key in your ID" heard as "keep in your ID"
    t = re.sub(r"\bkeep in (?=(?:your|the|a|an|all)\b)", "key in ", t)
    t = re.sub(r"[^\w#*'\s.,?!;:-]", " ", t)
    return re.sub(r"\s+", " ", t)


def _split_sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.?!;])\s+", _norm_text(text)) if s.strip()]


def _flat(sentence: str) -> str:
    """Punctuation to spaces ("9-digit", Whisper's "9 -digit"), single spaces."""
    return re.sub(r"\s+", " ", re.sub(r"[.,?!;:-]", " ", sentence))


def parse_entry(text: str, need_verb: bool = True) -> str | None:
    """The directory token a data-entry prompt asks for (``ID``, ``Tel``, ``4D``,
    ``Pass``) with ``#``/``*`` when it names a terminator; None otherwise.

    ``need_verb=False`` reads the data noun alone ("your four digit pin, follow by
    the"): for a node where the caller is known to have keyed data, whose prompt lost
    its verb to the recognizer or to the caller typing over it."""
    sents = _split_sentences(text)
    for i, s in enumerate(sents):
        if parse_options_text(s):
            continue  # "press 1 to enter your ID" offers a key, it does not ask for data
        flat = _flat(s)
        for token, noun in _ENTRY_NOUNS:
            m = re.search(noun, flat)
            if m is None:
                continue
            before = flat[:m.start()]
            if need_verb and not re.search(r"\b" + _ENTRY_VERB + r"\b", before) and not re.search(
                    r"\b(?:enter|key in|type)\b", flat[m.end():m.end() + 12]):
                continue
            tail = flat[m.end():]
            if i + 1 < len(sents):
                tail = re.sub(r"\s+", " ", tail + " " + _flat(sents[i + 1]))
            t = _TERMINATOR.search(tail) or re.search(
                r"\b(?:then|and) (?:the )?(" + _POUND + r"|star) (?:key|sign|button)\b", tail)
            if t is None:
                return token + ("#" if _TERMINATOR_LOST.search(tail) else "")
            term = t.group(1)
            return token + ("*" if term in ("star", "asterisk", "*") else "#")
    return None


# -- prompt kind -----------------------------------------------------------------

_AGENT_RE = re.compile(
    r"\b(please hold|hold the line|hold on|stay on the line|remain on the line|"
    r"next available (?:representative|agent|operator|associate|specialist|advisor)|"
    r"transferring (?:you|your call)|transfer your call|connect(?:ing)? (?:you|your call)|"
    r"your call is important|(?:agents|representatives|operators|advisors) are (?:currently )?"
    r"(?:busy|assisting|helping)|will be with you|estimated wait|in the queue|"
    r"wait while i connect|continue to hold|answered in the order)\b")
#: A request to key data: sentence-initial or polite "enter" ("You are about to enter
#: an echo test" is not one).
_INPUT_RE = re.compile(
    r"(?:^|[.?!,;]\s*|\bplease\s+|\bnow\s+|\bthen\s+)(?:re-?enter|enter|key in|type in|input|punch in)\s+\w")
_BACK_KIND_RE = re.compile(r"\b(returning (?:you )?to the (?:main|previous) menu|back to the (?:main|previous) menu)\b")


def classify_prompt(text: str, options: Sequence[Option] | None = None) -> str:
    """Kind hint for a node's prompt: ``menu``, ``input``, ``agent``, ``info``, ``back``."""
    if options is None:
        options = parse_options_text(text)
    norm = _norm_text(text)
    if parse_entry(text) is not None:
        return "input"
    if any(o.role == "option" for o in options):
        return "menu"
    if _INPUT_RE.search(norm):
        return "input"
    if _AGENT_RE.search(norm):
        return "agent"
    if _BACK_KIND_RE.search(norm) and not options:
        return "back"
    if _DIAL_ANY.search(norm) and re.search(r"\b(extension|party)\b", norm):
        return "menu"
    if options:
        return "menu"
    return "info"


# -- first moment the prompt asks for a key ----------------------------------------

_DIAL_ANY = re.compile(r"\b(?:dial|enter|press)\b.*\b(?:at any time|anytime|now)\b|\bextension at any time\b")


def first_call_to_action(words: Sequence) -> float | None:
    """File time of the first call to action: the start of the first option clause,
    of an "if you know your party's extension, dial it at any time" sentence, or of a
    data-entry request. None when there is none (or the words carry no times)."""
    toks = _tokens(words)
    cands = [o.start_s for o in _options(toks, lost=True) if o.start_s is not None]
    for sent in _sentences(toks):
        text = " ".join(t.text for t in sent)
        m = _DIAL_ANY.search(text)
        if m and re.search(r"\b(extension|party)\b", text):
            # start at "if you know ..." when the sentence has a preamble before it
            ws = [t.text for t in sent]
            dial_at = text[:m.start()].count(" ")
            k = next((j for j in range(dial_at, -1, -1) if ws[j] == "if"), None)
            if k is None or dial_at - k > 10:
                k = max(0, dial_at - 3)
            if sent[k].start_s is not None:
                cands.append(sent[k].start_s)
        m2 = _INPUT_RE.search(text)
        if m2 is not None or parse_entry(text) is not None:
            k = min(len(sent) - 1, text[:m2.start()].count(" ")) if m2 else 0
            if sent[k].start_s is not None:
                cands.append(sent[k].start_s)
    return min(cands) if cands else None
