"""Opening hours, holds and closed-hours calls on a merged tree.

Discovery marks what a call says beside the keys (``discovery/service.py``): a
visit's ``hours`` observations, an agent visit's ``hold``, a timeline's
``after_hours`` greeting. Here they become tree fields (CONTRACT.md, Additions):

- node ``hours`` (OSM ``opening_hours``, the string most calls heard) with
  ``hours_evidence`` (``file@time "sentence"``), ``hours_votes``, ``hours_tz``;
- node ``hold_s``: ``{"median": 95.0, "n": 3, "at_least": false}`` from the calls
  a person answered in (or, when none was answered, the longest hold heard:
  ``at_least``), ``hold_observations`` to merge later calls into;
- graph ``after_hours``: the closed-hours greeting (an after-hours variant of the
  root) and the calls that reached it. Such a call is never walked as the root
  menu: its greeting offers nothing and would read as options removed.
"""
from __future__ import annotations

import statistics
from collections import Counter

import networkx as nx

from .waits import fmt_s


def is_after_hours(tl: dict) -> bool:
    """Whether a timeline reached a closed-hours greeting (discovery marks it)."""
    return bool(tl.get("after_hours"))


def _node_of(G: nx.DiGraph, path) -> str | None:
    nid = "root" if not path else "/".join(path)
    return nid if nid in G else None


def _evidence(file: str, obs: dict) -> str:
    return f'{file}@{fmt_s(obs["time"])} "{obs["sentence"]}"'


def _hours_obs(G, timelines):
    """(node id, file, observation) for every hours observation; a closed-hours
    call's observations belong to the root (its greeting is the root's variant)."""
    for tl in timelines:
        closed = is_after_hours(tl)
        for v in tl.get("menus") or []:
            nid = "root" if closed else _node_of(G, v.get("path") or [])
            for obs in v.get("hours") or []:
                if nid is not None:
                    yield nid, tl.get("file"), obs


def _set_hours(G: nx.DiGraph, timelines) -> None:
    per: dict[str, list] = {}
    for nid, file, obs in _hours_obs(G, timelines):
        per.setdefault(nid, []).append((file, obs))
    for nid, found in per.items():
        d = G.nodes[nid]
        votes = Counter(d.get("hours_votes") or ({d["hours"]: 1} if d.get("hours") else {}))
        votes.update(obs["osm"] for _, obs in found)
        best = best_hours(votes)
        same = d.get("hours") == best
        ev = list(d.get("hours_evidence") or []) if same else []
        ev += [_evidence(f, o) for f, o in found if o["osm"] == best]
        # weekdays a supporting call heard named with no hours: the string says less
        gaps = set(d.get("hours_unpaired_days") or []) if same else set()
        gaps |= {x for _, o in found if o["osm"] == best for x in o.get("unpaired_days") or []}
        if gaps:
            d["hours_unpaired_days"] = sorted(gaps)
        else:
            d.pop("hours_unpaired_days", None)
        d["hours"] = best
        d["hours_votes"] = dict(votes)
        d["hours_evidence"] = list(dict.fromkeys(ev))
        tz = [o["tz"] for _, o in found if o["osm"] == best and o.get("tz")]
        if tz or d.get("hours_tz"):
            d["hours_tz"] = Counter(tz).most_common(1)[0][0] if tz else d["hours_tz"]


def _rule_set(osm: str) -> frozenset:
    return frozenset(r.strip() for r in osm.split(";") if r.strip())


def best_hours(votes: Counter) -> str:
    """The hours string the most calls support. A call that heard only part of the
    sentence (the recognizer lost "Monday through Friday ...") heard a subset of the
    rules: it supports every string that contains all of its rules. Ties go to the
    string more calls heard exactly, then to the longer one."""
    def support(cand):
        rules = _rule_set(cand)
        return sum(n for osm, n in votes.items() if _rule_set(osm) <= rules)

    return max(votes, key=lambda c: (support(c), votes[c], len(_rule_set(c)), c))


def summarize_holds(observations: list[dict]) -> dict | None:
    """``{"median", "n", "at_least"}`` from hold observations (``{"s", "at_least"}``):
    the median of the answered holds; with none answered, the longest wait heard,
    as a lower bound."""
    answered = [float(o["s"]) for o in observations if not o.get("at_least")]
    if answered:
        return {"median": round(statistics.median(answered), 1), "n": len(answered), "at_least": False}
    waited = [float(o["s"]) for o in observations]
    if waited:
        return {"median": round(max(waited), 1), "n": len(waited), "at_least": True}
    return None


def _set_holds(G: nx.DiGraph, timelines) -> None:
    per: dict[str, list] = {}
    for tl in timelines:
        if is_after_hours(tl):
            continue
        for v in tl.get("menus") or []:
            h, nid = v.get("hold"), _node_of(G, v.get("path") or [])
            if h and nid is not None:
                per.setdefault(nid, []).append({
                    "s": h["s"], "at_least": bool(h.get("at_least")), "file": tl.get("file"),
                    "start": h.get("start"), "announced_wait_s": h.get("announced_wait_s")})
    for nid, obs in per.items():
        d = G.nodes[nid]
        allobs = list(d.get("hold_observations") or []) + obs
        d["hold_observations"] = allobs
        d["hold_s"] = summarize_holds(allobs)
        announced = [o["announced_wait_s"] for o in allobs if o.get("announced_wait_s")]
        if announced:
            d["announced_wait_s"] = round(statistics.median(announced), 1)


def _set_after_hours(G: nx.DiGraph, timelines) -> None:
    closed = [tl for tl in timelines if is_after_hours(tl)]
    if not closed:
        return
    ah = dict(G.graph.get("after_hours") or {})
    ev = list(ah.get("evidence") or [])
    for tl in closed:
        ev.append(_evidence(tl.get("file"), tl["after_hours"]))
        root = next((v for v in tl.get("menus") or [] if not v.get("path")), None)
        if root is not None and root.get("prompt") and not ah.get("prompt"):
            ah["prompt"] = root["prompt"]
    ah["evidence"] = list(dict.fromkeys(ev))
    G.graph["after_hours"] = ah


#: Node fields this module owns, carried over from a tree merged before.
NODE_FIELDS = ("hours", "hours_votes", "hours_evidence", "hours_tz", "hours_unpaired_days", "hold_s",
               "hold_observations", "announced_wait_s")


def add_service_info(G: nx.DiGraph, timelines, prior: nx.DiGraph | None = None) -> None:
    """Hours, holds and the after-hours variant from the timelines merged into ``G``
    in this run (each call once), on top of what ``prior`` (the tree merged into)
    already had."""
    timelines = list(timelines)
    if prior is not None:
        for n, d in prior.nodes(data=True):
            if n in G:
                G.nodes[n].update({k: d[k] for k in NODE_FIELDS if d.get(k) is not None})
    _set_hours(G, timelines)
    _set_holds(G, timelines)
    _set_after_hours(G, timelines)


def after_hours_source(tl: dict) -> dict:
    """The tree's ``sources`` record of a closed-hours call (it is not walked)."""
    src = {"file": tl.get("file"), "sha256": tl.get("sha256"), "duration": tl.get("duration"),
           "after_hours": True}
    return src


# -- export ------------------------------------------------------------------------


def _holder(G: nx.DiGraph, node: str, field: str) -> str | None:
    """``node`` or its nearest ancestor that has ``field`` (None: neither has it)."""
    chain = nx.shortest_path(G, "root", node) if node in G and "root" in G else [node]
    return next((n for n in reversed(chain) if G.nodes[n].get(field) is not None), None)


def inherited(G: nx.DiGraph, node: str, field: str):
    """``field`` of ``node`` or of its nearest ancestor that has it (hours said in
    the greeting hold for every service below it)."""
    n = _holder(G, node, field)
    return None if n is None else G.nodes[n][field]


def entry_fields(G: nx.DiGraph, node: str) -> dict:
    """The export entry's ``hours`` / ``hours_tz`` (inherited), ``hold_s`` and ``lang``
    (inherited), each only where known."""
    out = {}
    for field in ("hours", "hours_tz", "lang"):
        v = inherited(G, node, field)
        if v is not None:
            out[field] = v
    said = _holder(G, node, "hours")  # the gaps of the hours inherited, not an ancestor's
    if said is not None and G.nodes[said].get("hours_unpaired_days"):
        out["hours_unpaired_days"] = list(G.nodes[said]["hours_unpaired_days"])
    if G.nodes[node].get("hold_s"):
        out["hold_s"] = dict(G.nodes[node]["hold_s"])
    return out


def _to_person_s(e: dict) -> float:
    hold = e.get("hold_s") or {}
    return float(e.get("seconds") or 0.0) + float(hold.get("median") or 0.0)


def _rank(e: dict) -> tuple:
    """Measured holds first (a lower bound or no measurement says little about how
    fast a person answers), then the fewest seconds to a person."""
    hold = e.get("hold_s") or {}
    return (not hold or bool(hold.get("at_least")), _to_person_s(e))


def fastest_to_person(entries) -> dict[str, dict | None]:
    """Per company (in order met): its fastest entry to a person (agent services,
    keys' seconds plus the median hold, measured holds first), or None when no route
    to one was heard."""
    best: dict[str, dict | None] = {}
    for e in entries:
        c = e.get("company") or e.get("number") or "?"
        best.setdefault(c, None)
        if e.get("kind") != "agent" and not e.get("hold_s"):
            continue
        if best[c] is None or _rank(e) < _rank(best[c]):
            best[c] = e
    return best


def format_human(entries) -> str:
    """One line per company: the fastest way to a person, with the waits."""
    lines = []
    for company, e in fastest_to_person(entries).items():
        if e is None:
            lines.append(f"{company}: no route to a person heard\n")
            continue
        steps = ", ".join(f"wait {w:.1f} s, press {k}" for k, w in zip(e["keys"], e["waits"]))
        hold = e.get("hold_s")
        if hold:
            bound = "at least " if hold.get("at_least") else ""
            held = f" + hold {bound}{hold['median']:.0f} s (n={hold['n']})"
        else:
            held = " + hold not measured"
        tail = f"; hours {e['hours']}" if e.get("hours") else ""
        if e.get("hours_unpaired_days"):  # the string says less than the prompt did
            tail += f" (incomplete: {', '.join(e['hours_unpaired_days'])} named, no hours heard)"
        number = f" {e['number']}" if e.get("number") else ""
        lines.append(f"{company}{number}: {steps or 'no keys'} -> {e['service'] or 'agent'}: "
                     f"a person in ~{_to_person_s(e):.0f} s ({e['seconds']:.1f} s of menus{held}){tail}\n")
    return "".join(lines)
