"""Tree <-> the contract's tree JSON (networkx node-link data, ``ivrkit.tree/1``)."""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import networkx as nx

SCHEMA = "ivrkit.tree/1"
KINDS = ("menu", "agent", "input", "info", "back", "unknown")


class TreeSchemaError(ValueError):
    """A tree file that is not an ``ivrkit.tree/1`` tree; str() is one line naming the problem."""


def tree_to_json(G: nx.DiGraph) -> dict:
    d = nx.node_link_data(G, edges="edges")
    d["graph"] = dict(d.get("graph") or {})
    d["graph"].setdefault("schema", SCHEMA)
    return json.loads(json.dumps(d))  # tuples -> lists: what a reader gets back


def _fail(msg: str):
    raise TreeSchemaError(msg)


#: A wait longer than this is not a menu's: no IVR plays a prompt for ten minutes
#: before it listens (a hand-edited or damaged file).
MAX_WAIT_S = 600.0


def _check_seconds(v, what: str, max_s: float | None = None) -> None:
    """A time field: null, or a finite number (``0..max_s`` when a bound is given)."""
    if v is None:
        return
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        _fail(f"{what} must be a number of seconds or null, found {v!r}")
    if max_s is not None and not 0.0 <= v <= max_s:
        _fail(f"{what} is {v} s, outside 0..{max_s:.0f} s")


def _check_header(d) -> None:
    if not isinstance(d, dict):
        _fail(f"expected a JSON object, found {type(d).__name__}")
    graph = d.get("graph")
    if not isinstance(graph, dict):
        _fail("missing 'graph' object")
    schema = graph.get("schema")
    if schema != SCHEMA:
        _fail(f"schema is {schema!r}, expected {SCHEMA!r}")
    if d.get("directed") is not True or d.get("multigraph", False) is not False:
        _fail("not a directed simple graph (directed must be true, multigraph false)")
    if not isinstance(d.get("nodes"), list) or not isinstance(d.get("edges"), list):
        _fail("'nodes' and 'edges' must be lists")
    for f in ("company", "number"):
        if graph.get(f) is not None and not isinstance(graph[f], str):
            _fail(f"graph {f} must be text or null")
    _check_seconds(graph.get("answer_to_onset"), "graph answer_to_onset")


def _check_node(i: int, n, ids: set) -> None:
    if not isinstance(n, dict) or not isinstance(n.get("id"), str):
        _fail(f"node #{i} has no string 'id'")
    if n["id"] in ids:
        _fail(f"node {n['id']!r} appears twice")
    path = n.get("path")
    if not isinstance(path, list) or not all(isinstance(k, str) for k in path):
        _fail(f"node {n['id']!r}: 'path' must be a list of keys")
    if ("/".join(path) or "root") != n["id"]:
        _fail(f"node {n['id']!r}: id does not match its path {path}")
    if n.get("kind") not in KINDS:
        _fail(f"node {n['id']!r}: kind {n.get('kind')!r} is not one of {', '.join(KINDS)}")
    for f in ("listen_after", "wait", "latency"):
        _check_seconds(n.get(f), f"node {n['id']!r}: {f}", MAX_WAIT_S if f == "wait" else None)
    for f in ("prompt", "entry"):
        if n.get(f) is not None and not isinstance(n[f], str):
            _fail(f"node {n['id']!r}: {f} must be text or null")


def _check_edge(i: int, e, ids: set) -> None:
    if not isinstance(e, dict) or e.get("source") not in ids or e.get("target") not in ids:
        _fail(f"edge #{i} does not join two known nodes")
    if not isinstance(e.get("key"), str) or not e["key"]:
        _fail(f"edge {e['source']}->{e['target']}: missing 'key'")
    if e.get("label") is not None and not isinstance(e["label"], str):
        _fail(f"edge {e['source']}->{e['target']}: label must be text or null")
    _check_seconds(e.get("latency"), f"edge {e['source']}->{e['target']}: latency")


def tree_from_json(d) -> nx.DiGraph:
    """The tree in ``d``; TreeSchemaError when it is another schema, malformed, or not a tree."""
    _check_header(d)
    ids: set = set()
    for i, n in enumerate(d["nodes"]):
        _check_node(i, n, ids)
        ids.add(n["id"])
    if "root" not in ids:
        _fail("no 'root' node")
    for i, e in enumerate(d["edges"]):
        _check_edge(i, e, ids)
    try:
        G = nx.node_link_graph(d, directed=True, multigraph=False, edges="edges")
    except (KeyError, TypeError, ValueError) as exc:
        _fail(f"malformed node-link data ({exc})")
    if not nx.is_arborescence(G):
        _fail("not a tree (every node but root needs exactly one parent, no cycles)")
    if G.in_degree("root") != 0:
        _fail("'root' has a parent")
    for u, v, k in G.edges(data="key"):
        if G.nodes[v]["path"] != G.nodes[u]["path"] + [k]:
            _fail(f"edge {u}->{v}: key {k!r} does not lead to path {G.nodes[v]['path']}")
    return G


def read_tree(path) -> nx.DiGraph:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        _fail("not a text file")
    except OSError as exc:
        _fail(f"cannot read ({exc.strerror or exc})")
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(f"not JSON ({exc.msg} at line {exc.lineno})")
    return tree_from_json(d)


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it: put it straight back
    os.umask(mask)
    return mask


def write_tree(G: nx.DiGraph, path) -> None:
    """Write the tree JSON; a temporary file is renamed over ``path`` so a reader never
    sees half a file and a failure leaves the old file as it was."""
    p = Path(path)
    text = json.dumps(tree_to_json(G), indent=2, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent or ".")
    try:
        # mkstemp makes the file 0600; a tree is a document like any other the user
        # writes, so it gets the user's umask (as open() would give it)
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
