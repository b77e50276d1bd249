"""Presses inferred from what the IVR did, in calls whose recording holds no tone.

Phones and softphones that send keys out of band (RFC 4733, SIP INFO) leave no tone
in the recording; without a keys sidecar such a call reads as one long root visit.
The IVR still shows where a key was taken: its prompt stopped (cut off, or ended and
waited), and after a transition a *different* prompt started. This module finds
those moments and names the key, on records only (words and options the timeline
already holds, no audio), by these rules:

- **echo** (the call alone): the new prompt opens with the words of an option the
  menu just offered ("billing, ..." after "for billing, press 2"), or says the whole
  label after a few words of its own ("please hold for technical support");
- **known** (the company's calls read together): the new prompt opens the way the
  node other calls reached by a heard key opened (``Catalog``), also past a stock
  opening the company's nodes share ("please hold for ..."); a stock hand-off that
  names nothing of its option names no key while the menu offers keys nobody
  entered (``_stock_hand_off``: one hand-off prompt often serves several keys);
- **unknown-child** / **label-words**: a new node none of those calls entered is the
  child of the one offered key nobody entered, or of the one whose label's own words
  the new prompt says; when several keys stay equally possible, no key is named: the
  call is flagged ``unplaced`` with the candidates and placed no further.

The toneless calls are read together (``infer_calls``): a node one of them reached
by an inferred press counts as entered for the others (elimination across calls),
and two of them at one new node agree, until nothing changes.

It never invents a press where nothing moved: a prompt heard already in this visit
(a timeout replay, "to hear these options again"), the current node's own prompt
going on (as other calls heard it), an option's key said after a pause that
followed its label, or speech after hold music is not a new node.
An inferred press is accepted, carries ``inferred: true``, its rule, score, the
matched text or call and a ``confidence`` below a heard press's; its time is a guess
(the end of the prompt it stopped), so it is not listen-timing evidence.

Language knowledge: none. The rules compare words with fuzzy similarity
(``textsim`` / rapidfuzz); option labels, node kinds (``agent``: a hand-off) and
refusals come from discovery's grammars.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace

from rapidfuzz import fuzz

from . import textsim
from .model import DTMF_KEYS, NAV_ROLES, keypad_rank, RESUME_GAP_S, Option, Press, Timeline, Via, Visit

#: Seconds of the new prompt compared with what other calls heard (the opening of a
#: node: a sentence or two; navigate compares the greeting the same way).
COMPARE_S = 3.0
#: Fewer normalised characters than this after a boundary are too little to name a
#: prompt by ("please hold").
MIN_CHARS = 12
#: partial_ratio (0-100) at or above which two openings are the same words: the
#: recognizer hears a synthetic voice differently call to call, not that differently
#: (navigate.SAME_WORDS_RATIO, the same judgement).
SAME_WORDS_RATIO = 75.0
#: The best known node must beat the current node's own prompt (as other calls heard
#: it) by this much: a new sentence of the same menu can share stock words.
MARGIN = 10.0
#: ...and beat the best node under another key by this much (two children opening
#: with the same stock phrase, "please hold", name neither).
KEY_MARGIN = 5.0
#: After a menu waited for a key (a pause of DONE_GAP_S), an opening this alike will
#: do when it beats every other key's by LOOSE_KEY_MARGIN.
LOOSE_WORDS_RATIO = 60.0
LOOSE_KEY_MARGIN = 15.0
#: Fewer normalised characters than this after the words two openings share: too
#: little of its own to tell one node by.
MIN_DISTINCT_CHARS = 4
#: The old prompt's last words the recognizer may glue to the new prompt's opening,
#: and how much better the opening must match without them to move the boundary.
GLUED_WORDS = 2
GLUED_GAIN = 10.0
#: Fewer different words than this (digits aside) name no node.
MIN_OPENING_WORDS = 2
#: Passes over a company's toneless calls, each learning from the others' presses
#: (a chain of eliminations rarely needs more than two).
MAX_PASSES = 4
#: Words of the new prompt an option's label is looked for in (the echo opens it).
ECHO_WORDS = 6
#: partial_ratio of label and opening for an echo (a label is short: stricter).
ECHO_RATIO = 85.0
#: Words of its own a new prompt may say before the label it echoes ("please hold
#: for | technical support"): a hand-off names its destination after a stock phrase.
ECHO_SKIP_WORDS = 3
#: An option announced this soon after a boundary makes the sentence there an
#: announcement of the same menu ("for billing disputes, press 3" after "billing").
ANNOUNCE_AT_S = 0.3
#: Content words of a label (shorter ones are "for", "your", "the"), looked for in the
#: first OVERLAP_WORDS words of the new prompt when several keys are left.
CONTENT_WORD_CHARS = 5
OVERLAP_WORDS = 15
#: fuzz.ratio of two words at or above which they are one word heard twice ("card" /
#: "cards" 89, "billing" / "bill" 73 is not).
SAME_WORD_RATIO = 85.0
#: Scores of the two rules that match no text of their own.
UNKNOWN_CHILD_SCORE = 80.0
LABEL_WORDS_SCORE = 70.0
#: Confidence of an inferred press per unit of score: a heard press is 1; an inferred
#: one is at most these (the known-node rule rests on other calls' heard keys; the
#: others on this call's words and the menu's options only).
CONFIDENCE = {"known": 0.8, "echo": 0.7, "unknown-child": 0.6, "label-words": 0.5}
#: The new prompt's start as the far end's speech regions place it may come this much
#: before its true onset (a region's padding, a codec's smeared onset: a phone call's
#: prompt started 30 ms before the key that started it), so the window a press is
#: said to lie in ends this much after it (discovery.asr.WORD_SLACK_S, the same slack).
ONSET_SLACK_S = 0.15
#: A node's prompt counts as heard to its end when the call was still there this long
#: after its last word (build.OPTIONS_DONE_GAP_S: the menu finished and waited); a
#: pause this long before a new prompt is the menu waiting for a key.
DONE_GAP_S = 1.0


@dataclass(frozen=True)
class Arrival:
    """A node some call reached by a heard key: its path, the key, how its prompt
    opened, its kind and entry token, and the call."""
    path: tuple[str, ...]
    opening: str
    kind: str | None
    entry: str | None
    file: str
    #: reached by a press inferred in another toneless call (not a heard key)
    inferred: bool = False
    #: the rule that inferred it (``inferred`` arrivals only)
    rule: str | None = None


@dataclass
class Catalog:
    """The nodes the company's calls with heard keys entered, by parent path."""
    children: dict[tuple, list[Arrival]] = field(default_factory=dict)
    #: node paths some call heard to the end of their prompt
    complete: dict[tuple, bool] = field(default_factory=dict)

    def add(self, a: Arrival) -> None:
        # a short opening ("please hold") names no node, but its key was entered
        self.children.setdefault(a.path[:-1], []).append(a)

    def named(self, parent: tuple) -> list[Arrival]:
        """The arrivals under ``parent`` whose opening is long enough to name a node by."""
        return [a for a in self.children.get(parent, []) if len(a.opening) >= MIN_CHARS]

    def with_arrivals(self, extra) -> "Catalog":
        """A copy with ``extra`` arrivals added (other toneless calls' inferred ones)."""
        c = Catalog({k: list(v) for k, v in self.children.items()}, dict(self.complete))
        for a in extra:
            c.add(a)
        return c

    def not_eliminated(self) -> "Catalog":
        """A copy without the arrivals other toneless calls reached by elimination
        (``unknown-child``): for another call's elimination they are no evidence of
        their own (the same reasoning on the same heard keys), and a second toneless
        call at that node, heard differently, would leave no key at all."""
        return Catalog({k: [a for a in v if a.rule != "unknown-child"] for k, v in self.children.items()},
                       dict(self.complete))

    def kind(self, path: tuple) -> tuple[str | None, str | None]:
        """(kind, entry) most arrivals at ``path`` heard."""
        arr = [a for a in self.children.get(path[:-1], []) if a.path == path]
        kinds = Counter(a.kind for a in arr if a.kind)
        entries = Counter(a.entry for a in arr if a.entry)
        return (kinds.most_common(1)[0][0] if kinds else None), (entries.most_common(1)[0][0] if entries else None)


def words_of(tl: Timeline) -> list[tuple[float, float, str]]:
    """(start, end, word) of every word the call heard, by time."""
    out = []
    for e in tl.events:
        if e.type == "speech" and e.words:
            out += [(float(w.start), float(w.end), w.word) for w in e.words]
    return sorted(out)


def _text(words, a: float, b: float) -> str:
    return textsim.normalize(" ".join(w for s, _, w in words if a <= s < b))


def opening_text(words, a: float, b: float) -> str:
    """How a prompt starting at ``a`` opens (its words up to ``b``), digits it opens
    with left out: a prompt opens with words; a digit first is the key of the prompt
    before ("press 3 | please hold") that the recognizer timed into the new speech
    ("3 please vote": counted as a name, it matched "please go for a billing")."""
    ws = _text(words, a, b).split()
    while ws and ws[0].isdigit():
        ws.pop(0)
    return " ".join(ws)


def toneless(tl: Timeline) -> bool:
    """A call with speech and not one key tone (nor a listed key) in it."""
    return not any(e.type == "dtmf" for e in tl.events) and any(e.type == "speech" for e in tl.events)


def add_call(cat: Catalog, tl: Timeline, steps) -> None:
    """The nodes one decided call (``navigate.Decided``'s timeline and steps) entered
    by a heard key: first arrivals only (a revisit's prompt skips its greeting)."""
    words = words_of(tl)
    first, far = first_words(tl), _far_end(tl)
    for v, s in zip(tl.menus, steps):
        if s.mode == "rest":
            continue
        t0, t1 = float(v.start or 0.0), float(v.end or 0.0)
        stop = max((e for st, e, *_ in far if e <= t0), default=None)
        t0 = t0 if stop is None else first_word_start(first, stop, t0)  # as boundaries() reads it
        last = max((e for st, e, _ in words if t0 <= st < t1), default=None)
        if s.first and last is not None and t1 - last >= DONE_GAP_S:
            cat.complete[tuple(s.path)] = True
        if s.mode == "enter" and s.path and v.via is not None and v.via.time is not None:
            cat.add(Arrival(tuple(s.path), opening_text(words, t0, min(t1, t0 + COMPARE_S)), v.kind, v.entry,
                            tl.file or "call"))


# -- boundaries: the far end stopped, then something else started ------------------------


@dataclass(frozen=True)
class Boundary:
    """A speech start after a pause: ``t`` file time, ``stop`` the end of the far-end
    audio before it, ``upto`` the end of its opening (the next pause at least as long
    as this one: sentences of one prompt are closer together than a transition),
    ``after_music``: music played in between (a hold, not a press), ``refusal``: the
    speech opens with the platform refusing a key (discovery's ``refusal`` mark)."""
    t: float
    stop: float
    upto: float
    after_music: bool
    refusal: bool = False


def _far_end(tl: Timeline) -> list[tuple[float, float, str, bool]]:
    """(start, end, type, refusal) of the far end's speech and music, by time."""
    return sorted((float(e.start), float(e.end), e.type, bool(e.extra.get("refusal"))) for e in tl.events
                  if e.type in ("speech", "music") and e.start is not None and e.end is not None)


def first_words(tl: Timeline) -> dict[float, float]:
    """Start of each speech region -> start of its first word (as the recognizer timed it)."""
    return {float(e.start): float(e.words[0].start) for e in tl.events
            if e.type == "speech" and e.start is not None and e.words}


def first_word_start(first: dict[float, float], stop: float, s: float) -> float:
    """Where the speech region starting at ``s`` after far-end audio that stopped at
    ``stop`` begins: the recognizer may time its first word before the region
    ("Please" 0.2 s early through a codec); it starts there when that word starts
    nearer to the region than to the audio before it. ``first``: ``first_words``."""
    w = next((x for r, x in first.items() if abs(r - s) < 1e-3), None)
    return w if w is not None and (stop + s) / 2 < w < s else s


def boundaries(tl: Timeline, start: float, end: float) -> list[Boundary]:
    """Speech starting inside (start, end) at least RESUME_GAP_S after the far end's
    audio before it (a prompt resuming sooner is the same prompt going on)."""
    gaps, last_end, music = [], None, False  # (start, gap before, stop, music in the gap, ...)
    for s, e, kind, refusal in _far_end(tl):
        if last_end is not None and s > last_end:
            gaps.append((s, s - last_end, last_end, music, kind, refusal))
            music = False
        music = music or kind == "music"
        last_end = e if last_end is None else max(last_end, e)
    out, first = [], first_words(tl)
    for i, (s, gap, stop, music, kind, refusal) in enumerate(gaps):
        if kind != "speech" or gap < RESUME_GAP_S or not start < s < end:
            continue
        upto = next((s2 for s2, g2, *_ in gaps[i + 1:] if g2 >= gap), end)
        t = first_word_start(first, stop, s)
        out.append(Boundary(t, stop, min(upto, t + COMPARE_S), music, refusal))
    return out


# -- the rules ------------------------------------------------------------------------


def opening_similarity(a: str, b: str) -> float:
    """How alike two prompt openings are (0-100): both start at a prompt's start, so
    they are compared from their first words on, over the shorter's length (a
    sentence of the menu going on that merely contains the words scores low)."""
    n = min(len(a), len(b))
    return float(fuzz.ratio(a[:n], b[:n])) if n else 0.0


def heard_in(text: str, prompts) -> bool:
    """``text`` is part of one of ``prompts`` (the same words, recognizer slips allowed)."""
    return any(p and fuzz.partial_ratio(text, textsim.normalize(p)) >= textsim.SAME_PROMPT_RATIO for p in prompts)


def distinct_similarity(a: str, b: str) -> float:
    """How alike two openings are after the words they open with in common (0-100):
    "please hold for the pharmacy" and "please hold for a bill" share a stock phrase
    and nothing else (the rests score low); "the pile and you claim" and "the file
    and you claim" are one prompt heard twice. Identical openings, or ones sharing
    their first MIN_SUBSTRING_CHARS (enough to name a prompt, as textsim holds) score
    100; a rest too short to tell by (one opening all inside the other's start) 0."""
    wa, wb = a.split(), b.split()
    n = 0
    while n < min(len(wa), len(wb)) and wa[n] == wb[n]:
        n += 1
    ra, rb = " ".join(wa[n:]), " ".join(wb[n:])
    if (not ra and not rb) or len(" ".join(wa[:n])) >= textsim.MIN_SUBSTRING_CHARS:
        return 100.0  # the same words, or a shared opening long enough to name a prompt
    if min(len(ra), len(rb)) < MIN_DISTINCT_CHARS:
        return 0.0
    return float(fuzz.partial_ratio(ra, rb))


def names_something(opening: str) -> bool:
    """Two different words at least besides the keys' digits: "press 2 press 1 press
    2", a menu's announcing word heard over and over, names no node."""
    return len({w for w in opening.split() if not w.isdigit()}) >= MIN_OPENING_WORDS


def by_known(opening: str, cur: tuple, cat: Catalog, waited: bool = False) -> dict | None:
    """The known-node rule: the child of ``cur`` whose opening (in other calls) this
    opening matches, clearly better than any child under another key, also in the
    words after a shared stock opening (``distinct_similarity``: "please hold for the
    pharmacy" is not "please hold for a bill"). After a pause of a
    menu waiting for a key (``waited``) a looser match will do, when it stands out
    more (the recognizer garbles a synthetic voice: "i ll proclaim press 1" for
    "file a new claim, press 1"). Both openings must name something
    (``names_something``)."""
    best: dict[str, tuple[float, Arrival]] = {}
    for a in cat.named(cur):
        sc = min(opening_similarity(opening, a.opening), distinct_similarity(opening, a.opening))
        k = a.path[-1]
        if k not in best or sc > best[k][0]:
            best[k] = (sc, a)
    if not best:
        return None
    ranked = sorted(best.items(), key=lambda kv: -kv[1][0])
    key, (score, arr) = ranked[0]
    second = ranked[1][1][0] if len(ranked) > 1 else 0.0
    strict = score >= SAME_WORDS_RATIO and score >= second + KEY_MARGIN
    loose = waited and not arr.inferred and score >= LOOSE_WORDS_RATIO and score >= second + LOOSE_KEY_MARGIN
    if not (strict or loose) or not names_something(opening) or not names_something(arr.opening):
        return None
    return {"rule": "known", "key": key, "score": round(score, 1), "matched": arr.opening, "call": arr.file,
            **({"via_inferred": True} if arr.inferred else {})}


def shared_start(a: str, b: str) -> list[str]:
    """The words two openings start with in common."""
    wa, wb = a.split(), b.split()
    n = 0
    while n < min(len(wa), len(wb)) and wa[n] == wb[n]:
        n += 1
    return wa[:n]


def stock(start: list[str], arr: Arrival, cat: Catalog) -> bool:
    """``start``, the words a new opening shares with ``arr``'s, is a stock phrase
    ("please hold for"), not one prompt's own: ``arr``'s node is a hand-off (kind
    ``agent``: discovery's grammar knows the phrases hand-offs open with), or the
    prompts of two nodes or more the company's calls entered open with it."""
    if cat.kind(arr.path)[0] == "agent":
        return True
    paths = {a.path for arrs in cat.children.values() for a in arrs if a.opening.split()[:len(start)] == start}
    return len(paths) >= 2


def novel(opening: str, cur: tuple, cat: Catalog) -> bool:
    """The opening is like none of the children of ``cur`` other calls entered, not
    even loosely in the words after a shared stock phrase ("please pull for a license
    agent" is not "please hold for broker services"), nor inside one ("hold for sale",
    its first word lost, is "please hold for sale"), nor opening with the same words,
    no stock phrase (``stock``), and loosely alike ("so here we are balanced" and "so
    here we are battling press 1", "please keep in your eyes" and "please keep your
    id": one prompt the recognizer heard differently; the words after a start that
    is no stock phrase need not be alike): a node they did not reach."""
    def alike(a: Arrival) -> bool:
        start = shared_start(opening, a.opening)
        same_start = bool(start) and not stock(start, a, cat)
        return opening_similarity(opening, a.opening) >= LOOSE_WORDS_RATIO and (
            same_start or distinct_similarity(opening, a.opening) >= LOOSE_WORDS_RATIO) \
            or fuzz.partial_ratio(opening, a.opening) >= textsim.SAME_PROMPT_RATIO  # "hold for sale"
    return not any(alike(a) for a in cat.named(cur))


def _head(words, t: float, n: int) -> str:
    return " ".join(" ".join(textsim.normalize(w) for s, _, w in words if s >= t - 1e-3).split()[:n])


def _compared_end(words, b: Boundary) -> float:
    """End of the last word of the stretch compared at boundary ``b`` (``b.t`` if none)."""
    return max((e for s, e, _ in words if b.t - 1e-3 <= s < b.upto), default=b.t)


def echo_score(label: str, head: str, menu_words: set | frozenset = frozenset()) -> tuple[float, str]:
    """How well ``head`` (the new prompt's first words) opens with ``label`` or with
    its last words ("report gas leaks" -> "gas leaks, leave the building"), 0-100,
    and the label's words it echoes: compared from a word's first character, over
    the label part's length; the last words only from a word the new prompt opens
    with (SAME_WORD_RATIO: the recognizer's "three members" is no echo of a label's
    "... these members", alike in their letters, another word), and holding half the
    label's content words at least ("balance" names "your balance"; "remember" does
    not name "among the users we want to remember"). The whole label may come after
    at most ECHO_SKIP_WORDS words when one of them is no word of the menu's prompt
    (``menu_words``): "please hold for | technical support" is a new sentence naming
    its destination; "press 9 for | billing" the menu going on."""
    words, hw, best = label.split(), head.split(), (0.0, "")
    for j in range(min(ECHO_SKIP_WORDS, max(len(hw) - 1, 0)) + 1):
        if j and set(hw[:j]) <= menu_words:
            continue
        at = " ".join(hw[j:])
        for i in range(len(words) if j == 0 else 1):
            part = " ".join(words[i:])
            if len(part) < textsim.MIN_LABEL_CHARS:
                break
            if i and (not hw or fuzz.ratio(words[i], hw[j]) < SAME_WORD_RATIO):
                continue  # a tail echoed starts at its own first word: "three members" is not "these members"
            if i and 2 * len(_label_words(part)) < len(_label_words(label)):
                continue  # "remember" says too little of "among the users we want to remember"
            best = max(best, (float(fuzz.ratio(part, at[:len(part)])), part))
    return best


def by_echo(words, b: Boundary, options: list[Option], offered: dict[str, set] | None = None,
            mentions: list[Option] | None = None, own=()) -> dict | None:
    """The echo rule: the new prompt opens with (or soon says) an option's label, and
    is not itself an announcement of this menu. The labels: the options this call
    heard before the new prompt, and ``offered`` (key -> labels, other calls' among
    them: a menu cut short before the key names the option other calls heard; given
    after a transition's pause only, as a sentence of the menu going on follows
    closer and may say a label this call had not heard yet).
    An option announced in those words (``mentions``: every option the visit heard,
    a replay's included) is the menu going on; ``own``: the node's prompt as this call
    and others heard it (``echo_score``). Two keys' labels echoed alike name neither."""
    head = _head(words, b.t, ECHO_WORDS)
    menu_words = {w for p in own for w in textsim.normalize(p).split()}
    end = _compared_end(words, b)
    announced = [textsim.normalize(o.label) for o in (mentions or options)
                 if o.start is not None and b.t - ANNOUNCE_AT_S <= float(o.start) <= end]
    labels = [(o.key, o.label) for o in options if (o.role or "option") == "option" and o.key
              and o.end is not None and float(o.end) <= b.t]  # said before the new prompt
    labels += [(k, lab) for k, labs in (offered or {}).items() for lab in sorted(labs)]
    by_key: dict[str, tuple[float, str]] = {}
    for key, label in labels:
        lab = textsim.normalize(label)
        if len(lab) < textsim.MIN_LABEL_CHARS or any(lab in a for a in announced):
            continue  # "for billing disputes, press 3": the menu going on
        sc, part = echo_score(lab, head, menu_words)
        if any(fuzz.partial_ratio(part, a) >= ECHO_RATIO for a in announced):
            continue  # "so cancel an appointment, press 2": its words are another option's
        if sc >= ECHO_RATIO and sc > by_key.get(key, (0.0, ""))[0]:
            by_key[key] = (sc, label)
    if not by_key:
        return None
    ranked = sorted(by_key.items(), key=lambda kv: -kv[1][0])
    if len(ranked) > 1 and ranked[1][1][0] > ranked[0][1][0] - KEY_MARGIN:
        return None  # "card" in "lost card" and "card activation"
    key, (sc, label) = ranked[0]
    return {"rule": "echo", "key": key, "score": round(sc, 1), "matched": label}


def _label_words(label: str | None) -> set[str]:
    return {w for w in textsim.normalize(label).split() if len(w) >= CONTENT_WORD_CHARS}


def _without(text: str, words: set[str]) -> str:
    """``text`` without the words that are (recognizer slips allowed) one of ``words``."""
    return " ".join(w for w in text.split() if not any(fuzz.ratio(w, x) >= SAME_WORD_RATIO for x in words))


def _label_hits(left: dict[str, set], offered: dict[str, set], head: list[str]) -> dict[str, list[str]]:
    """Per key of ``left``, the content words of its labels the new prompt's ``head``
    says (recognizer slips allowed: "card" / "cards"), counting only words no other
    offered key's label has (a word two options share names neither)."""
    words = {k: _label_words(" ".join(labs)) for k, labs in offered.items()}
    hits = {}
    for k in left:
        own = {w for w in words.get(k, ()) if not any(
            fuzz.ratio(w, x) >= SAME_WORD_RATIO for j, ws in words.items() if j != k for x in ws)}
        got = sorted(w for w in own if any(fuzz.ratio(w, h) >= SAME_WORD_RATIO for h in head))
        if got:
            hits[k] = got
    return hits


@dataclass(frozen=True)
class Heard:
    """What this call heard of the node it is at, up to a boundary: the keys said
    whole, ``through`` (a pause of DONE_GAP_S at least, the menu waiting for a key,
    where the pauses between a prompt's sentences are shorter; or the menu replayed
    in this call, so its first hearing holds all of it), ``waited`` (a transition's
    pause with no unplaced new words before it in this visit), ``strays`` (an option
    at a key the node, known whole, does not offer: the call had moved unseen), the
    keys other calls heard offered here, and the node's prompt as this call and the
    others heard it."""
    said: frozenset
    through: bool
    waited: bool
    strays: bool
    known_keys: frozenset
    own: tuple


def _menu_done(h: Heard, offered: dict[str, set], cur: tuple, cat: Catalog, opening: str) -> bool:
    """The menu was over when the new words came: its prompt is known whole (some call
    heard it to its end, or this call heard every key it offers, keys other calls
    heard here among them, and was through), this call heard every key (or pressed
    early: a transition's pause and an opening of 2 * MIN_CHARS), and it is not
    elsewhere already."""
    said_all = set(offered) <= h.said
    whole = cat.complete.get(cur) or (bool(h.known_keys) and said_all and h.through)
    early = h.waited and len(opening) >= 2 * MIN_CHARS
    return bool(offered) and h.through and bool(whole) and (said_all or early) and not h.strays


def _announces_again(words, b: Boundary, mentions: list[Option], offered: dict[str, set], since: float) -> bool:
    """The new words announce an option of this menu again: a key it offers, with a
    label like the one this call or others heard for that key ("the reports at water
    main grade, press 1" after "the report and water main break, press 1": the menu
    replayed after a refusal, heard differently). No new node for elimination (a new
    node the other rules name has words of its own)."""
    end = _compared_end(words, b)
    heard = {}
    for o in mentions:
        if o.key and o.label and o.start is not None and since - 0.05 <= float(o.start) < b.t - ANNOUNCE_AT_S:
            heard.setdefault(o.key, set()).add(o.label)
    return any(o.key in offered and o.label and b.t - ANNOUNCE_AT_S <= float(o.start) <= end
               and any(textsim.compatible_labels(o.label, lab) for lab in offered[o.key] | heard.get(o.key, set()))
               for o in mentions if o.start is not None and (o.role or "option") == "option")


def by_elimination(words, b: Boundary, cur: tuple, offered: dict[str, set], h: Heard, cat: Catalog,
                   opening: str) -> dict | None:
    """The unknown-child rule: a new node started that is none of the children other
    calls entered, so it is the child of the one offered key nobody entered; of
    several such keys, the one whose label's own words the new prompt says. When
    that leaves several keys (or none) the press is not named: an ``ambiguous``
    result with the candidates, which places nothing.

    "A new node" needs more than for the other rules, which match words of their own:
    the menu was over (``_menu_done``), and the new words are not even loosely like
    the node's prompt as this call or the others heard it (but for the words of the
    unentered keys' labels, which the prompt says and the new node may echo), nor
    like any child other calls entered."""
    cat = cat.not_eliminated()
    if not _menu_done(h, offered, cur, cat, opening) or not novel(opening, cur, cat):
        return None
    entered = {a.path[-1] for a in cat.children.get(cur, [])}
    left = {k: labs for k, labs in offered.items() if k not in entered}
    # the node's prompt names the options, so a new prompt echoing one ("please hold
    # for technical support") is like it in those words only: they are left out
    rest = _without(opening, _label_words(" ".join(lab for labs in left.values() for lab in labs)))
    if any(p and fuzz.partial_ratio(rest, textsim.normalize(p)) >= SAME_WORDS_RATIO for p in h.own):
        return None
    head = _head(words, b.t, OVERLAP_WORDS).split()
    # the new words say an entered key's own label words ("billing"): that key's node
    # heard differently, may be, as well as an unentered one's
    said_entered = _label_hits({k: labs for k, labs in offered.items() if k in entered}, offered, head)
    if said_entered:
        return {"rule": "ambiguous", "candidates": sorted(set(left) | set(said_entered), key=keypad_rank)}
    if len(left) == 1:
        (key, labs), = left.items()
        return {"rule": "unknown-child", "key": key, "score": UNKNOWN_CHILD_SCORE,
                "matched": sorted(labs)[0] if labs else None}
    hits = _label_hits(left, offered, head)
    if len(hits) != 1:
        return {"rule": "ambiguous", "candidates": sorted(hits or left, key=keypad_rank)}
    (key, shared), = hits.items()
    return {"rule": "label-words", "key": key, "score": LABEL_WORDS_SCORE, "matched": " ".join(shared)}


# -- one call: the visit cut where a key was taken -------------------------------------


@dataclass(frozen=True)
class Cut:
    """A press inferred at a boundary: the key, the file time of the stop (the press's
    guessed time), the next prompt's start, and the rule's evidence. ``key`` None: a
    new node started but no key can be named (``evidence["candidates"]``); the call
    is placed no further."""
    key: str | None
    stop: float
    start: float
    evidence: dict
    #: the node it led to and how its prompt opened (for the other toneless calls)
    path: tuple = ()
    opening: str = ""


def _offered(cur: tuple, opts: list[Option], before: float, known) -> dict[str, set]:
    """Keys the node offers (this call before ``before``, and other calls) with their
    labels; back / repeat options lead to nodes already known, so they are left out."""
    out: dict[str, set] = {k: set(labs) for k, labs in known.options.get(cur, {}).items()}
    for o in opts:
        if o.key and (o.role or "option") == "option" and o.end is not None and float(o.end) <= before:
            out.setdefault(o.key, set()).update({o.label} if o.label else set())
    nav = {o.key for o in opts if o.role in NAV_ROLES} | {k for (p, k) in known.nav_roles if p == cur}
    return {k: labs for k, labs in out.items() if k not in nav and k in DTMF_KEYS}


def _strays(cur: tuple, opts: list[Option], before: float, known, whole: bool) -> bool:
    """This call heard an option here (before ``before``) at a key the node, as other
    calls heard it, does not offer ("press 5 for ..." where the menu has 1-3): it is
    elsewhere already (``whole``: some call heard the node's prompt to its end).
    Labels are not compared: the recognizer garbles them. At the root, an option
    leading back ("press star to return to the main menu") no call heard there says
    so too, the prompt heard whole or not: the root has nowhere to go back to."""
    root_nav = {k for (p, k) in known.nav_roles if p == cur}
    if not cur and any(o.role == "back" and o.key not in root_nav and o.end is not None and float(o.end) <= before
                       for o in opts):
        return True
    mine = known.options.get(cur)
    if not mine or not whole:  # what other calls heard of a menu they cut short is not all it offers
        return False
    nav = {k for (p, k) in known.nav_roles if p == cur}
    for o in opts:
        if not o.key or o.end is None or float(o.end) > before or o.key in nav or o.role in NAV_ROLES:
            continue
        if o.key not in mine:
            return True
    return False


def _said(opts: list[Option], before: float) -> set:
    """Keys this call heard offered (said whole) before ``before``."""
    return {o.key for o in opts if o.key and o.end is not None and float(o.end) <= before}


def heard_past_labels(text: str, prompts, labels) -> bool:
    """``heard_in``, the words of the menu's option ``labels`` aside: a new prompt
    naming its option ("please hold for technical support") is in the menu's prompt
    by the label only ("... for technical support, press 1"); a replay ("for billing
    press 1 for ...") is in it past the labels too. All label: ``heard_in``."""
    lw = _label_words(" ".join(labels))
    rest = _without(text, lw)
    if rest == text or len(rest) < MIN_DISTINCT_CHARS:
        return heard_in(text, prompts)
    return heard_in(rest, [_without(textsim.normalize(p), lw) for p in prompts if p])


def _nothing_moved(words, b: Boundary, opening: str, since: float, own: list[str], labels=(),
                   mentions=()) -> bool:
    """The far end went on at the same node: hold music before it, too few words to
    tell, words heard already in this visit (a replay), the node's own prompt as other
    calls heard it (``labels``' words aside: ``heard_past_labels``), the platform
    refusing a key (the menu then starts over), or the key of an option of
    ``mentions`` whose label came before the pause (``_key_after_pause``)."""
    return b.after_music or len(opening) < MIN_CHARS or b.refusal \
        or heard_past_labels(opening, [_text(words, since, b.t)] + list(own), labels) \
        or _key_after_pause(words, b, mentions)


def _key_after_pause(words, b: Boundary, mentions) -> bool:
    """An option's label was said before the pause at ``b`` and only its key after,
    then a pause ("for payment arrangements, | press 2."): the sentence ends there.
    (The other order, "press 3 | for your security", and a key said on without a
    pause, "to establish a sales partner, | press 1. to record your ...", are no
    such sign: the option's other half may be the new prompt's words.)"""
    for o in mentions:
        if o.start is None or o.end is None or not float(o.start) < b.stop < b.t < float(o.end):
            continue
        lab, end = textsim.normalize(o.label), float(o.end)
        if lab and lab in _text(words, float(o.start) - 0.05, b.stop) \
                and not any(end <= s < end + RESUME_GAP_S for s, _, _ in words):
            return True
    return False


def _opening_at(words, b: Boundary) -> str:
    """The new prompt's opening at ``b``: up to the next pause as long, or on for
    COMPARE_S when that is too short to tell (a word, then a pause: "each ... path in
    your")."""
    opening = opening_text(words, b.t, b.upto)
    return opening if len(opening) >= MIN_CHARS else opening_text(words, b.t, b.t + COMPARE_S)


def find_cuts(tl: Timeline, cat: Catalog, known, trace: list | None = None) -> list[Cut]:
    """Where the one visit of a toneless call changed node, walking down from its
    path; ``known``: what the calls merged before heard (``navigate.Known``);
    ``trace``: a list that gets every boundary looked at, with what was decided."""
    v = tl.menus[0]
    words, mentions = words_of(tl), option_mentions(v)
    cur, since, cuts, replayed, unexplained = tuple(v.path), float(v.start or 0.0), [], False, 0
    pending = None  # a new node with no key left: the next words the rules read may name one
    for b in boundaries(tl, since, float(v.end or tl.duration or 0.0)):
        opening = _opening_at(words, b)
        if len(opening) >= MIN_CHARS and heard_in(opening, [_text(words, since, b.t)]):
            replayed = True  # this call heard the node's prompt whole once already
        opts = _first_mentions([o for o in mentions if o.start is not None and float(o.start) >= since - 0.05])
        offered = _offered(cur, opts, b.t, known)
        if _nothing_moved(words, b, opening, since, known.prompts.get(cur, []),
                          [lab for labs in offered.values() for lab in labs], mentions):
            if trace is not None:
                trace.append({"t": b.t, "cur": cur, "opening": opening, "decided": "nothing moved"})
            continue
        paused = b.t - b.stop >= DONE_GAP_S
        h = Heard(frozenset(_said(opts, b.t)), paused or replayed, paused and not unexplained,
                  _strays(cur, opts, b.t, known, bool(cat.complete.get(cur))), frozenset(known.options.get(cur, {})),
                  tuple(known.prompts.get(cur, [])) + (_text(words, since, b.t),))
        # after a pause (the menu stopped), the labels other calls heard here count too
        ev = by_known(opening, cur, cat, paused) or by_echo(words, b, opts, offered if paused else None,
                                                            mentions, h.own) \
            or (None if _announces_again(words, b, mentions, offered, since)
                else by_elimination(words, b, cur, offered, h, cat, opening))
        if trace is not None:
            trace.append({"t": b.t, "cur": cur, "opening": opening, "decided": ev,
                          "offered": sorted(offered), "said": sorted(_said(opts, b.t))})
        if pending is not None and (ev is None or ev["rule"] == "ambiguous"):
            break
        if ev is None:
            # new words after a transition's pause that no rule placed: the call may have
            # moved unseen (a shorter pause is the prompt's own sentences going on)
            unexplained += paused
            continue
        if ev["rule"] == "known":
            b = _glued_start(words, b, ev)
            ev = _stock_hand_off(ev, cur, offered, cat)
        ev["window"] = [round(b.stop, 3), round(b.t + ONSET_SLACK_S, 3)]
        if ev["rule"] == "ambiguous":  # something moved; where to is not known
            pending = Cut(None, b.stop, b.t, ev, cur, opening)
            if ev["candidates"]:
                break
            continue  # no key left at all: a fragment of the old prompt, may be ("for an ...")
        ev["confidence"] = round(CONFIDENCE[ev["rule"]] * ev["score"] / 100.0, 2)
        key = ev.pop("key")
        cuts.append(Cut(key, b.stop, b.t, ev, cur + (key,), opening))
        cur, since, replayed, unexplained, pending = cur + (key,), b.t, False, 0, None
    return cuts + ([pending] if pending is not None else [])


def _stock_hand_off(ev: dict, cur: tuple, offered: dict[str, set], cat: Catalog) -> dict:
    """A known match to a hand-off (kind ``agent``) whose prompt names nothing of its
    option ("please hold while we try to connect you" after "customer advocate")
    names no key while the menu offers keys nobody entered: platforms play one stock
    hand-off for several keys (an operator, an advocate), so any of them may have
    led there. The press is then flagged ``ambiguous`` with those keys."""
    key = ev["key"]
    kind, _ = cat.kind(cur + (key,))
    if kind != "agent":
        return ev
    said = set(textsim.normalize(ev["matched"]).split())
    if any(fuzz.ratio(w, x) >= SAME_WORD_RATIO for w in _label_words(" ".join(offered.get(key, ()))) for x in said):
        return ev  # "please hold for technical support": it names its option
    entered = {a.path[-1] for a in cat.children.get(cur, [])}
    others = [k for k in offered if k not in entered and k != key]
    if not others:
        return ev
    return {"rule": "ambiguous", "candidates": sorted([key] + others, key=keypad_rank),
            "matched": ev["matched"], "call": ev["call"]}


def _glued_start(words, b: Boundary, ev: dict) -> Boundary:
    """The boundary moved past the old prompt's last words when the recognizer heard
    them glued to the new prompt ("to please hold for sale": "to" ends the menu): the
    new node starts at the first word, after a pause of RESUME_GAP_S, from which its
    opening matches the known one clearly better (by GLUED_GAIN), at most GLUED_WORDS
    words in."""
    ws = [(s, e, textsim.normalize(w)) for s, e, w in words if b.t - 1e-3 <= s < b.upto]
    ws = [x for x in ws if x[2]]
    best, at = float(ev["score"]), 0
    for k in range(1, min(GLUED_WORDS, len(ws) - 1) + 1):
        sc = opening_similarity(" ".join(w for _, _, w in ws[k:]), ev["matched"])
        if sc >= best + GLUED_GAIN and ws[k][0] - ws[k - 1][1] >= RESUME_GAP_S:  # a pause between them
            best, at = sc, k
    if not at:
        return b
    return replace(b, t=ws[at][0], stop=ws[at - 1][1])


def arrivals(tl: Timeline, cuts: list[Cut]) -> list[Arrival]:
    """The nodes a toneless call's inferred presses led to, as other calls see them."""
    return [Arrival(c.path, c.opening, None, None, tl.file or "call", inferred=True, rule=c.evidence.get("rule"))
            for c in cuts if c.key is not None]


def infer_calls(tls: list[Timeline], cat: Catalog, known) -> list[Timeline]:
    """The toneless calls of a company read together: each call's presses are
    inferred against the calls with heard keys (``cat``) and the nodes the other
    toneless calls' inferred presses reached (one call's new node, named by its label
    words, leaves a single unentered key for the next; two calls at one new node
    agree), until nothing changes (at most MAX_PASSES). Calls with tones are returned
    unchanged."""
    todo = [i for i, t in enumerate(tls) if toneless(t) and len(t.menus) == 1]
    cuts: dict[int, list[Cut]] = {i: [] for i in todo}
    for _ in range(MAX_PASSES):
        new = {i: find_cuts(tls[i], cat.with_arrivals(
            a for j in todo if j != i for a in arrivals(tls[j], cuts[j])), known) for i in todo}
        if new == cuts:
            break
        cuts = new
    return [apply_cuts(t, cuts[i], cat) if i in cuts else t for i, t in enumerate(tls)]


def option_mentions(v: Visit) -> list[Option]:
    """Every option the visit's words offered, a key said again included (discovery
    writes ``option_mentions`` when there are more than ``options``)."""
    return [Option.from_json(d) for d in v.extra.get("option_mentions") or []] or list(v.options)


def _first_mentions(opts: list[Option]) -> list[Option]:
    """A key offered twice keeps its first mention (as discovery's parse does)."""
    seen: set = set()
    return [o for o in opts if not (o.key in seen or seen.add(o.key))]


def _piece(v: Visit, words, path: tuple, start: float, end: float, until: float, via: Via | None,
           cat: Catalog, out_press: Press | None, arrived: dict | None) -> Visit:
    """The part of visit ``v`` from ``start`` to ``end``, at ``path`` (``until``: where
    the next part's words start)."""
    # an option read across a cut ("press 3" + the next node's "for your security")
    # is the prompt cut short, not an option
    opts = tuple(_first_mentions([o for o in option_mentions(v) if o.start is not None
                                  and start - 0.05 <= float(o.start) < end
                                  and (o.end is None or float(o.end) <= until)]))
    kind, entry = cat.kind(path) if path else (None, None)
    if kind is None:
        kind = "menu" if opts or out_press is not None else (v.kind if v.kind != "menu" else "unknown")
    if out_press is not None and kind not in ("menu", "input"):
        kind = "menu"  # a key was taken here
    entry = entry or (v.entry if kind == "input" else None)
    first = min((float(o.start) for o in opts if (o.role or "option") == "option"), default=None)
    listen = v.listen_after if start == float(v.start or 0.0) else (
        None if first is None else round(first - start, 3))
    if listen is not None and listen > end - start:
        listen = None
    # the first part keeps what discovery said of the call's start (hours, ...); every
    # part keeps its language; a part's options are its own
    extra = {k: x for k, x in v.extra.items() if k != "option_mentions" and (k == "lang" or start == v.origin_s)}
    if arrived is not None:
        extra["inferred"] = arrived
    return Visit(path=path, kind=kind, start=round(start, 3), end=round(end, 3),
                 prompt=" ".join(w for s, _, w in words if start - 0.05 <= s < end).strip(),
                 listen_after=listen, listen_bounds=(None, None), options=opts,
                 entry=entry if kind == "input" else None, via=via,
                 presses=() if out_press is None else (out_press,), keyed=None, extra=extra)


def apply_cuts(tl: Timeline, cuts: list[Cut], cat: Catalog) -> Timeline:
    """The call with its one visit cut at ``cuts``: a visit per node, each reached
    by its inferred press (``Press.extra``: ``inferred``, ``rule``, ``confidence``).
    A last cut with no key (ambiguous) ends the last visit where its prompt stopped,
    with ``extra["unplaced"]``: the candidates; what the call heard after it belongs
    to a node that cannot be named, so it is left out."""
    if not cuts:
        return tl
    v, words = tl.menus[0], words_of(tl)
    amb = cuts[-1] if cuts[-1].key is None else None
    cuts = cuts[:-1] if amb is not None else cuts
    bounds = [float(v.start or 0.0)] + [c.start for c in cuts]
    ends = [c.stop for c in cuts] + [amb.stop if amb is not None else float(v.end or tl.duration or bounds[-1])]
    path, visits = tuple(v.path), []
    for i, (a, b) in enumerate(zip(bounds, ends)):
        out = cuts[i] if i < len(cuts) else None
        press = None if out is None else Press(out.key, round(out.stop, 3), round(out.stop, 3), True,
                                               extra={"inferred": True, **out.evidence})
        came = cuts[i - 1] if i > 0 else None
        via = None if came is None else Via(came.key, round(came.stop, 3), None)
        arrived = None if came is None else {"key": came.key, **came.evidence}
        until = cuts[i].start if out is not None else math.inf
        visits.append(_piece(v, words, path, a, b, until, via, cat, press, arrived))
        if out is not None:
            path = path + (out.key,)
    if amb is not None:
        visits[-1] = replace(visits[-1], extra={**visits[-1].extra, "unplaced": {
            "candidates": amb.evidence["candidates"], "window": amb.evidence["window"]}})
    return replace(tl, menus=tuple(visits))


def infer_call(tl: Timeline, cat: Catalog, known) -> Timeline:
    """A toneless call with the presses its IVR shows (unchanged otherwise);
    ``known``: ``navigate.Known`` of the calls merged before."""
    return infer_calls([tl], cat, known)[0]
