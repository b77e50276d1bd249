"""The pipeline as a library: one call -> timeline, many calls -> menu tree.

These are the functions the CLI, the batch runner, the crawler and notebooks compose;
nothing here prints. Errors a user can fix surface as ``ivrkit.audio.AudioError``
(a recording) or ``ivrkit.discovery.asr.EngineError`` (a model).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, Sequence

import networkx as nx
import numpy as np

from .asr import Engine, make_engine
from .cache import AnalysisCache


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
    stage = None if on_stage is None else (lambda _f, st: on_stage(st))
    return analyse_calls([path], engine, cache=cache, on_stage=stage)[0]


def analyse_calls(paths: Sequence[str | os.PathLike], engine: Engine | None = None,
                  cache: AnalysisCache | None = None,
                  on_stage: Callable[[str, str], None] | None = None) -> list[dict]:
    """``analyse_call`` for a company's calls, the recognizer run once for all of them.

    Each call is decoded and its signal analysed; its speech (and a little audio
    around it) is kept, the rest dropped. An engine with ``transcribe_calls``
    (``ReuseEngine``) then hears every call's speech in one go: each prompt once,
    packed across calls. Cached calls are read from ``cache``. ``on_stage(file,
    stage)`` reports progress. Returns the timelines in the order of ``paths``.
    """
    eng = engine if engine is not None else make_engine("auto")
    stage = on_stage or (lambda _f, _s: None)
    out: list[dict | None] = [None] * len(paths)
    keys, pending = {}, []
    for n, p in enumerate(paths):
        if cache is not None:
            try:
                keys[n] = cache.key(p, eng)
            except OSError:  # the analysis below names the file
                pass
            tl = cache.get(keys[n]) if n in keys else None
            if tl is not None:
                stage(str(p), "cache")
                tl["file"] = Path(p).name
                out[n] = tl
                continue
        pending.append((n, _prepare(p, lambda s, p=p: stage(str(p), s))))
    if pending:
        for n, _ in pending:
            stage(str(paths[n]), "transcribe")
        parts = [(g.y, g.sr, g.regions) for _, (_, _, g) in pending]
        if hasattr(eng, "transcribe_calls"):
            heard = eng.transcribe_calls(parts)
        else:
            heard = [eng.transcribe(*part) if part[2] else [] for part in parts]
        for (n, prep), utts in zip(pending, heard):
            stage(str(paths[n]), "parse")
            out[n] = _finish(paths[n], prep, utts)
            if cache is not None and n in keys:
                cache.put(keys[n], out[n])
    return out


def _prepare(path, stage):
    """Decode and analyse one call; keep only its speech (``Glued``) for the recognizer.

    The recording is streamed: a call longer than ``analysis.CHUNK_S`` is analysed in
    pieces and its speech read back in a second pass, so a two-hour call never sits in
    memory whole; a shorter one is analysed whole, as ``analyse`` always did."""
    import itertools

    from ivrkit.audio import io as audio_io
    from ivrkit.audio.analysis import CHUNK_S, OVERLAP_S, analyse, analyse_stream

    from .reuse import Glued, SpanAudio, compact

    sr = audio_io.PHONE_SR
    stage("decode")
    blocks = audio_io.stream(path, sr)
    head, n = [], 0
    for b in blocks:
        head.append(b)
        n += len(b)
        if n > (CHUNK_S + OVERLAP_S) * sr:
            break
    else:  # short: the whole call, exactly as before
        y = np.concatenate(head) if head else np.zeros(0, np.float32)
        stage("signal")
        sig = analyse(y, sr)
        return sig, len(y) / sr, Glued([(y, sr, _speech(sig))])
    stage("signal")
    sig = analyse_stream(itertools.chain(head, blocks), sr)
    del head
    speech = _speech(sig)
    spans = tuple(compact(speech, sig.duration_s))
    audio = SpanAudio(spans, tuple(audio_io.read_spans(path, spans, sr)), sig.duration_s)
    return sig, sig.duration_s, Glued([(audio, sr, speech)])


def _speech(sig) -> list[tuple[float, float]]:
    return [(r.start_s, r.end_s) for r in sig.regions if r.kind == "speech"]


def _finish(path, prep, utterances) -> dict:
    """The timeline of a prepared call from the utterances heard in its glued speech."""
    from ivrkit.audio import io as audio_io

    from .timeline import build_timeline

    sig, dur_s, g = prep
    (utts,) = g.split(utterances, 1)
    return build_timeline(Path(path).name, dur_s, sig, utts, sha256=audio_io.sha256(path))


def map_calls(paths: Iterable[str | os.PathLike], company: str | None = None,
              number: str | None = None, into: nx.DiGraph | None = None,
              engine: Engine | None = None, margin_s: float | None = None,
              on_call: Callable[[str], None] | None = None,
              cache: AnalysisCache | None = None, reuse: bool = False) -> nx.DiGraph:
    """Analyse every call and merge them into one menu tree.

    Parameters: ``paths`` the company's recordings; ``company`` / ``number`` written
    into the tree (kept from ``into`` when None); ``into`` a tree merged before (new
    calls are added to it; calls already in it are not counted twice); ``engine``
    shared by all calls; ``margin_s`` the wait's safety margin (the default when None);
    ``on_call`` called with each path as its analysis starts; ``cache`` an
    ``AnalysisCache`` (see ``analyse_call``); ``reuse`` recognise each prompt once for
    all these calls (``ReuseEngine``; experimental and off by default: on the corpus
    it lowered option F1 from 86 % to 69 %, see docs/benchmarks-scale.md).
    Returns the tree (networkx DiGraph, node-link JSON by ``ivrkit.trees.write_tree``)
    with ``listen_after`` and ``wait`` set on its nodes.
    """
    eng = engine if engine is not None else make_engine("auto")
    if reuse:
        eng = with_reuse(eng)
    paths = list(paths)
    seen: set[str] = set()

    def stage(f: str, _stage: str) -> None:
        if on_call is not None and f not in seen:
            seen.add(f)
            on_call(f)

    timelines = analyse_calls(paths, eng, cache=cache, on_stage=stage)
    return map_timelines(timelines, company=company, number=number, into=into, margin_s=margin_s)


def with_reuse(engine: Engine) -> Engine:
    """``engine`` wrapped in a ``ReuseEngine`` (one per company: it remembers prompts)."""
    from .reuse import ReuseEngine

    return engine if isinstance(engine, ReuseEngine) else ReuseEngine(engine)


def map_timelines(timelines: list[dict], company: str | None = None, number: str | None = None,
                  into: nx.DiGraph | None = None, margin_s: float | None = None) -> nx.DiGraph:
    """Merge analysed calls (timelines) into a tree and recommend waits."""
    from ivrkit.trees.build import merge_timelines
    from ivrkit.trees.waits import recommend_waits

    G = merge_timelines(timelines, company=company, number=number, graph=into)
    if margin_s is not None:
        recommend_waits(G, margin_s=margin_s)
    return G
