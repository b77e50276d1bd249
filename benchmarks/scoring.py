"""Scoring ivrkit's output against simulator truth (``ivrkit.truth/1`` + true trees).

Plain functions over the JSON dicts; used by ``benchmarks/accuracy.py``. Nothing here
imports ivrkit, so scores can be computed for any detector's output.
"""
from __future__ import annotations

from statistics import mean

#: A detected press matches a true one of the same key when its onset is this close.
#: Q.24 receivers only promise a 40 ms minimum tone; 60 ms allows a block of slack.
ONSET_TOLERANCE_S = 0.06
#: rapidfuzz ``token_set_ratio`` at or above which an option label counts as right.
LABEL_MIN_SCORE = 75.0
#: Target of the recommended wait: at least the true listen-start, at most this later.
WAIT_SLACK_S = 1.5


def match_presses(truth: list[dict], found: list[dict], tol_s: float = ONSET_TOLERANCE_S,
                  time_key: str = "start", window=None) -> list[tuple[int, int]]:
    """One-to-one pairs (truth index, found index): same key, closest onset within
    ``tol_s`` (or inside ``window(truth_press) -> (lo, hi)`` when given)."""
    cands = []
    for i, t in enumerate(truth):
        lo, hi = window(t) if window else (t["start"] - tol_s, t["start"] + tol_s)
        for j, f in enumerate(found):
            if f["key"] == t["key"] and lo <= f[time_key] <= hi:
                cands.append((abs(f[time_key] - t["start"]), i, j))
    pairs, used_t, used_f = [], set(), set()
    for _, i, j in sorted(cands):
        if i not in used_t and j not in used_f:
            pairs.append((i, j))
            used_t.add(i)
            used_f.add(j)
    return sorted(pairs)


def prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    f = 2 * p * r / (p + r) if p and r else (0.0 if p is not None and r is not None else None)
    return {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f}


def score_dtmf(truth: list[dict], found: list[dict], time_key: str = "start", window=None) -> dict:
    """Counts, onset errors (found - truth, seconds) and accepted/ignored agreement."""
    pairs = match_presses(truth, found, time_key=time_key, window=window)
    errs = [found[j][time_key] - truth[i]["start"] for i, j in pairs]
    cls = [(truth[i]["accepted"], found[j]["accepted"]) for i, j in pairs
           if found[j].get("accepted") is not None]
    # navigation presses only: digits keyed into an input node are data, not menu choices
    nav = [(truth[i]["accepted"], found[j]["accepted"]) for i, j in pairs
           if found[j].get("accepted") is not None and truth[i].get("phase") != "entry"]
    return {"tp": len(pairs), "fp": len(found) - len(pairs), "fn": len(truth) - len(pairs),
            "onset_errors": errs,
            "class_n": len(cls), "class_ok": sum(a == b for a, b in cls),
            "nav_n": len(nav), "nav_ok": sum(a == b for a, b in nav),
            "sequence_ok": "".join(t["key"] for t in truth) == "".join(f["key"] for f in found)}


def timeline_presses(timeline: dict) -> list[dict]:
    return [{"key": e["key"], "start": e["start"], "end": e.get("end", e["start"]),
             "accepted": e.get("accepted")}
            for e in timeline.get("events", []) if e.get("type") == "dtmf"]


def _label_score(a: str, b: str) -> float:
    from rapidfuzz import fuzz

    return float(fuzz.token_set_ratio((a or "").lower(), (b or "").lower()))


def heard_options(truths: list[dict]) -> set[tuple[tuple, str]]:
    """(parent path, key) of options some call played to the end.

    An option the caller cut off with a key press ("To make a pay-" *2*) has a key
    but no label anyone could have heard; it is not counted against recall."""
    out = set()
    for t in truths:
        for v in t["visits"]:
            for o in v.get("options") or []:
                if v.get("end") is None or o["end"] <= v["end"]:
                    out.add((tuple(v["path"]), o["key"]))
    return out


def tree_edges(tree: dict) -> dict[tuple[tuple, str], str]:
    """{(parent path, key): label} from a contract tree dict."""
    paths = {n["id"]: tuple(n.get("path") or []) for n in tree["nodes"]}
    # an entry edge (data keyed at an input node, trees' extension) is not a menu option
    return {(paths.get(e["source"], ()), str(e["key"])): e.get("label") or "" for e in tree["edges"]
            if e.get("role") != "entry"}


def score_options(true_tree: dict, found_tree: dict | None, heard: set | None = None) -> dict:
    """Option precision / recall: an option is right when parent path and key match and
    the label is close (``LABEL_MIN_SCORE``). Recall counts only ``heard`` options."""
    every = tree_edges(true_tree)
    truth = {k: v for k, v in every.items() if heard is None or k in heard}
    found = tree_edges(found_tree) if found_tree else {}
    # a key pressed before its label was played: right key, no label -- neither a
    # hit nor a false option
    found = {k: lab for k, lab in found.items() if lab or k in truth or k not in every}
    tp = sum(1 for k, lab in found.items() if k in truth and _label_score(lab, truth[k]) >= LABEL_MIN_SCORE)
    key_tp = sum(1 for k in found if k in truth)
    # a found option under a path the truth never offered is a false positive too
    d = prf(tp, len(found) - tp, len(truth) - tp)
    d["key_only"] = prf(key_tp, len(found) - key_tp, len(truth) - key_tp)
    d["misses"] = sorted(f"{'/'.join(k[0]) or 'root'}:{k[1]} {truth[k]!r}" for k in truth
                         if not (k in found and _label_score(found[k], truth[k]) >= LABEL_MIN_SCORE))
    d["false"] = sorted(f"{'/'.join(k[0]) or 'root'}:{k[1]} {lab!r}" for k, lab in found.items()
                        if not (k in truth and _label_score(lab, truth[k]) >= LABEL_MIN_SCORE))
    return d


def true_listen(true_tree: dict) -> dict[tuple, float]:
    return {tuple(n.get("path") or []): n["listen_after"] for n in true_tree["nodes"]
            if n.get("listen_after") is not None}


def score_waits(true_tree: dict, found_tree: dict | None) -> dict:
    """Recommended waits within [true listen-start, + WAIT_SLACK_S], per node found."""
    need = true_listen(true_tree)
    rows = []
    for n in (found_tree or {}).get("nodes", []):
        p = tuple(n.get("path") or [])
        if p in need and n.get("wait") is not None:
            w = n["wait"]
            rows.append({"path": list(p), "need": need[p], "wait": w,
                         "ok": need[p] - 1e-6 <= w <= need[p] + WAIT_SLACK_S})
    return {"n": len(rows), "ok": sum(r["ok"] for r in rows), "rows": rows}


def score_entries(truth: dict, true_tree: dict, timeline: dict, by: str = "path") -> tuple[int, int]:
    """(right, total) entry tokens for the input nodes this call visited.

    ``by="path"``: the timeline's visit at the true path must carry the token (a press
    misjudged on the way there fails it too). ``by="time"``: the token of the visit
    heard when the input prompt played, wherever the walk placed it: the parser's
    share alone, navigation is scored by the press verdicts."""
    entry = {tuple(n.get("path") or []): n.get("entry") for n in true_tree["nodes"] if n.get("kind") == "input"}
    menus = timeline.get("menus", [])
    found = {tuple(m.get("path") or []): m.get("entry") for m in menus}
    total = right = 0
    for v in truth["visits"]:
        p = tuple(v["path"])
        if p not in entry:
            continue
        total += 1
        if by == "path":
            right += found.get(p) == entry[p]
        else:
            mid = (float(v["start"]) + float(v.get("prompt_end") or v["start"])) / 2
            at = [m for m in menus if m.get("start") is not None
                  and float(m["start"]) - 0.5 <= mid <= float(m.get("end") or m["start"]) + 0.5]
            right += any(m.get("entry") == entry[p] for m in at)
    return right, total


def greeting_error(truth: dict, timeline: dict) -> tuple[float | None, float | None]:
    """Root ``listen_after`` found minus true (seconds from each one's greeting
    onset), and the same for the absolute listen-start time in the file."""
    t = truth["visits"][0].get("listen_after") if truth.get("visits") else None
    root = next((m for m in timeline.get("menus", []) if not m.get("path")), None)
    if t is None or root is None or root.get("listen_after") is None:
        return None, None
    onset = timeline.get("greeting_onset")
    if onset is None:
        onset = root.get("start") or 0.0
    return root["listen_after"] - t, (onset + root["listen_after"]) - (truth["greeting_onset"] + t)


def summarise_errors(errs: list[float]) -> dict:
    a = [abs(e) for e in errs]
    return {"n": len(a), "mean_abs": mean(a) if a else None, "max_abs": max(a) if a else None,
            "mean": mean(errs) if errs else None}


# ------------------------------------------------------------------ menu changes


def _children(tree: dict) -> dict[tuple, dict[str, tuple[str, tuple]]]:
    """{parent path: {key: (label, child path)}} of a contract tree dict."""
    paths = {n["id"]: tuple(n.get("path") or []) for n in tree["nodes"]}
    out: dict = {}
    for e in tree["edges"]:
        out.setdefault(paths.get(e["source"], ()), {})[str(e["key"])] = (
            (e.get("label") or "").lower(), paths.get(e["target"], ()))
    return out


def expected_diff(old: dict, new: dict, timing_min_s: float = 1.0) -> dict:
    """The contract diff between two true trees, computed independently of ivrkit:
    options are paired under paired menus by label (moved when the key changed), then
    by key (relabelled); what is left is added / removed."""
    oc, nc = _children(old), _children(new)
    onode = {tuple(n.get("path") or []): n for n in old["nodes"]}
    nnode = {tuple(n.get("path") or []): n for n in new["nodes"]}
    out = {"added": [], "removed": [], "moved": [], "relabelled": [], "entry": [], "timing": []}

    def compare(po, pn):
        a, b = onode.get(po, {}), nnode.get(pn, {})
        if (a.get("entry") or b.get("entry")) and a.get("entry") != b.get("entry"):
            out["entry"].append({"path": list(pn), "old": a.get("entry"), "new": b.get("entry")})
        x, y = a.get("listen_after"), b.get("listen_after")
        if x is not None and y is not None and abs(x - y) >= timing_min_s:
            out["timing"].append({"path": list(pn), "field": "listen_after", "old": x, "new": y})
        o, n = dict(oc.get(po, {})), dict(nc.get(pn, {}))
        for k, (lab, child) in list(o.items()):
            k2 = next((k2 for k2, (l2, _) in n.items() if l2 == lab), None)
            if k2 is not None:
                if k2 != k:
                    out["moved"].append({"label": lab, "from": list(po) + [k], "to": list(pn) + [k2]})
                compare(child, n[k2][1])
                del o[k], n[k2]
        for k in [k for k in o if k in n]:
            out["relabelled"].append({"path": list(pn), "key": k, "old": o[k][0], "new": n[k][0]})
            compare(o[k][1], n[k][1])
            del o[k], n[k]
        out["removed"] += [{"path": list(po), "key": k, "label": lab} for k, (lab, _) in o.items()]
        out["added"] += [{"path": list(pn), "key": k, "label": lab} for k, (lab, _) in n.items()]

    compare((), ())
    return out


def _diff_item_key(kind: str, item: dict) -> tuple:
    if kind in ("added", "removed", "relabelled"):
        return (tuple(item.get("path") or []), str(item.get("key")))
    if kind == "moved":
        return (tuple(item.get("from") or []), tuple(item.get("to") or []))
    return (tuple(item.get("path") or []), item.get("field", ""))


def score_diff(expected: dict, found: dict | None) -> dict:
    """Per change kind: expected items found (same place / key), and spurious ones;
    entry changes must also name the right tokens."""
    rows = {}
    for kind, items in expected.items():
        exp = {_diff_item_key(kind, i): i for i in items}
        got = {_diff_item_key(kind, i): i for i in (found or {}).get(kind, [])}
        ok = [k for k in exp if k in got and (kind != "entry" or
                                             (got[k].get("old"), got[k].get("new")) == (exp[k]["old"], exp[k]["new"]))]
        rows[kind] = {"expected": len(exp), "right": len(ok), "spurious": len([k for k in got if k not in exp])}
    return rows


# ------------------------------------------------------------------ conditions


def condition_of(press: dict, truth: dict) -> dict[str, str]:
    """Buckets a true press falls into, for recall by condition."""
    d = press["end"] - press["start"]
    return {
        "duration": "<50 ms" if d < 0.05 else "50-100 ms" if d < 0.1 else ">=100 ms",
        "level": "< -20 dBFS" if press["level_db"] < -20 else "-20..-10 dBFS" if press["level_db"] < -10 else ">= -10 dBFS",
        # twist_db = high group minus low group level
        "twist": "high group 4-6 dB louder" if press.get("twist_db", 0) > 4
        else "low group 4-6 dB louder" if press.get("twist_db", 0) < -4 else "within +-4 dB",
        "codec": truth.get("codec", "?") + ("+" + truth["far_codec"] if truth.get("far_codec") else ""),
        "snr": "< 20 dB" if truth.get("snr_db", 99) < 20 else "20-28 dB" if truth.get("snr_db", 99) < 28 else ">= 28 dB",
        "over audio": "over a prompt / music" if press.get("phase") in ("barge", "ignored") else "in a pause",
    }
