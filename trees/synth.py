"""Synthetic call timelines with known truth, for tests and benchmarks of the merge.

A company is a nested spec::

    {"greeting": "Welcome to Northwind.", "kind": "menu", "listen_after": 7.4,
     "options": {"1": {"label": "billing and payments", "kind": "menu", ...},
                 "9": {"label": "to return to the main menu", "role": "back"}}}

``simulate_call`` walks it with a caller's presses ``[(key, seconds after the node's
prompt started), ...]`` and returns the timeline dict discovery would produce for a
perfect recording (optionally with the classic discovery mistakes switched on).
"""
from __future__ import annotations

import hashlib

import numpy as np

SPEECH_RATE_S_PER_WORD = 0.35
ENTRY_PROMPTS = {"ID#": "Please enter your nine digit ID number followed by the pound key.",
                 "Tel#": "Please enter the phone number on your account followed by the pound key.",
                 "4D": "Please enter the last four digits of your card."}


def node_at(spec: dict, path) -> dict:
    node = spec
    for k in path:
        node = node["options"][k]
    return node


def prompt_text(node: dict) -> str:
    if node.get("prompt"):  # the words as given (another language's phrasing)
        return node["prompt"]
    parts = [node.get("greeting") or ""]
    if node.get("kind") == "input":
        parts.append(ENTRY_PROMPTS.get(node.get("entry"), "Please enter your number."))
    for k, o in (node.get("options") or {}).items():
        if o.get("role") == "repeat":
            parts.append(f"To hear these options again, press {k}.")
        elif o.get("role") == "back":
            parts.append(f"To return to the main menu, press {k}.")
        else:
            parts.append(f"For {o['label']}, press {k}.")
    return " ".join(p for p in parts if p).strip()


def _option_times(node: dict, start_s: float) -> list[dict]:
    t = start_s + len((node.get("greeting") or "").split()) * SPEECH_RATE_S_PER_WORD
    out = []
    for k, o in (node.get("options") or {}).items():
        n = 4 + len((o.get("label") or "").split())
        out.append({"key": k, "label": o.get("label") or "", "start": round(t, 2),
                    "end": round(t + n * SPEECH_RATE_S_PER_WORD, 2), "role": o.get("role") or "option"})
        t += n * SPEECH_RATE_S_PER_WORD + 0.3
    return out


def _visit(spec: dict, path, start_s: float, via, rng, estimate_noise_s: float,
           node: dict | None = None) -> dict:
    """One timeline visit of the node at ``path`` (``node`` when given), its listen
    start estimated with ``estimate_noise_s`` of Gaussian noise."""
    node = node if node is not None else node_at(spec, path)
    est = node.get("listen_after", 0.0) + (rng.normal(0, estimate_noise_s) if estimate_noise_s else 0.0)
    v = {"path": list(path), "kind": node.get("kind", "menu"), "start": round(start_s, 2), "end": None,
         "prompt": prompt_text(node), "listen_after": round(max(0.0, est), 2),
         "listen_bounds": [None, None], "options": _option_times(node, start_s),
         "entry": node.get("entry") if node.get("kind") == "input" else None,
         "via": via, "presses": [], "keyed": None}
    if node.get("lang"):
        v["lang"] = node["lang"]
    return v


def _misread_split(cur: dict, path: list, node: dict, key: str, at_s: float, t: float,
                   new_visit) -> dict:
    """An ignored press read as accepted: ``cur`` ends at it, and the rest of the
    prompt (of ``node``, at ``path``) becomes a visit of ``key``'s child; returns it."""
    cur["end"] = t
    rest = prompt_text(node).split()
    spoken = int(at_s / SPEECH_RATE_S_PER_WORD)
    # what discovery transcribes for a visit ends at the press
    cur["prompt"] = " ".join(rest[:spoken])
    v = new_visit(path + [key], t + 0.1 + 0.05, {"key": key, "time": t, "latency": 0.05}, node=node)
    v["prompt"] = " ".join(rest[spoken:])
    v["options"] = [o for o in v["options"] if o["start"] >= v["start"]]
    v["kind"] = node.get("kind", "menu")
    return v


def _next_path(path: list, key: str, opt: dict) -> list:
    """Where an accepted option leads: back to the root, the same node, or its child."""
    if opt.get("role") == "back":
        return []
    if opt.get("role") == "repeat":
        return path
    return path + [key]


def simulate_call(spec: dict, presses, file: str = "call.wav", answer_s: float = 2.0,
                  onset_s: float = 0.8, latency_s: float = 0.8, estimate_noise_s: float = 0.0,
                  misread_ignored: bool = False, seed: int = 0) -> dict:
    """Timeline of one call; ``presses`` are ``(key, seconds from the node's prompt start)``.

    A key pressed before the node listens (its true ``listen_after``) is ignored; after,
    it is accepted and moves the call. With ``misread_ignored`` an ignored press is
    reported as accepted and the rest of the prompt as a new visit (discovery's mistake
    the merge must fold back). An input node takes the entry token as its key.
    """
    rng = np.random.default_rng(seed)
    visits = []

    def new_visit(p, start, via, node=None):
        visits.append(_visit(spec, p, start, via, rng, estimate_noise_s, node))
        return visits[-1]

    path: list[str] = []
    t0 = answer_s + onset_s
    cur, cur_start = new_visit(path, t0, None), t0
    for key, at in presses:
        node = node_at(spec, path)
        t = round(cur_start + at, 2)
        accepted = at >= node.get("listen_after", 0.0)
        if node.get("kind") == "input" and key == node.get("entry"):
            cur["keyed"] = "123456789#"
            cur["presses"].append({"key": "1", "time": t, "end": round(t + 0.1, 2), "accepted": accepted})
            cur["end"] = round(t + 2.0, 2)
            if node.get("then") is None:
                break
            path = path + [key]
            cur_start = t + 2.0 + latency_s
            cur = new_visit(path, cur_start, None)
            continue
        cur["presses"].append({"key": key, "time": t, "end": round(t + 0.1, 2), "accepted": accepted or misread_ignored})
        if not accepted:
            if misread_ignored:
                cur = _misread_split(cur, path, node, key, at, t, new_visit)
            continue
        cur["end"] = t
        path = _next_path(path, key, node["options"][key])
        cur_start = round(t + 0.1 + latency_s, 2)
        cur = new_visit(path, cur_start, {"key": key, "time": t, "latency": latency_s})
    end = (cur["start"] or 0) + 10.0
    cur["end"] = round(end, 2)
    return {"schema": "ivrkit.timeline/1", "file": file,
            "sha256": hashlib.sha256(f"{file}{presses}{seed}".encode()).hexdigest(),
            "duration": round(end, 2), "answer": answer_s, "greeting_onset": round(t0, 2),
            "events": [], "menus": visits}
