"""The words discovery and trees share: keys, node ids, kinds, roles, times, and the
rules both sides of the timeline apply to the same presses.

The bottom of the call-record layer: standard library only, no other ivrkit module.
It sits in ``trees/`` because trees may import neither ``ivrkit.audio`` nor
``ivrkit.discovery``; discovery (which writes timelines) imports it from here.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

TIMELINE_SCHEMA = "ivrkit.timeline/1"
TREE_SCHEMA = "ivrkit.tree/1"

# -- keys ---------------------------------------------------------------------------

DTMF_KEYS = frozenset("0123456789*#")
#: Keys that end a data entry.
TERMINATORS = ("#", "*")
#: The order a keypad reads (1-9, then *, 0, #): prompts announce options in it, so
#: pictures drawn in it read like the menu sounds.
KEYPAD_ORDER = "123456789*0#ABCD"


def key_order(k: str) -> tuple:
    """Sort key of an edge key: digits by value, then * and #, then entry tokens ("ID#")."""
    return (0, int(k), "") if k.isdigit() else (1 if k in DTMF_KEYS else 2, 0, k)


def keypad_rank(key) -> tuple[int, str]:
    """Sort key of an edge key in keypad order (KEYPAD_ORDER), anything else last."""
    k = str(key)
    return (KEYPAD_ORDER.index(k), k) if k in KEYPAD_ORDER else (len(KEYPAD_ORDER), k)


def path_order(path: Sequence[str]) -> tuple:
    """Sort key of a node path: shallow first, then key by key (``key_order``)."""
    return (len(path), [key_order(k) for k in path])


# -- nodes --------------------------------------------------------------------------

ROOT = "root"
#: Node kinds of the tree (contract).
KINDS = ("menu", "agent", "input", "info", "back", "unknown")
#: Kind hints a visit can vote for; ties go to the first (an input prompt is the
#: most specific, a bare recording the least).
VISIT_KINDS = ("input", "menu", "agent", "info")
#: Kinds with nothing to press: a leaf of one of these needs no wait.
LEAF_KINDS = ("agent", "info", "back", "unknown")
#: Roles of an option in a prompt (discovery's ``Option.role``)...
OPTION_ROLES = ("option", "back", "repeat")
#: ...plus the edge that follows an input node's data entry.
ROLES = OPTION_ROLES + ("entry",)
#: Roles of options that move the caller back instead of on.
NAV_ROLES = ("back", "repeat")


def node_id(path: Iterable) -> str:
    """Node id of a key path: ``[] -> "root"``, ``["2", "1"] -> "2/1"``."""
    path = [str(k) for k in path]
    return "/".join(path) if path else ROOT


def node_path(node) -> list[str]:
    """Key path of a node id (inverse of ``node_id``)."""
    s = str(node)
    return [] if s == ROOT or not s else s.split("/")


# -- times --------------------------------------------------------------------------


def fmt_s(x: float) -> str:
    """Seconds as short text: 5.1, 12.31, 7."""
    return f"{float(x):.2f}".rstrip("0").rstrip(".")


def round_s(x: float | None, nd: int = 3) -> float | None:
    """Seconds as the timeline JSON writes them (ms resolution); None stays None."""
    return None if x is None else round(float(x), nd)


# -- rules both sides apply ----------------------------------------------------------

#: Far-end audio that resumes this soon after a press is the prompt playing on (a
#: pause between its sentences, a word gap the front end did not bridge), not the next
#: node: taking a key, stopping the prompt and starting the next one takes platforms
#: 0.3-2 s (stop 100-400 ms, then a transition).
RESUME_GAP_S = 0.3
#: Keys typed as data (an ID, a phone number) follow each other within this gap
#: (0.3-0.5 s apart for a person, less for a dialer)...
ENTRY_KEY_GAP_S = 0.8
#: ...and come at least this many in a row (the shortest token, 4D, is four keys);
#: menu keys come one at a time, each waiting for the next prompt.
MIN_ENTRY_KEYS = 4


def entry_runs(times: Sequence[float | None], keys: Sequence[str] | None = None) -> list[list[int]]:
    """Indices of presses grouped in runs typed at data-entry pace: each press within
    ENTRY_KEY_GAP_S of the one before (a press without a time starts a run); given
    ``keys``, a terminator ends its run."""
    runs: list[list[int]] = []
    for i, t in enumerate(times):
        prev = runs[-1][-1] if runs else None
        if prev is None or t is None or times[prev] is None or t - times[prev] > ENTRY_KEY_GAP_S \
                or (keys is not None and keys[prev] in TERMINATORS):
            runs.append([])
        runs[-1].append(i)
    return runs


def clip_listen(t: float, lower: float | None, upper: float | None) -> float:
    """A listen-start estimate kept inside the press bracket: not before the latest
    ignored press (``lower``), not after the earliest accepted one (``upper``)."""
    return min(max(t, lower if lower is not None else -math.inf), upper if upper is not None else math.inf)


# -- call records (the timeline JSON, typed) ------------------------------------------
#
# Frozen dataclasses for what one call heard and did; ``from_json`` reads the
# contract's ``ivrkit.timeline/1`` dicts (missing fields are None, as in timelines
# made by older versions, the simulator or by hand), ``to_json`` writes them back with
# the contract's field order, so a timeline round-trips byte for byte.


def _extra(d: dict, known) -> dict:
    """Fields of a JSON record that its dataclass does not name (other modules'
    additions, e.g. a visit's ``lang`` or ``hours``, a press's ``source``): carried
    through from_json / to_json unchanged, after the named fields."""
    return {k: v for k, v in d.items() if k not in known}


@dataclass(frozen=True)
class Press:
    """A key press heard while at a node: file times; whether the IVR took it.
    ``extra``: other fields (``inferred``, its ``rule`` and ``confidence``: a press
    no tone was heard for, inferred by ``trees.infer``)."""
    key: str | None
    time: float | None
    end: float | None = None
    accepted: bool = False
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    _FIELDS = ("key", "time", "end", "accepted")

    @classmethod
    def from_json(cls, d: dict) -> "Press":
        return cls(d.get("key"), d.get("time"), d.get("end"), bool(d.get("accepted")), _extra(d, cls._FIELDS))

    def to_json(self) -> dict:
        return {"key": self.key, "time": self.time, "end": self.end, "accepted": self.accepted, **self.extra}

    @property
    def inferred(self) -> bool:
        """No tone was heard: the press is inferred from what the IVR did."""
        return bool(self.extra.get("inferred"))


@dataclass(frozen=True)
class Option:
    """An option as announced: key, label, file times, role (``OPTION_ROLES``)."""
    key: str | None
    label: str | None = None
    start: float | None = None
    end: float | None = None
    role: str | None = "option"

    @classmethod
    def from_json(cls, d: dict) -> "Option":
        return cls(d.get("key"), d.get("label"), d.get("start"), d.get("end"), d.get("role", "option"))

    def to_json(self) -> dict:
        return {"key": self.key, "label": self.label, "start": self.start, "end": self.end, "role": self.role}


@dataclass(frozen=True)
class Via:
    """The accepted press that led to a visit: key, press start, seconds from the
    press's end to the visit's first audio."""
    key: str | None
    time: float | None = None
    latency: float | None = None

    @classmethod
    def from_json(cls, d: dict | None) -> "Via | None":
        return None if d is None else cls(d.get("key"), d.get("time"), d.get("latency"))

    def to_json(self) -> dict:
        return {"key": self.key, "time": self.time, "latency": self.latency}


@dataclass(frozen=True)
class Visit:
    """One node visited (the timeline's ``menus`` entry): where, what was heard and
    pressed there. ``start`` / ``end`` are file times; ``listen_after`` and
    ``listen_bounds`` seconds from ``start``."""
    path: tuple[str, ...] = ()
    kind: str | None = None
    start: float | None = None
    end: float | None = None
    prompt: str | None = None
    listen_after: float | None = None
    listen_bounds: tuple = (None, None)
    options: tuple[Option, ...] = ()
    entry: str | None = None
    via: Via | None = None
    presses: tuple[Press, ...] = ()
    keyed: str | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    _FIELDS = ("path", "kind", "start", "end", "prompt", "listen_after", "listen_bounds", "options",
               "entry", "via", "presses", "keyed")

    @classmethod
    def from_json(cls, d: dict) -> "Visit":
        lo_hi = list(d.get("listen_bounds") or [None, None])[:2]
        lo_hi += [None] * (2 - len(lo_hi))
        return cls(tuple(d.get("path") or ()), d.get("kind"), d.get("start"), d.get("end"), d.get("prompt"),
                   d.get("listen_after"), tuple(lo_hi), tuple(Option.from_json(o) for o in d.get("options") or []),
                   d.get("entry"), Via.from_json(d.get("via")),
                   tuple(Press.from_json(p) for p in d.get("presses") or []), d.get("keyed"),
                   _extra(d, cls._FIELDS))

    def to_json(self) -> dict:
        return {"path": list(self.path), "kind": self.kind, "start": self.start, "end": self.end,
                "prompt": self.prompt, "listen_after": self.listen_after,
                "listen_bounds": list(self.listen_bounds), "options": [o.to_json() for o in self.options],
                "entry": self.entry, "via": None if self.via is None else self.via.to_json(),
                "presses": [p.to_json() for p in self.presses], "keyed": self.keyed, **self.extra}

    @property
    def origin_s(self) -> float:
        """File time the visit's prompt started (0 when not known)."""
        return float(self.start or 0.0)


@dataclass(frozen=True)
class Word:
    word: str
    start: float
    end: float
    conf: float | None = None

    @classmethod
    def from_json(cls, d: dict) -> "Word":
        return cls(d["word"], d["start"], d["end"], d.get("conf"))

    def to_json(self) -> dict:
        return {"word": self.word, "start": self.start, "end": self.end, "conf": self.conf}


#: Fields each event type writes after ``type`` (contract order).
_EVENT_FIELDS = {"tone": ("name", "start", "end"), "speech": ("start", "end", "text", "words"),
                 "music": ("start", "end"), "silence": ("start", "end"),
                 "dtmf": ("key", "start", "end", "level_db", "accepted")}


@dataclass(frozen=True)
class Event:
    """A timeline event: ``tone`` (name), ``speech`` (text, words), ``music``,
    ``silence`` or ``dtmf`` (key, level_db, accepted); file times."""
    type: str
    start: float | None = None
    end: float | None = None
    name: str | None = None
    text: str | None = None
    words: tuple[Word, ...] | None = None
    key: str | None = None
    level_db: float | None = None
    accepted: bool | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def from_json(cls, d: dict) -> "Event":
        words = d.get("words")
        known = ("type",) + _EVENT_FIELDS.get(d.get("type"), ("start", "end"))
        return cls(d.get("type"), d.get("start"), d.get("end"), d.get("name"), d.get("text"),
                   None if words is None else tuple(Word.from_json(w) for w in words),
                   d.get("key"), d.get("level_db"), d.get("accepted"), _extra(d, known))

    def to_json(self) -> dict:
        out = {"type": self.type}
        for f in _EVENT_FIELDS.get(self.type, ("start", "end")):
            x = getattr(self, f)
            if f == "words":
                if x is None:
                    continue
                x = [w.to_json() for w in x]
            out[f] = x
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class Timeline:
    """One call (``ivrkit.timeline/1``): its events and the nodes visited, in order."""
    file: str | None = None
    sha256: str | None = None
    duration: float | None = None
    answer: float | None = None
    greeting_onset: float | None = None
    stop_latency: float | None = None
    events: tuple[Event, ...] = ()
    menus: tuple[Visit, ...] = ()
    schema: str = TIMELINE_SCHEMA
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    _FIELDS = ("schema", "file", "sha256", "duration", "answer", "greeting_onset", "stop_latency",
               "events", "menus")

    @classmethod
    def from_json(cls, d: "dict | Timeline") -> "Timeline":
        if isinstance(d, Timeline):
            return d
        return cls(d.get("file"), d.get("sha256"), d.get("duration"), d.get("answer"), d.get("greeting_onset"),
                   d.get("stop_latency"), tuple(Event.from_json(e) for e in d.get("events") or []),
                   tuple(Visit.from_json(m) for m in d.get("menus") or []), d.get("schema") or TIMELINE_SCHEMA,
                   _extra(d, cls._FIELDS))

    def to_json(self) -> dict:
        return {"schema": self.schema, "file": self.file, "sha256": self.sha256, "duration": self.duration,
                "answer": self.answer, "greeting_onset": self.greeting_onset, "stop_latency": self.stop_latency,
                "events": [e.to_json() for e in self.events], "menus": [m.to_json() for m in self.menus],
                **self.extra}


# -- listen evidence ------------------------------------------------------------------

#: What a piece of listen evidence says (see ``ivrkit.trees.waits``).
EVIDENCE_KINDS = ("ignored", "accepted", "prompt")
_EVIDENCE_RE = re.compile(r"^(?P<file>.+)@(?P<t>-?[0-9.]+)\s+(?P<what>ignored|accepted|prompt)$")


@dataclass(frozen=True)
class Evidence:
    """``"call03.wav@5.1 ignored"``: a press the IVR played over (``ignored``) or acted
    on (``accepted``), or a visit's prompt-based estimate (``prompt``), ``t`` seconds
    from the start of the node's prompt in that call. Stored on the tree as its text
    (``str()``), whose seconds are ``fmt_s``-rounded: ``t`` is kept rounded the same way."""
    file: str
    t: float
    what: str

    @classmethod
    def at(cls, file: str, t: float, what: str) -> "Evidence":
        return cls(file, float(fmt_s(t)), what)

    @classmethod
    def parse(cls, s) -> "Evidence | None":
        """The record of a well-formed evidence string (None otherwise)."""
        m = _EVIDENCE_RE.match(str(s).strip())
        return cls(m["file"], float(m["t"]), m["what"]) if m else None

    def __str__(self) -> str:
        return f"{self.file}@{fmt_s(self.t)} {self.what}"
