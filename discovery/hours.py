"""Opening hours said in a prompt -> OpenStreetMap ``opening_hours`` strings.

"Our offices are open Monday through Friday from eight a.m. to six p.m., and
Saturday from nine to noon" becomes ``Mo-Fr 08:00-18:00; Sa 09:00-12:00``. The
words are language data (``grammars/hours/<lang>.json``: day names, range words,
numbers, morning / evening words, "24 hours a day", closed / holiday words, time
zones); this module only tokenises with that data, pairs day groups with time
ranges in the order they were said, and writes the rules. Every string it returns
parses with ``opening_hours`` (opening-hours-py, a real parser of the OSM syntax);
one it would reject is never returned.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import opening_hours

GRAMMAR_PACKAGE = "ivrkit.discovery"
GRAMMAR_DIR = ("grammars", "hours")
#: Languages with an hours grammar, tried in this order when the prompt's is unknown.
LANGS = ("en", "es", "he")
#: Longest phrase (in words) a grammar lists.
MAX_PHRASE_WORDS = 10
#: A "closed" / "except" word applies to the day group that follows it within this
#: many words ("closed on Sundays"); further on it is another statement ("we are
#: currently closed. Our hours are Monday ...").
CLOSED_REACH_WORDS = 3
#: Minutes that follow an hour said in words ("eight thirty", "five forty five").
SPOKEN_MINUTES = frozenset({0, 15, 30, 45})
#: With no morning / evening word, a range starting at this hour or earlier starts in
#: the afternoon ("from 1 to 5"): no office opens at 1-5 a.m.
EARLIEST_UNMARKED_AM = 6

_RAW_TOKEN = re.compile(r"\d{1,2}:\d{2}|\d{1,2}\.\d{2}(?!\d)|\d+|[^\W\d_]+'?|[-–—,;.&]")


@dataclass(frozen=True)
class Tok:
    """One token of a prompt: ``kind`` from the grammar (day, num, range, ...)."""

    kind: str
    value: object
    start: int  # character offsets in the rewritten text
    end: int


@dataclass(frozen=True)
class Hours:
    """Opening hours found in a text: the OSM string, the time zone when said
    (IANA name), the grammar's language and the character span that said it.
    ``unpaired_days``: weekday groups the text named that got no hours (a misheard
    "Sunday through Thursday from 8 to 8" leaves "Su" with no time): the OSM string
    then says less than the prompt did."""

    osm: str
    tz: str | None
    lang: str
    start: int
    end: int
    unpaired_days: tuple[str, ...] = ()


@lru_cache(maxsize=None)
def grammar(lang: str) -> dict:
    """The hours grammar of ``lang`` (read once; the returned dict is shared, treat it
    as read-only). Raises FileNotFoundError for a language without one."""
    f = resources.files(GRAMMAR_PACKAGE).joinpath(*GRAMMAR_DIR, f"{lang}.json")
    g = json.loads(f.read_text(encoding="utf-8"))
    g["_phrases"] = _phrase_table(g)
    g["_rewrite"] = [(re.compile(p), r) for p, r in g.get("rewrite", [])]
    return g


def _phrase_table(g: dict) -> dict[tuple, tuple[str, object]]:
    """Word tuple -> (kind, value) for every phrase the grammar lists."""
    table: dict[tuple, tuple[str, object]] = {}

    def add(phrases, kind, value=None):
        for p in phrases:
            table.setdefault(tuple(_raw_words(p.lower())), (kind, value))

    for code, names in g["days"].items():
        add(names, "day", code)
    for sel, names in g.get("day_sets", {}).items():
        add(names, "dayset", sel)
    add(g.get("always", []), "always")
    add(g.get("all_day", []), "all_day")
    for kind in ("noon", "midnight", "am", "pm", "range", "between", "closed", "except"):
        add(g.get(kind, []), kind)
    for p in g.get("and", []):  # the word kept: "and" can start a new group, "," cannot
        add([p], "and", p)
    for tz, names in g.get("timezones", {}).items():
        add(names, "tz", tz)
    for table_name, kind in (("minute_suffix", "minsuffix"), ("minute_prefix", "minprefix"),
                             ("minute_words", "minword")):
        for p, m in g.get(table_name, {}).items():
            add([p], kind, int(m))
    for p, n in g.get("numbers", {}).items():
        add([p], "num", int(n))
    return table


def _raw_words(text: str) -> list[str]:
    return [m.group(0) for m in _RAW_TOKEN.finditer(text)]


def rewrite(text: str, g: dict) -> str:
    """Lower-case ``text`` and apply the grammar's spelling rewrites (a.m. -> am ...)."""
    t = " " + text.lower().replace("’", "'") + " "
    for rx, rep in g["_rewrite"]:
        t = rx.sub(rep, t)
    return t


def tokenize(text: str, g: dict) -> list[Tok]:
    """Typed tokens of an already rewritten text; words the grammar does not know
    become ``word`` tokens, sentence ends ``sent``."""
    raw = list(_RAW_TOKEN.finditer(text))
    words = [m.group(0) for m in raw]
    table, prefixes = g["_phrases"], sorted(g.get("prefixes", []), key=len, reverse=True)
    filler = set(g.get("filler", []))
    out: list[Tok] = []
    i = 0
    while i < len(raw):
        hit = _match_at(words, i, table, prefixes)
        if hit is not None:
            n, kind, value = hit
            out.append(Tok(kind, value, raw[i].start(), raw[i + n - 1].end()))
            i += n
            continue
        w = words[i]
        if w in filler:  # "from", "on", "de": says nothing about the hours
            i += 1
            continue
        if re.fullmatch(r"\d{1,2}[:.]\d{2}", w):
            h, m = re.split(r"[:.]", w)
            out.append(Tok("clock", (int(h), int(m)), raw[i].start(), raw[i].end()))
        elif w.isdigit():
            out.append(Tok("num", int(w), raw[i].start(), raw[i].end()))
        else:
            out.append(Tok("sent" if w in ".;" else "word", w, raw[i].start(), raw[i].end()))
        i += 1
    return out


def _match_at(words, i, table, prefixes):
    """Longest phrase at ``words[i]`` (its first word may carry a prefix letter)."""
    for n in range(min(MAX_PHRASE_WORDS, len(words) - i), 0, -1):
        cand = tuple(words[i:i + n])
        if cand in table:
            return (n, *table[cand])
        for p in prefixes:
            w0 = cand[0]
            if len(w0) > len(p) + 1 and w0.startswith(p):
                stripped = (w0[len(p):],) + cand[1:]
                if stripped in table:
                    return (n, *table[stripped])
    return None


# -- times -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Time:
    h: int
    m: int
    mer: str | None  # "am" / "pm" / "noon" / "midnight" / "24h" (a clock time past 12)


def _time_at(toks: list[Tok], j: int) -> tuple[_Time, int] | None:
    """A time of day starting at ``toks[j]``: (time, index after it)."""
    if j >= len(toks):
        return None
    t = toks[j]
    if t.kind == "noon":
        return _Time(12, 0, "noon"), j + 1
    if t.kind == "midnight":
        return _Time(24, 0, "midnight"), j + 1
    m = 0
    if t.kind == "minprefix" and j + 1 < len(toks) and toks[j + 1].kind == "num":
        m, j = t.value, j + 1
        t = toks[j]
    if t.kind == "num":
        h = t.value
    elif t.kind == "clock":
        h, m = t.value
    else:
        return None
    if not (0 <= h <= 24 and 0 <= m < 60):
        return None
    j += 1
    nxt = toks[j] if j < len(toks) else None
    if nxt is not None and t.kind == "num" and m == 0:
        if nxt.kind in ("minsuffix", "minword"):
            m, j = nxt.value, j + 1
        elif nxt.kind == "num" and nxt.value in SPOKEN_MINUTES and h <= 12:
            m, j = nxt.value, j + 1
    nxt = toks[j] if j < len(toks) else None
    mer = "24h" if h > 12 or (t.kind == "clock" and h == 0) else None
    if nxt is not None and nxt.kind in ("am", "pm") and h <= 12:
        mer, j = nxt.kind, j + 1
    elif nxt is not None and nxt.kind == "noon" and h == 12:
        mer, j = "noon", j + 1
    return _Time(h, m, mer), j


def _to24(t: _Time, end: bool) -> tuple[int, int] | None:
    """Hours and minutes on a 24 h clock when the time says which half of the day."""
    if t.mer == "midnight" or (t.mer == "am" and t.h == 12):
        return (24 if end else 0), t.m
    if t.mer == "noon":
        return 12, t.m
    if t.mer == "pm":
        return (t.h if t.h == 12 else t.h + 12), t.m
    if t.mer in ("am", "24h"):
        return (24 if end and t.h == 0 else t.h), t.m
    return None


def resolve_range(a: _Time, b: _Time) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Both ends of a range on a 24 h clock. Without a morning / evening word, the
    end comes after the start ("8 to 8" is 08:00-20:00, "9 to 5" 09:00-17:00) and
    a start after the evening end's morning hour is in the afternoon ("1 to 5 pm")."""
    if a.mer == b.mer == "am" and (b.h % 12, b.m) <= (a.h % 12, a.m):
        # "8 a.m. to 6 a.m.": no office closes before it opens in the same morning;
        # the recognizer hears "p.m." as "a.m." (the plosives blur on the phone)
        b = _Time(b.h, b.m, "pm")
    s, e = _to24(a, False), _to24(b, True)
    if e is None:
        s0 = s if s is not None else (a.h, a.m)
        e = (b.h, b.m)
        if (e[0], e[1]) <= s0 and e[0] < 12:
            e = (e[0] + 12, e[1])
        if e == (0, 0):
            e = (24, 0)
    if s is None:
        s = (a.h, a.m)
        if 0 < a.h <= EARLIEST_UNMARKED_AM and (a.h + 12, a.m) < e:
            s = (a.h + 12, a.m)
    if not s < e or e > (24, 0):
        return None
    return s, e


def _range_at(toks: list[Tok], j: int):
    """A time range at ``toks[j]`` ("8 am to 6 pm", "between 9 and 5", "9-17"):
    ("HH:MM-HH:MM", index after it)."""
    between = j < len(toks) and toks[j].kind == "between"
    a = _time_at(toks, j + 1 if between else j)
    if a is None:
        return None
    ta, k = a
    if k >= len(toks) or toks[k].kind not in (("and", "range") if between else ("range",)):
        return None
    b = _time_at(toks, k + 1)
    if b is None:
        return None
    tb, k = b
    r = resolve_range(ta, tb)
    if r is None:
        return None
    (sh, sm), (eh, em) = r
    return f"{sh:02d}:{sm:02d}-{eh:02d}:{em:02d}", k


# -- day groups --------------------------------------------------------------------


def _days_at(toks: list[Tok], j: int) -> tuple[list[str], int] | None:
    """A day group ("Monday through Friday and Saturday", "weekends", "holidays"):
    (OSM selectors in the order said, index after it)."""
    sels: list[str] = []
    while j < len(toks) and toks[j].kind in ("day", "dayset"):
        t = toks[j]
        if t.kind == "day" and j + 2 < len(toks) and toks[j + 1].kind == "range" and toks[j + 2].kind == "day":
            sels.append(f"{t.value}-{toks[j + 2].value}")
            j += 3
        else:
            sels.extend(str(t.value).split(","))
            j += 1
        if j + 1 < len(toks) and toks[j].kind == "and" and toks[j + 1].kind in ("day", "dayset"):
            j += 1
    return (sels, j) if sels else None


def _selector(sels: list[str]) -> str:
    """OSM weekday selector: the days as said, holidays last, no repeats."""
    seen: list[str] = []
    for s in sels:
        if s not in seen:
            seen.append(s)
    days = [s for s in seen if s != "PH"]
    if "Mo-Su" in days and len(days) > 1:
        days = ["Mo-Su"]
    return ",".join(days + (["PH"] if "PH" in seen else []))


# -- rules -------------------------------------------------------------------------


def _items(toks: list[Tok]) -> list[tuple]:
    """What the tokens say, in order, as ``(kind, value, start_char, end_char)``:
    ``days`` (OSM selectors), ``times`` (``HH:MM-HH:MM`` ranges), ``all_day``,
    ``always`` (24/7), ``closed``, ``except``, ``join`` (the word "and"), ``sent``
    (a sentence end), ``cut_days`` (a day range whose first day was lost: a word that
    named days) and ``word`` (anything else)."""
    items: list[tuple] = []
    j = 0
    while j < len(toks):
        t = toks[j]
        d = _days_at(toks, j)
        if d is not None and j > 0 and toks[j - 1].kind == "range":
            # "... through Thursday" with its first day lost (not heard): which days
            # is unknown, so the group pairs with nothing (a word), but it named days
            items.append(("cut_days", d[0], t.start, toks[d[1] - 1].end))
            j = d[1]
            continue
        if d is not None:
            items.append(("days", d[0], t.start, toks[d[1] - 1].end))
            j = d[1]
            continue
        r = _range_at(toks, j)
        if r is not None:
            ranges, k = [r[0]], r[1]
            while k + 1 < len(toks) and toks[k].kind == "and":
                r2 = _range_at(toks, k + 1)
                if r2 is None:
                    break
                ranges.append(r2[0])
                k = r2[1]
            items.append(("times", ranges, t.start, toks[k - 1].end))
            j = k
            continue
        if t.kind in ("always", "all_day", "closed", "except", "sent"):
            items.append((t.kind, None, t.start, t.end))
        elif t.kind == "and" and t.value != ",":  # the word, not the comma
            items.append(("join", None, t.start, t.end))
        elif t.kind == "word":
            items.append(("word", None, t.start, t.end))
        j += 1
    return items


class _Pairing:
    """The state of ``_pair``'s walk over a sentence's groups: the day or time group
    waiting for its other half, the rules made, the groups left unpaired, and the
    characters used."""

    def __init__(self, days_first: bool):
        self.days_first = days_first
        self.rules: list[tuple[str | None, str]] = []
        self.days = self.times = None
        self.left = 0
        self.unpaired: list[str] = []  # weekday selectors of day groups left unpaired
        self.closing_for = 0  # words left in which a day group is the closed one
        self.since_days = 0   # words since the last day group ("Sundays closed")
        self.used: list = [None, None]
        self.prev = None

    def use(self, it) -> None:
        self.used[0] = it[2] if self.used[0] is None else min(self.used[0], it[2])
        self.used[1] = it[3] if self.used[1] is None else max(self.used[1], it[3])

    def rule(self, it, selector, spec: str) -> None:
        self.rules.append((selector, spec))
        self.use(it)

    def day_group(self, it) -> None:
        if self.closing_for > 0:
            self.rule(it, _selector(it[1]), "off")
            self.closing_for = 0
        elif self.times and self.prev != "join":
            # times then their days; "9 to 5, and Saturday ..." starts a new group
            self.rule(it, _selector(it[1]), ",".join(self.times))
            self.times = None
        elif self.days_first:
            # a day group after one that got no times replaces it: what came
            # between was not a time range this grammar reads
            self.drop_days()
            self.days = it[1]
        else:
            self.left += 1

    def time_group(self, it) -> None:
        t = it[1] if it[0] == "times" else ["00:00-24:00"]
        if it[0] == "always":
            self.rule(it, "Mo-Su", t[0])
        elif self.days:
            self.rule(it, _selector(self.days), ",".join(t))
            self.days = None
        elif self.days_first:
            self.left += 1
        else:
            self.times = (self.times or []) + t
            self.use(it)

    def closed(self, it) -> None:
        if self.days and it[0] == "closed" and self.since_days <= CLOSED_REACH_WORDS:
            self.rule(it, _selector(self.days), "off")
            self.days = None
        else:
            self.closing_for = CLOSED_REACH_WORDS + 1

    def drop_days(self) -> None:
        """The waiting day group (if any) is left without hours."""
        if self.days is not None:
            self.left += 1
            weekdays = [d for d in self.days if d != "PH"]
            if weekdays:  # "including holidays" after "24/7" leaves no weekday out
                self.unpaired.append(_selector(weekdays))
        self.days = None

    def sentence_end(self) -> None:
        # a group left without its other half at a sentence end said nothing whole
        self.left += self.times is not None and bool(self.rules)
        self.drop_days()
        self.closing_for = 0
        self.times = self.times if not self.rules else None


def _pair(items: list[tuple], days_first: bool):
    """Rules from pairing day groups with time groups, each days-then-times ("Monday
    to Friday, 9 to 5") or times-then-days ("9 to 5, Monday to Friday"); returns
    (rules, groups left unpaired, first and last char used)."""
    st = _Pairing(days_first)
    for it in items:
        kind = it[0]
        if kind == "days":
            st.day_group(it)
        elif kind in ("times", "all_day", "always"):
            st.time_group(it)
        elif kind in ("closed", "except"):
            st.closed(it)
        elif kind == "sent":
            st.sentence_end()
        if kind == "cut_days":
            st.unpaired += [_selector(it[1])] if any(d != "PH" for d in it[1]) else []
        wordish = kind in ("word", "cut_days")
        st.since_days = 0 if kind == "days" else st.since_days + wordish
        if wordish:
            st.closing_for -= 1
        st.prev = kind
    st.left += st.times is not None and bool(st.rules)
    st.drop_days()
    if st.times and not st.rules and not any(it[0] == "days" for it in items):
        st.rules.append((None, ",".join(st.times)))  # a bare time range, no day said: every day
    return st.rules, st.left, st.used[0] or 0, st.used[1] or 0, tuple(st.unpaired)


def _rules(items: list[tuple]) -> tuple[list[tuple[str | None, str]], int, int, tuple[str, ...]]:
    """The pairing (days-first or times-first) that leaves fewer groups unpaired;
    days-first on a tie (the way most prompts say it). Returns (rules as (selector or
    None, times), first and last char used, weekday groups left without hours)."""
    a, b = _pair(items, True), _pair(items, False)
    best = a if (a[1], -len(a[0])) <= (b[1], -len(b[0])) else b
    return best[0], best[2], best[3], best[4]


def format_rules(rules: list[tuple[str | None, str]]) -> str:
    """``Mo-Fr 09:00-17:00; Sa 09:00-12:00``; every day round the clock is ``24/7``."""
    out: list[str] = []
    for sel, times in rules:
        piece = times if sel is None else f"{sel} {times}"
        if piece not in out:
            out.append(piece)
    if out and out[0] in ("Mo-Su 00:00-24:00", "00:00-24:00"):
        out[0] = "24/7"
    return "; ".join(out)


def is_valid(osm: str) -> bool:
    """Whether opening-hours-py parses ``osm``."""
    try:
        opening_hours.OpeningHours(osm)
    except Exception:  # its ParserError / SyntaxError: not OSM syntax
        return False
    return True


def parse_hours_lang(text: str, lang: str) -> Hours | None:
    """Opening hours said in ``text``, read with the ``lang`` grammar; None when it
    states none (or states them in a way the OSM parser would not take)."""
    g = grammar(lang)
    t = rewrite(text, g)
    toks = tokenize(t, g)
    rules, a, b, unpaired = _rules(_items(toks))
    if not rules:
        return None
    osm = format_rules(rules)
    if not is_valid(osm):
        return None
    tz = next((x.value for x in toks if x.kind == "tz"), None)
    return Hours(osm, tz, lang, a, b, unpaired)


def parse_hours(text: str, lang: str | None = None) -> Hours | None:
    """Opening hours in ``text``: with the grammar of ``lang`` when given (and known),
    else with each grammar in LANGS, keeping the one that read the longest stretch."""
    langs = [lang] if lang in LANGS else list(LANGS)
    found = [h for h in (parse_hours_lang(text, x) for x in langs) if h is not None]
    if not found:
        return None
    return max(found, key=lambda h: (h.end - h.start, -langs.index(h.lang)))
