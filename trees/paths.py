"""Services a caller can reach, each by its fastest key path, with the waits."""
from __future__ import annotations

import networkx as nx

from . import textsim

SERVICE_KINDS = ("agent", "info", "input", "unknown")
from .model import DTMF_KEYS, key_order  # noqa: F401  (DTMF_KEYS: export imports it from here)
#: Wait assumed at a node with no timing evidence at all (the caller pressed through
#: it but nothing says when it listened): an ordinary menu transition plus a short
#: prompt. The entry is marked unverified.
UNKNOWN_WAIT_S = 3.0


def _label(G, u, v) -> str:
    d = G.edges[u, v]
    if d.get("role") == "entry":
        return None
    return d.get("label") or f"key {d.get('key')}"


def _step(G, node) -> tuple[float, bool]:
    w = G.nodes[node].get("wait")
    return (float(w), True) if w is not None else (UNKNOWN_WAIT_S, False)


def route(G: nx.DiGraph, node: str) -> dict:
    """Keys, waits, labels and total seconds from the answer of the call to ``node``."""
    chain = nx.shortest_path(G, "root", node)
    a2o = G.graph.get("answer_to_onset") or 0.0
    keys, waits, labels = [], [], []
    verified = True
    elapsed = 0.0
    for i, (u, v) in enumerate(zip(chain, chain[1:])):
        w, ok = _step(G, u)
        verified &= ok
        lead = a2o if i == 0 else (G.edges[chain[i - 1], u].get("latency") or 0.0)
        du = G.nodes[u]
        if du.get("kind") == "input" and du.get("entry") and G.edges[u, v].get("role") != "entry":
            # a key pressed after the data entry (the walk saw no node in between):
            # the entry comes first; how long the next prompt takes is not known
            keys.append(du["entry"])
            waits.append(round(lead + w, 1))
            elapsed += lead + w
            lead, w, verified = 0.0, UNKNOWN_WAIT_S, False
        waits.append(round(lead + w, 1))
        elapsed += lead + w
        keys.append(G.edges[u, v]["key"])
        lab = _label(G, u, v)
        if lab:
            labels.append(lab)
    last = G.nodes[node]
    if last.get("kind") == "input" and last.get("entry"):
        w, ok = _step(G, node)
        verified &= ok
        lead = G.edges[chain[-2], node].get("latency") or 0.0 if len(chain) > 1 else a2o
        keys.append(last["entry"])
        waits.append(round(lead + w, 1))
        elapsed += lead + w
    elif len(chain) > 1:
        elapsed += G.edges[chain[-2], node].get("latency") or 0.0
    return {"node": node, "path": list(last.get("path") or []), "keys": keys, "waits": waits,
            "labels": labels, "seconds": round(elapsed, 2), "verified": verified and last.get("kind") != "unknown"}


def services(G: nx.DiGraph) -> list[dict]:
    """Every service (agent / info / input leaf, and unknown leaves, unverified) by its
    fastest path: services with the same final label and kind reached several ways
    keep only the route that takes the fewest seconds (not the fewest keys)."""
    found = []
    for n, d in G.nodes(data=True):
        if n == "root" or G.out_degree(n) or d.get("kind") not in SERVICE_KINDS:
            continue
        r = route(G, n)
        r["kind"] = d["kind"]
        r["service"] = " / ".join(r["labels"])
        found.append(r)
    groups: list[list[dict]] = []
    for r in sorted(found, key=lambda r: (r["seconds"], len(r["keys"]), r["path"])):
        name = r["labels"][-1] if r["labels"] else r["node"]
        for g in groups:
            g0 = g[0]
            if g0["kind"] == r["kind"] and textsim.same_label(name, g0["labels"][-1] if g0["labels"] else g0["node"]):
                g.append(r)
                break
        else:
            groups.append([r])
    out = []
    for g in groups:
        best = g[0]
        best["alternatives"] = [x["path"] for x in g[1:]]
        out.append(best)
    out.sort(key=lambda r: [key_order(k) for k in r["path"]])
    return out
