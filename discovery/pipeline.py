"""The pipeline as a library: one call -> timeline, many calls -> menu tree.

These are the functions the CLI, the batch runner, the crawler and notebooks compose;
nothing here prints. Errors a user can fix surface as ``ivrkit.audio.AudioError``
(a recording) or ``ivrkit.discovery.asr.EngineError`` (a model).
"""
from __future__ import annotations

import os
from typing import Callable, Iterable

import networkx as nx

from pathlib import Path

from .asr import Engine, make_engine
from .cache import AnalysisCache


def _analyse_call(path, engine, on_stage=None) -> dict:
    # imported on use: the signal analysis pulls in scipy, which a cached call skips
    from .timeline import analyse_call

    return analyse_call(path, engine, on_stage)


def analyse_call(path: str | os.PathLike, engine: Engine | None = None,
                 on_stage: Callable[[str], None] | None = None,
                 cache: AnalysisCache | None = None) -> dict:
    """Decode, detect, transcribe and walk one call.

    Parameters: ``path`` any recording ffmpeg decodes; ``engine`` a recognizer
    (``make_engine()``'s default when None); ``on_stage`` called with each stage name
    for progress display; ``cache`` an ``AnalysisCache``: a call analysed before by the
    same pipeline and engine is read from it (stage ``"cache"``), else analysed and
    stored.
    Returns the timeline (the contract's ``ivrkit.timeline/1`` JSON as a dict).
    """
    eng = engine if engine is not None else make_engine("auto")
    if cache is None:
        return _analyse_call(path, eng, on_stage)
    try:
        key = cache.key(path, eng)
    except OSError:  # missing / unreadable: the analysis says so, naming the file
        return _analyse_call(path, eng, on_stage)
    tl = cache.get(key)
    if tl is not None:
        if on_stage is not None:
            on_stage("cache")
        tl["file"] = Path(path).name  # the same bytes may come under another name
        return tl
    tl = _analyse_call(path, eng, on_stage)
    cache.put(key, tl)
    return tl


def map_calls(paths: Iterable[str | os.PathLike], company: str | None = None,
              number: str | None = None, into: nx.DiGraph | None = None,
              engine: Engine | None = None, margin_s: float | None = None,
              on_call: Callable[[str], None] | None = None,
              cache: AnalysisCache | None = None) -> nx.DiGraph:
    """Analyse every call and merge them into one menu tree.

    Parameters: ``paths`` the company's recordings; ``company`` / ``number`` written
    into the tree (kept from ``into`` when None); ``into`` a tree merged before (new
    calls are added to it; calls already in it are not counted twice); ``engine``
    shared by all calls; ``margin_s`` the wait's safety margin (the default when None);
    ``on_call`` called with each path before it is analysed; ``cache`` an
    ``AnalysisCache`` (see ``analyse_call``).
    Returns the tree (networkx DiGraph, node-link JSON by ``ivrkit.trees.write_tree``)
    with ``listen_after`` and ``wait`` set on its nodes.
    """
    eng = engine if engine is not None else make_engine("auto")
    timelines = []
    for p in paths:
        if on_call is not None:
            on_call(str(p))
        timelines.append(analyse_call(p, eng, cache=cache))
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
