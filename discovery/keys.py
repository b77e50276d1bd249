"""Keys known from outside the audio: a ``CALL.keys.json`` sidecar or ``--keys``.

Many phones and softphones send key presses out of band (RFC 4733 telephone-events,
SIP INFO), so the recording holds no tone; the crawler writes what it sent beside
each call (``callNN.keys.json``: ``[{"key": "2", "time": 12.31, "method": "inband"}]``).
When such a list is given it is what the caller pressed; the tones heard in the
audio only sharpen its timing:

- a listed key with a heard tone starting within ``MATCH_TOL_S`` takes the tone's
  start, end and level (the audio clock is the one the prompts are timed on);
- a listed key with no tone that close is kept, with a nominal length, and flagged
  ``"heard": false``;
- a heard tone no listed key claims is kept as heard (audio is evidence too).

Parsing is done before any audio work so a bad file stops the run early
(``KeysError``: one line naming the file or the option).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ivrkit.audio.events import DtmfPress

#: The 16 DTMF symbols (ITU-T Q.23).
KEY_SYMBOLS = frozenset("0123456789*#ABCD")
#: How the crawler sent a key (contract, ``crawl``): in the audio, or as RFC 4733 events.
METHODS = ("inband", "rfc4733")
#: A listed key and a heard tone this close in start time are the same press
#: (issue 15: 150 ms; RTP packetisation and jitter buffers shift a key by 20-60 ms,
#: while menu keys are pressed seconds apart and typed data >= 0.25 s apart).
MATCH_TOL_S = 0.15
#: Length given to a key no tone was heard for: RFC 4733 senders default to
#: 100 ms events (Asterisk's default DTMF duration; Q.24 asks for >= 40 ms).
NOMINAL_PRESS_S = 0.1
#: File name suffix of the sidecar beside ``CALL.wav``.
SIDECAR_SUFFIX = ".keys.json"


class KeysError(ValueError):
    """A bad sidecar or ``--keys`` value; str() is the one line to show."""


@dataclass(frozen=True)
class ListedKey:
    """One key the caller sent, as a sidecar or ``--keys`` lists it."""

    key: str
    time_s: float
    method: str | None = None  # "inband" / "rfc4733"; None when not said


@dataclass(frozen=True)
class SidecarPress(DtmfPress):
    """A press known from the key list. ``level_db`` is None when no tone was heard."""

    heard: bool = True              # a tone was heard within MATCH_TOL_S
    method: str | None = None
    heard_key: str | None = None    # the tone decoded as another key (codec damage)


def sidecar_path(call: str | os.PathLike) -> Path:
    """Where the key list of ``call`` lives: ``call01.wav`` -> ``call01.keys.json``."""
    p = Path(call)
    return p.with_name(p.stem + SIDECAR_SUFFIX)


def _check_key(key, where: str) -> str:
    k = str(key).strip().upper() if isinstance(key, (str, int)) and not isinstance(key, bool) else None
    if k is None or k not in KEY_SYMBOLS:
        raise KeysError(f"{where}: key {key!r} is not a DTMF key (0-9, *, #, A-D)")
    return k


def _check_time(t, where: str) -> float:
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
        raise KeysError(f"{where}: time {t!r} is not a time in seconds (a number >= 0)")
    return float(t)


def parse_keys_option(text: str) -> list[ListedKey]:
    """``"2@12.31,1@20.40"`` -> keys, sorted by time. Raises KeysError."""
    out = []
    for item in (s.strip() for s in text.split(",")):
        if "@" not in item:
            raise KeysError(f"--keys: {item!r} is not KEY@SECONDS (e.g. 2@12.31)")
        key, _, t = item.partition("@")
        try:
            t_s = float(t)
        except ValueError:
            raise KeysError(f"--keys: {item!r}: {t!r} is not a number of seconds") from None
        out.append(ListedKey(_check_key(key, f"--keys: {item!r}"), _check_time(t_s, f"--keys: {item!r}")))
    return sorted(out, key=lambda k: k.time_s)


def parse_sidecar(data, where: str) -> list[ListedKey]:
    """The crawl format (a JSON list of ``{"key", "time", "method"?}``) -> keys."""
    if not isinstance(data, list):
        raise KeysError(f"{where}: expected a JSON list of {{\"key\", \"time\"}} objects")
    out = []
    for i, item in enumerate(data):
        at = f"{where}: entry {i + 1}"
        if not isinstance(item, dict) or "key" not in item or "time" not in item:
            raise KeysError(f"{at}: expected an object with \"key\" and \"time\"")
        method = item.get("method")
        if method is not None and method not in METHODS:
            raise KeysError(f"{at}: method {method!r} is not one of {', '.join(METHODS)}")
        out.append(ListedKey(_check_key(item["key"], at), _check_time(item["time"], at), method))
    return sorted(out, key=lambda k: k.time_s)


def read_sidecar(call: str | os.PathLike) -> list[ListedKey] | None:
    """The key list beside ``call``, or None when there is none. Raises KeysError."""
    p = sidecar_path(call)
    if not p.exists():
        return None
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeysError(f"{p}: not a keys file ({exc.__class__.__name__}: {exc})") from None
    return parse_sidecar(data, str(p))


def reconcile(heard: Sequence[DtmfPress], listed: Sequence[ListedKey],
              tol_s: float = MATCH_TOL_S) -> list[DtmfPress]:
    """Merge listed keys with heard tones (rules in the module docstring).

    Each listed key claims the nearest unclaimed heard press starting within
    ``tol_s``, preferring one decoded as the same key. Returns presses sorted by start.
    """
    free = list(range(len(heard)))
    out: list[DtmfPress] = []
    for k in listed:
        near = [i for i in free if abs(heard[i].start_s - k.time_s) <= tol_s]
        near.sort(key=lambda i: (heard[i].key != k.key, abs(heard[i].start_s - k.time_s)))
        if near:
            h = heard[near[0]]
            free.remove(near[0])
            out.append(SidecarPress(k.key, h.start_s, h.end_s, h.level_db, heard=True, method=k.method,
                                    heard_key=None if h.key == k.key else h.key))
        else:
            out.append(SidecarPress(k.key, k.time_s, k.time_s + NOMINAL_PRESS_S, None,
                                    heard=False, method=k.method))
    out.extend(heard[i] for i in free)
    return sorted(out, key=lambda p: (p.start_s, p.end_s))


def check_within(listed: Sequence[ListedKey], duration_s: float, where: str) -> None:
    """Raise KeysError when a listed key lies past the end of the recording."""
    late = [k for k in listed if k.time_s > duration_s]
    if late:
        raise KeysError(f"{where}: key {late[0].key!r} at {late[0].time_s:.2f} s is past the end "
                        f"of the recording ({duration_s:.2f} s)")


def apply_keys(sig, listed: Sequence[ListedKey] | None, where: str):
    """The signal analysis with its presses reconciled with ``listed`` (unchanged when None)."""
    if listed is None:
        return sig
    check_within(listed, sig.duration_s, where)
    return dataclasses.replace(sig, presses=tuple(reconcile(sig.presses, listed)))


def event_fields(press: DtmfPress) -> dict:
    """Extra fields of a press's dtmf event: ``source`` etc. for listed keys."""
    if not isinstance(press, SidecarPress):
        return {}
    d = {"source": "sidecar", "heard": press.heard}
    if press.method:
        d["method"] = press.method
    if press.heard_key:
        d["heard_key"] = press.heard_key
    return d
