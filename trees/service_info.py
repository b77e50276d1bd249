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
        best = max(votes, key=lambda k: (votes[k], k))
        ev = list(d.get("hours_evidence") or []) if d.get("hours") == best else []
        ev += [_evidence(f, o) for f, o in found if o["osm"] == best]
        d["hours"] = best
        d["hours_votes"] = dict(votes)
        d["hours_evidence"] = list(dict.fromkeys(ev))
        tz = [o["tz"] for _, o in found if o["osm"] == best and o.get("tz")]
        if tz or d.get("hours_tz"):
            d["hours_tz"] = Counter(tz).most_common(1)[0][0] if tz else d["hours_tz"]


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
NODE_FIELDS = ("hours", "hours_votes", "hours_evidence", "hours_tz", "hold_s", "hold_observations",
               "announced_wait_s")


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
