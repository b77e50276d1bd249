"""Fuzzy text comparison shared by the merge and the diff (prompts and option labels).

Recognizer output varies between calls ("billing and payment" / "billing and
payments"), so equality is always a similarity threshold, never ``==``.
"""
from __future__ import annotations

import re
from collections import Counter

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

#: Two labels at or above this rapidfuzz ratio are the same words heard twice
#: (one or two recognizer slips in a short label stay above it; a different
#: option, even with shared words such as "your plan", falls below it).
SAME_LABEL_RATIO = 85.0
#: A whole prompt replayed (repeat / back to a menu) matches its first hearing at
#: least this well; different menus of one company share phrasing but stay well below.
SAME_PROMPT_RATIO = 85.0
#: A prompt cut short (the caller's press was ignored but the walk thought it was
#: taken, so the "new" visit is the rest of the same prompt) is a near-exact
#: substring of the whole prompt.
SUBSTRING_RATIO = 90.0
#: Shorter snippets than this (normalised characters) are too generic to
#: identify a prompt by substring ("please hold", "goodbye").
MIN_SUBSTRING_CHARS = 20
#: Below SAME_LABEL_RATIO but at or above this, a label at the same key and place is
#: the same option reworded ("upgrade your plan" -> "change your plan" scores 73),
#: not a different option ("upgrade your plan" -> "moving or a new address" scores 35).
RELABEL_RATIO = 55.0

#: Shorter labels than this (normalised characters) are not matched inside longer ones.
MIN_LABEL_CHARS = 5

#: Anything but letters and digits of any script: Hebrew, Cyrillic or accented
#: labels must survive normalising ("[^0-9a-z]" left "שירות לקוחות" empty, so
#: every Hebrew or Russian label looked unheard to the merge and the diff).
_NON_WORD = re.compile(r"[\W_]+")


def normalize(text: str | None) -> str:
    """Lower case, punctuation to spaces, single spaces."""
    if not text:
        return ""
    return _NON_WORD.sub(" ", text.lower()).strip()


def label_similarity(a: str | None, b: str | None) -> float:
    a, b = normalize(a), normalize(b)
    if not a or not b:
        return 0.0
    return float(fuzz.ratio(a, b))


def same_label(a: str | None, b: str | None) -> bool:
    return label_similarity(a, b) >= SAME_LABEL_RATIO


def compatible_labels(a: str | None, b: str | None) -> bool:
    """Could be the same option as heard by a recognizer: the same words, or one inside
    the other ("four billing" / "billing"; "technical support press to upgrade your
    plan", two options run together, / "upgrade your plan")."""
    a, b = normalize(a), normalize(b)
    if not a or not b:
        return False
    if fuzz.ratio(a, b) >= SAME_LABEL_RATIO:
        return True
    short = min(a, b, key=len)
    return len(short) >= MIN_LABEL_CHARS and fuzz.partial_ratio(a, b) >= SAME_LABEL_RATIO


def prompt_relation(new: str | None, old: str | None) -> str | None:
    """How a newly heard prompt relates to one heard before at another visit.

    ``"same"``: the whole prompt again; ``"rest"``: the new one is the remainder of the
    old one (the old prompt never stopped); ``"replay"``: the old prompt again after a
    preamble ("sorry, I didn't get that. For billing, press 1 ..."); None: different.
    """
    a, b = normalize(new), normalize(old)
    if not a or not b:
        return None
    if fuzz.ratio(a, b) >= SAME_PROMPT_RATIO:
        return "same"
    if MIN_SUBSTRING_CHARS <= len(a) < len(b) and fuzz.partial_ratio(a, b) >= SUBSTRING_RATIO:
        return "rest"
    if MIN_SUBSTRING_CHARS <= len(b) < len(a) and fuzz.partial_ratio(b, a) >= SUBSTRING_RATIO:
        return "replay"
    return None


def vote_label(votes: dict[str, int]) -> tuple[str | None, int, int]:
    """The label most calls agree on, clustering near-identical spellings.

    Returns ``(label, votes for it, all votes)``; the label is the most frequent
    spelling inside the winning cluster.
    """
    votes = {k: int(v) for k, v in votes.items() if k}
    total = sum(votes.values())
    if not total:
        return None, 0, 0
    clusters: list[list[str]] = []
    for lab in sorted(votes, key=lambda s: (-votes[s], -len(s), s)):
        for cl in clusters:
            if same_label(lab, cl[0]):
                cl.append(lab)
                break
        else:
            clusters.append([lab])
    best = max(clusters, key=lambda cl: (sum(votes[s] for s in cl), votes[cl[0]], _support(cl[0], votes)))
    agree = sum(votes[s] for s in best)
    label = best[0]
    if 2 * agree <= total and len(votes) >= MIN_COMBINE_READINGS:
        label = combine_readings(votes, label)
    return label, agree, total


def _support(label: str, votes: dict[str, int]) -> float:
    """How much the other hearings of an option agree with ``label`` (vote-weighted
    mean similarity). Between equally voted readings this picks the consensus: on a
    noisy line each call mishears other words ("a loser reward is member", "a
    bluebird reward member", "a uber bring water to remember"), so the reading that
    shares most words with the rest is the one least misheard."""
    others = [(o, n) for o, n in votes.items() if o != label]
    if not others:
        return 0.0
    return sum(n * fuzz.token_set_ratio(normalize(label), normalize(o)) for o, n in others) / sum(n for _, n in others)


#: Fewer distinct readings than this cannot outvote the chosen one in any word slot
#: (two readings only ever tie), so word-level combination starts at three.
MIN_COMBINE_READINGS = 3
#: A word of a label: letters/digits of any script, apostrophes kept ("it's" is one
#: word, not "it" + "s", which would open a slot no other reading fills).
_WORD = re.compile(r"[\w']+")


def label_words(text: str | None) -> list[str]:
    """The lower-cased words of a label, for word-by-word alignment."""
    return _WORD.findall((text or "").lower())


def align_words(pivot: list[str], words: list[str]) -> tuple[list[str], dict[int, str]]:
    """Align one reading to the pivot reading word by word (Levenshtein on word lists).

    Returns ``(slots, inserted)``: for each pivot word the reading's word in its place
    ("" where the reading has none), and the words the reading has before pivot word
    ``i`` (``i == len(pivot)``: after the last) that the pivot lacks.
    """
    slots = [""] * len(pivot)
    inserted: dict[int, str] = {}
    for op in Levenshtein.opcodes(pivot, words):
        if op.tag in ("equal", "replace"):  # replace blocks pair word for word
            for i, j in zip(range(op.src_start, op.src_end), range(op.dest_start, op.dest_end)):
                slots[i] = words[j]
        elif op.tag == "insert":
            inserted[op.src_start] = " ".join(words[op.dest_start:op.dest_end])
    return slots, inserted


def combine_readings(votes: dict[str, int], pivot: str) -> str:
    """Word-level vote (ROVER) over several hearings of one option label.

    Every reading is aligned to ``pivot`` (the whole-label winner); in each word slot
    the word most hearings put there wins, an empty slot drops the word, and words
    the pivot lacks are added where a strict majority of hearings has exactly them.
    Ties keep the pivot's word, so the result only departs from ``pivot`` where more
    hearings agree on something else (phone corpus, Harbor option 1: "the report that
    water made in gray" + five other readings -> "the report that water main grade").

    Returns ``pivot`` itself when no slot changes.
    """
    pw = label_words(pivot)
    slot_votes = [Counter() for _ in pw]
    gap_votes = [Counter() for _ in range(len(pw) + 1)]
    total = 0
    for reading, n in votes.items():
        slots, inserted = align_words(pw, label_words(reading))
        total += n
        for i, w in enumerate(slots):
            slot_votes[i][w] += n
        for i, ws in inserted.items():
            gap_votes[i][ws] += n
    out: list[str] = []
    for i in range(len(pw) + 1):
        if gap_votes[i]:
            ws, n = max(gap_votes[i].items(), key=lambda kv: (kv[1], kv[0]))
            if 2 * n > total:
                out.append(ws)
        if i < len(pw):
            c = slot_votes[i]
            w = max(c, key=lambda x: (c[x], x == pw[i], x))
            if w:
                out.append(w)
    return pivot if out == pw else " ".join(out)


def top_vote(votes: dict[str, int], prefer: tuple[str, ...] = ()) -> str | None:
    """Most voted value; ties go to the earliest in ``prefer``, then alphabetical."""
    c = Counter({k: v for k, v in votes.items() if k and v > 0})
    if not c:
        return None
    rank = {k: i for i, k in enumerate(prefer)}
    return min(c, key=lambda k: (-c[k], rank.get(k, len(rank)), k))


#: The opening of a prompt that identifies a company's greeting ("thank you for calling
#: northwind telecom"): a prompt heard in a call may lose its start (recognizer) or its
#: end (an early press), so each prompt's opening is looked for anywhere in the other.
GREETING_HEAD_CHARS = 40
#: Root prompts of one company score at least this (worst seen: 80, a Bluebird call cut
#: to "and for calling blueberry line"); other companies' greetings, even sharing "thank
#: you for calling", score 79 or less (11 corpus companies, the fixture companies and
#: the recorded calls' heard prompts, all pairs: benchmark in docs/benchmarks-hardening.md).
SAME_GREETING_RATIO = 80.0


def greeting_similarity(a: str | None, b: str | None) -> float:
    """How alike two root prompts are as the same company's greeting, 0-100: the best
    placement of either prompt's opening (``GREETING_HEAD_CHARS``) inside the other."""
    a, b = normalize(a), normalize(b)
    if not a or not b:
        return 0.0
    n = GREETING_HEAD_CHARS
    return float(max(fuzz.partial_ratio(a[:n], b), fuzz.partial_ratio(b[:n], a)))
