"""Directory entries (the contract's export format) from a tree."""
from __future__ import annotations

import csv
import io
import math
import re

import networkx as nx

from . import service_info, textsim
from .paths import DTMF_KEYS, services

#: A comma in a phone dial string pauses 2 s (the common handset / modem convention).
DIAL_PAUSE_S = 2.0
#: Waits that moved less than this are the same entry (timing noise, as in the diff).
WAIT_CHANGE_S = 1.0
CSV_FIELDS = ("company", "number", "service", "path", "keys", "waits", "kind", "directory", "dial",
              "verified", "removed")
#: Appended to the directory / dial line of an option nobody entered (its kind and
#: wait are guesses), so it is never read as a checked entry.
UNVERIFIED_FLAG = "  (unverified: never entered)"
#: Before the line of an entry that ``--since`` found gone.
REMOVED_PREFIX = "- "


def is_token(key: str) -> bool:
    return key not in DTMF_KEYS


def directory_line(number: str | None, keys) -> str:
    return f"{number or ''} → {','.join(keys)}".strip()


def dial_string(number: str | None, keys, waits) -> str:
    """Digits, then per key ``,`` pauses covering its wait (rounded up), then the key;
    stops before the first data token (the caller types that)."""
    out = re.sub(r"[^0-9*#+]", "", number or "")
    for k, w in zip(keys, waits):
        if is_token(k):
            break
        # round(…, 6) so 4.0 s is two pauses, not three from float noise
        out += "," * math.ceil(round(max(0.0, float(w or 0.0)) / DIAL_PAUSE_S, 6)) + k
    return out


def export_entries(G: nx.DiGraph, number: str | None = None) -> list[dict]:
    """One entry per service of ``G`` (the contract's export JSON). ``number``: used when
    the tree has none (a tree mapped without ``--number``)."""
    company, number = G.graph.get("company"), G.graph.get("number") or number
    out = []
    for s in services(G):
        out.append({
            "company": company, "number": number, "service": s["service"],
            "path": s["path"], "keys": s["keys"], "waits": s["waits"], "kind": s["kind"],
            "directory": directory_line(number, s["keys"]),
            "dial": dial_string(number, s["keys"], s["waits"]),
            "seconds": s["seconds"], "verified": s["verified"],
        })
        out[-1].update(service_info.entry_fields(G, s["node"]))  # hours, hold_s, lang
    return out


def unverified(e: dict) -> bool:
    return e.get("verified") is False


def verified_only(entries, include_unverified: bool = False) -> tuple[list[dict], int]:
    """The entries to list and how many unverified ones were left out (all kept when
    ``include_unverified``; removed entries are kept: their removal is a fact)."""
    if include_unverified:
        return list(entries), 0
    kept = [e for e in entries if not unverified(e) or e.get("removed")]
    return kept, len(entries) - len(kept)


def _flagged(e: dict, text: str) -> str:
    if e.get("removed"):
        return f"{REMOVED_PREFIX}{text}"
    return text + (UNVERIFIED_FLAG if unverified(e) else "")


def format_directory(entries, with_service: bool = False) -> str:
    """One ``directory`` line per entry (the contract's ``--format directory``);
    ``with_service`` appends the service name and kind for a person reading it.
    Removed entries start with ``- ``, unverified ones end with ``UNVERIFIED_FLAG``."""
    if with_service:
        return "".join(_flagged(e, f"{e['directory']}  {e['service']} ({e['kind']})") + "\n" for e in entries)
    return "".join(_flagged(e, e["directory"]) + "\n" for e in entries)


#: ``--human``: the fastest route to a person per company (trees/service_info.py).
format_human = service_info.format_human


def format_dial(entries) -> str:
    return "".join(_flagged(e, e["dial"]) + "\n" for e in entries)


def format_csv(entries) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for e in entries:
        row = dict(e)
        row["path"] = "/".join(e.get("path") or [])
        row["keys"] = ",".join(e.get("keys") or [])
        row["waits"] = " ".join(f"{x:.1f}" for x in e.get("waits") or [])
        row["verified"] = "false" if unverified(e) else "true"
        row["removed"] = "true" if e.get("removed") else ""
        w.writerow(row)
    return buf.getvalue()


def _ident(e) -> tuple[str, str]:
    return textsim.normalize(e.get("company")), textsim.normalize(e.get("service"))


def _same_kind(a: dict, b: dict) -> bool:
    """Same kind, or one side never entered (``unknown``: its kind was not seen)."""
    return a.get("kind") == b.get("kind") or "unknown" in (a.get("kind"), b.get("kind"))


def _same_service(e, olds) -> dict | None:
    """The entry of ``olds`` that is ``e``'s service (same company and service name,
    fuzzily: recognizer spelling varies between mappings), or None."""
    c, s = _ident(e)
    cand = [o for o in olds if _ident(o) == (c, s)]
    if not cand:
        cand = [o for o in olds if _ident(o)[0] == c and textsim.same_label(_ident(o)[1], s)]
    if not cand:  # reworded at the same keys ("transfer service" -> "move service"): the same entry
        cand = [o for o in olds if _ident(o)[0] == c and list(o.get("keys") or []) == list(e.get("keys") or [])
                and _same_kind(o, e) and textsim.label_similarity(_ident(o)[1], s) >= textsim.RELABEL_RATIO]
    return cand[0] if cand else None


def _changed(o: dict, e: dict) -> bool:
    if list(o.get("keys") or []) != list(e.get("keys") or []) or o.get("kind") != e.get("kind"):
        return True
    if not textsim.same_label(_ident(o)[1], _ident(e)[1]):  # reworded: the directory names it anew
        return True
    ow, nw = o.get("waits") or [], e.get("waits") or []
    return len(ow) != len(nw) or any(abs(float(a) - float(b)) >= WAIT_CHANGE_S for a, b in zip(ow, nw))


def entries_since(new_entries, old_entries) -> list[dict]:
    """Entries that are new, or whose keys, kind or waits (by ``WAIT_CHANGE_S`` or more)
    changed since ``old_entries``; then the old entries no new one continues, each with
    ``"removed": True``."""
    olds, news = list(old_entries), list(new_entries)
    out = []
    for e in news:
        o = _same_service(e, olds)
        if o is None or _changed(o, e):
            out.append(e)
    for o in olds:
        if _same_service(o, news) is None:
            out.append({**o, "removed": True})
    return out
