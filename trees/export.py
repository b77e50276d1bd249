"""Directory entries (the contract's export format) from a tree."""
from __future__ import annotations

import csv
import io
import math
import re

import networkx as nx

from . import textsim
from .paths import DTMF_KEYS, services

#: A comma in a phone dial string pauses 2 s (the common handset / modem convention).
DIAL_PAUSE_S = 2.0
#: Waits that moved less than this are the same entry (timing noise, as in the diff).
WAIT_CHANGE_S = 1.0
CSV_FIELDS = ("company", "number", "service", "path", "keys", "waits", "kind", "directory", "dial", "lang")


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


def entry_lang(G: nx.DiGraph, path) -> str | None:
    """Language of a service: its node's (BCP-47), else the nearest menu's above it."""
    path = list(path)
    while True:
        n = "/".join(path) or "root"
        if n in G and G.nodes[n].get("lang"):
            return G.nodes[n]["lang"]
        if not path:
            return None
        path.pop()


def same_lang(code: str | None, wanted: str) -> bool:
    """BCP-47 codes by their primary language: ``es-MX`` is ``es``."""
    return bool(code) and code.split("-")[0].lower() == wanted.split("-")[0].lower()


def select_lang(entries, lang: str) -> list[dict]:
    """The entries of services in language ``lang`` (``export --lang``)."""
    return [e for e in entries if same_lang(e.get("lang"), lang)]


def export_entries(G: nx.DiGraph) -> list[dict]:
    company, number = G.graph.get("company"), G.graph.get("number")
    out = []
    for s in services(G):
        lang = entry_lang(G, [k for k in s["path"] if not is_token(k)])
        out.append({
            "company": company, "number": number, "service": s["service"],
            "path": s["path"], "keys": s["keys"], "waits": s["waits"], "kind": s["kind"],
            "directory": directory_line(number, s["keys"]),
            "dial": dial_string(number, s["keys"], s["waits"]),
            "seconds": s["seconds"], "verified": s["verified"],
            **({"lang": lang} if lang else {}),
        })
    return out


def format_directory(entries, with_service: bool = False) -> str:
    """One ``directory`` line per entry (the contract's ``--format directory``);
    ``with_service`` appends the service name and kind for a person reading it."""
    if with_service:
        return "".join(f"{e['directory']}  {e['service']} ({e['kind']})\n" for e in entries)
    return "".join(f"{e['directory']}\n" for e in entries)


def format_dial(entries) -> str:
    return "".join(f"{e['dial']}\n" for e in entries)


def format_csv(entries) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for e in entries:
        row = dict(e)
        row["path"] = "/".join(e.get("path") or [])
        row["keys"] = ",".join(e.get("keys") or [])
        row["waits"] = " ".join(f"{x:.1f}" for x in e.get("waits") or [])
        w.writerow(row)
    return buf.getvalue()


def _ident(e) -> tuple[str, str]:
    return textsim.normalize(e.get("company")), textsim.normalize(e.get("service"))


def entries_since(new_entries, old_entries) -> list[dict]:
    """Entries that are new, or whose keys, kind or waits (by ``WAIT_CHANGE_S`` or more)
    changed since ``old_entries``. An entry is the same service when company and
    service name match (fuzzily: recognizer spelling varies between mappings)."""
    olds = list(old_entries)
    out = []
    for e in new_entries:
        c, s = _ident(e)
        cand = [o for o in olds if _ident(o)[0] == c and _ident(o)[1] == s]
        if not cand:
            cand = [o for o in olds if _ident(o)[0] == c and textsim.same_label(_ident(o)[1], s)]
        if not cand:
            out.append(e)
            continue
        o = cand[0]
        if list(o.get("keys") or []) != list(e.get("keys") or []) or o.get("kind") != e.get("kind"):
            out.append(e)
            continue
        ow, nw = o.get("waits") or [], e.get("waits") or []
        if len(ow) != len(nw) or any(abs(float(a) - float(b)) >= WAIT_CHANGE_S for a, b in zip(ow, nw)):
            out.append(e)
    return out
