"""The pipeline as a library: one call -> timeline, many calls -> menu tree.

These are the functions the CLI, the batch runner, the crawler and notebooks compose;
nothing here prints. Errors a user can fix surface as ``ivrkit.audio.AudioError``
(a recording) or ``ivrkit.discovery.asr.EngineError`` (a model).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

import networkx as nx

from ivrkit.audio import io as audio_io
from ivrkit.audio.io import AudioError
from ivrkit.trees import textsim

if TYPE_CHECKING:  # the recognizer and the signal analysis load scipy: imported when used,
    from .asr import Engine  # so a run refused before the work starts is quick


def _analyse_call(path, engine, on_stage=None, keys=None) -> dict:
    from .timeline import analyse_call

    return analyse_call(path, engine, on_stage, keys=keys)


def make_engine(name: str = "auto", model_path=None):
    """``ivrkit.discovery.asr.make_engine`` (imported on first use)."""
    from .asr import make_engine as _make

    return _make(name, model_path)


def analyse_call(path: str | os.PathLike, engine: Engine | None = None,
                 on_stage: Callable[[str], None] | None = None, keys=None) -> dict:
    """Decode, detect, transcribe and walk one call.

    Parameters: ``path`` any recording ffmpeg decodes; ``engine`` a recognizer
    (``make_engine()``'s default when None); ``on_stage`` called with each stage name
    for progress display; ``keys`` the keys the caller sent (a
    ``discovery.keys.ListedKey`` list; None reads a ``CALL.keys.json`` sidecar beside
    the call when there is one).
    Returns the timeline (the contract's ``ivrkit.timeline/1`` JSON as a dict).
    """
    return _analyse_call(path, engine if engine is not None else make_engine("auto"), on_stage, keys=keys)


def map_calls(paths: Iterable[str | os.PathLike], company: str | None = None,
              number: str | None = None, into: nx.DiGraph | None = None,
              engine: Engine | None = None, margin_s: float | None = None,
              on_call: Callable[[str], None] | None = None) -> nx.DiGraph:
    """Analyse every call and merge them into one menu tree.

    Parameters: ``paths`` the company's recordings; ``company`` / ``number`` written
    into the tree (kept from ``into`` when None); ``into`` a tree merged before (new
    calls are added to it; calls already in it are not counted twice); ``engine``
    shared by all calls; ``margin_s`` the wait's safety margin (the default when None);
    ``on_call`` called with each path before it is analysed.
    Returns the tree (networkx DiGraph, node-link JSON by ``ivrkit.trees.write_tree``)
    with ``listen_after`` and ``wait`` set on its nodes.
    """
    eng = engine if engine is not None else make_engine("auto")
    timelines = []
    for p in paths:
        if on_call is not None:
            on_call(str(p))
        timelines.append(_analyse_call(p, eng))
    return map_timelines(timelines, company=company, number=number, into=into, margin_s=margin_s)


def map_timelines(timelines: list[dict], company: str | None = None, number: str | None = None,
                  into: nx.DiGraph | None = None, margin_s: float | None = None) -> nx.DiGraph:
    """Merge analysed calls (timelines) into a tree and recommend waits."""
    from ivrkit.trees.build import merge_timelines
    from ivrkit.trees.waits import recommend_waits

    G = merge_timelines(timelines, company=company, number=number, graph=into)
    if margin_s is not None:
        recommend_waits(G, margin_s=margin_s)
    return G


# -- before the work: inputs probed, trees checked for whose they are ------------------

@dataclass(frozen=True)
class ProbedCalls:
    """What ``probe_calls`` found. ``good``: the recordings to analyse, each once, in the
    order given; ``bad``: one AudioError per recording that cannot be decoded;
    ``duplicates``: ``(path, same_as)`` for each path that repeats an earlier one (same
    file, or the same bytes under another name); ``sha256``: path -> digest."""

    good: tuple[str, ...]
    bad: tuple[AudioError, ...]
    duplicates: tuple[tuple[str, str], ...]
    sha256: dict


def probe_calls(paths: Iterable[str | os.PathLike]) -> ProbedCalls:
    """Decode-check every recording (``ivrkit.audio.io.check_decodable``) and find the
    ones given twice, before any analysis starts."""
    good, bad, dups, digests, first = [], [], [], {}, {}
    for p in map(str, paths):
        try:
            audio_io.check_decodable(p)
        except AudioError as exc:
            bad.append(exc)
            continue
        digest = audio_io.sha256(p)
        if digest in first:
            dups.append((p, first[digest]))
            continue
        first[digest] = p
        digests[p] = digest
        good.append(p)
    return ProbedCalls(tuple(good), tuple(bad), tuple(dups), digests)


def menu_heard(timeline: dict) -> bool:
    """Whether the call heard any IVR prompt: a visited node with words or options.
    (Silence, noise or a dead line gives a timeline whose only node heard nothing.)"""
    return any((m.get("prompt") or "").strip() or m.get("options") for m in timeline.get("menus") or [])


def root_prompts(timelines: Iterable[dict]) -> list[tuple[str, str]]:
    """``(file, prompt)`` of every call's first hearing of the root menu."""
    out = []
    for tl in timelines:
        for m in tl.get("menus") or []:
            if not m.get("path") and (m.get("prompt") or "").strip():
                out.append((tl.get("file"), m["prompt"]))
                break
    return out


def _digits(number: str | None) -> str:
    return re.sub(r"[^0-9]", "", number or "")


def ownership_conflict(G: nx.DiGraph, company: str | None = None, number: str | None = None,
                       prompts: Iterable[tuple[str, str]] = ()) -> str | None:
    """Why new calls (named ``company`` / ``number``, root ``prompts`` as
    ``(file, prompt)``) are not the calls of tree ``G``, in one phrase; None when nothing
    says so. The greeting test passes when any call's root prompt matches the tree's."""
    tc, tn = G.graph.get("company"), G.graph.get("number")
    if company and tc and textsim.normalize(company) != textsim.normalize(tc):
        return f"it is the tree of {tc!r}, not {company!r}"
    if number and tn and _digits(number) != _digits(tn):
        return f"it is the tree of number {tn}, not {number}"
    tree_prompt = G.nodes["root"].get("prompt") if "root" in G else None
    prompts = list(prompts)
    if not tree_prompt or not prompts:
        return None
    scored = [(textsim.greeting_similarity(p, tree_prompt), f) for f, p in prompts]
    best, file = max(scored)
    if best >= textsim.SAME_GREETING_RATIO:
        return None
    who = f" of {tc!r}" if tc else ""
    return (f"its root prompt{who} does not match the calls' (greeting similarity {best:.0f}% "
            f"for {file}, same company needs {textsim.SAME_GREETING_RATIO:.0f}%)")


def trees_conflict(old: nx.DiGraph, new: nx.DiGraph) -> str | None:
    """Why two trees are not the same company's (so a diff of them means nothing), or None."""
    (oc, on), (nc, nn) = ((G.graph.get("company"), G.graph.get("number")) for G in (old, new))
    if oc and nc and textsim.normalize(oc) != textsim.normalize(nc):
        return f"trees of two companies ({oc!r}, {nc!r})"
    if on and nn and _digits(on) != _digits(nn):
        return f"trees of two numbers ({on}, {nn})"
    a, b = (G.nodes["root"].get("prompt") for G in (old, new))
    if (a or "").strip() and (b or "").strip():
        score = textsim.greeting_similarity(a, b)
        if score < textsim.SAME_GREETING_RATIO:
            return (f"their root prompts do not match (greeting similarity {score:.0f}%, "
                    f"same company needs {textsim.SAME_GREETING_RATIO:.0f}%)")
    return None


# -- merging into a tree file: locked, from its latest state ------------------------

class TreeOwnershipError(ValueError):
    """The calls are not the tree's company; str() says why in one line."""


def lock_path(tree_path: str | os.PathLike) -> Path:
    """The lock file beside a tree (``.NAME.lock``): left in place, as unlinking a lock
    file others wait on would let two writers in at once."""
    p = Path(tree_path)
    return p.with_name(f".{p.name}.lock")


def merge_into(tree_path: str | os.PathLike, timelines: list[dict], out: str | os.PathLike | None = None,
               company: str | None = None, number: str | None = None,
               margin_s: float | None = None, force: bool = False,
               timeout_s: float = 600.0) -> nx.DiGraph:
    """Merge analysed calls into the tree file at ``tree_path`` and write the result to
    ``out`` (default: back to ``tree_path``).

    The tree is re-read under a file lock (``filelock``), so merges running at once each
    add their calls to the other's result. ``force`` merges calls the tree does not
    look like it owns (``ownership_conflict``); the reason is kept in their sources'
    ``forced`` field. Raises TreeOwnershipError (not forced), TreeSchemaError,
    ``filelock.Timeout``.
    """
    from filelock import FileLock

    from ivrkit.trees.io import read_tree, write_tree

    with FileLock(str(lock_path(tree_path)), timeout=timeout_s):
        base = read_tree(tree_path)
        reason = ownership_conflict(base, company, number, root_prompts(timelines))
        if reason and not force:
            raise TreeOwnershipError(reason)
        G = map_timelines(timelines, company=company, number=number, into=base, margin_s=margin_s)
        if reason:
            mark_forced(G, timelines, reason)
        write_tree(G, out or tree_path)
    return G


def mark_forced(G: nx.DiGraph, timelines: Iterable[dict], reason: str) -> None:
    """Record on the sources of ``timelines`` that they were merged despite ``reason``."""
    ids = {tl.get("sha256") or tl.get("file") for tl in timelines}
    for s in G.graph.get("sources") or []:
        if (s.get("sha256") or s.get("file")) in ids:
            s["forced"] = f"merged with --force: {reason}"
