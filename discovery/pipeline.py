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
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import networkx as nx

from ivrkit.audio import io as audio_io
from ivrkit.audio.io import AudioError
from ivrkit.trees import textsim

from .cache import AnalysisCache

if TYPE_CHECKING:  # the recognizer and the signal analysis load scipy: imported when used,
    from .asr import Engine  # so a run refused before the work starts is quick


def make_engine(name: str = "auto", model_path=None):
    """``ivrkit.discovery.asr.make_engine`` (imported on first use)."""
    from .asr import make_engine as _make

    return _make(name, model_path)


def analyse_call(path: str | os.PathLike, engine: Engine | None = None,
                 on_stage: Callable[[str], None] | None = None,
                 cache: AnalysisCache | None = None, keys=None) -> dict:
    """Decode, detect, transcribe and walk one call.

    Parameters: ``path`` any recording ffmpeg decodes; ``engine`` a recognizer
    (``make_engine()``'s default when None); ``on_stage`` called with each stage name
    for progress display; ``cache`` an ``AnalysisCache``: a call analysed before by the
    same pipeline and engine is read from it (stage ``"cache"``), else analysed and
    stored; ``keys`` the keys the caller sent (a ``discovery.keys.ListedKey`` list,
    e.g. from ``--keys``; None reads a ``CALL.keys.json`` sidecar beside the call when
    there is one).
    Returns the timeline (the contract's ``ivrkit.timeline/1`` JSON as a dict).
    """
    stage = None if on_stage is None else (lambda _f, st: on_stage(st))
    return analyse_calls([path], engine, cache=cache, on_stage=stage, keys=[keys])[0]


def analyse_calls(paths: Sequence[str | os.PathLike], engine: Engine | None = None,
                  cache: AnalysisCache | None = None,
                  on_stage: Callable[[str, str], None] | None = None,
                  keys: Sequence | None = None, reuse: bool = False,
                  jobs: int | None = None) -> list[dict]:
    """``analyse_call`` for a company's calls, the recognizer loaded once for all of them.

    Each call is decoded, its signal analysed, its speech (and a little audio around
    it) transcribed and its timeline built; ``jobs`` calls at a time (threads sharing
    the one model: ``default_jobs()``, the machine's cores, when None; capped by the
    calls to analyse). The timelines are the same whatever ``jobs`` (each call is heard
    on its own; measured in docs/benchmarks-scale.md). With ``reuse`` (and more than
    one call) the engine is wrapped in a ``ReuseEngine``: a prompt ``reuse.AGREE`` (3)
    calls heard the same way is not decoded again (experimental, off: on the corpus it
    keeps the figures for 1.11x less CPU, see docs/benchmarks-scale.md); an engine with
    ``transcribe_calls`` hears all the calls together, one after the other.
    Cached calls are read from ``cache``. ``on_stage(file, stage)`` reports progress
    (from the worker threads, one call at a time). ``keys``: per call, the keys the
    caller sent (None: its sidecar, if any); a call given keys this way is not cached
    (the cache keys on the sidecar file, not on a list). Returns the timelines in the
    order of ``paths``.
    """
    listed = list(keys) if keys is not None else [None] * len(paths)
    eng = engine if engine is not None else make_engine("auto")
    if reuse and len(paths) > 1:
        eng = with_reuse(eng)
    stage = _one_at_a_time(on_stage or (lambda _f, _s: None))
    out: list[dict | None] = [None] * len(paths)
    ckeys, todo = {}, []
    for n, p in enumerate(paths):
        if cache is not None and listed[n] is None:
            try:
                ckeys[n] = cache.key(p, eng)
            except OSError:  # the analysis below names the file
                pass
            tl = cache.get(ckeys[n]) if n in ckeys else None
            if tl is not None:
                stage(str(p), "cache")
                tl["file"] = Path(p).name
                out[n] = tl
                continue
        todo.append(n)
    run = _analyse_together if hasattr(eng, "transcribe_calls") else _analyse_each
    for n, tl in run([(n, paths[n], listed[n]) for n in todo], eng, stage, jobs):
        out[n] = tl
        if cache is not None and n in ckeys:
            cache.put(ckeys[n], tl)
    return out


def default_jobs() -> int:
    """Calls analysed at once when not told: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


#: glibc's mallopt parameter for the number of malloc arenas (malloc.h M_ARENA_MAX)
_M_ARENA_MAX = -8


def one_malloc_arena() -> bool:
    """Make glibc's malloc serve every thread from one arena (``mallopt(M_ARENA_MAX, 1)``),
    for a process about to analyse calls several at a time: each CTranslate2 worker
    thread otherwise gets an arena of its own that keeps the memory its windows freed.
    Measured (acme-bank, 4 calls, 2 threads): peak 523 -> 443 MB, the same CPU
    (docs/benchmarks-scale.md). A process-wide setting, so the command line calls it
    (before the recognizer's threads start) and the library does not; a library user
    may. Returns False where there is no glibc (nothing changed)."""
    import ctypes

    try:
        return bool(ctypes.CDLL(None).mallopt(_M_ARENA_MAX, 1))
    except (OSError, AttributeError):  # not glibc: musl, macOS, Windows
        return False


def _one_at_a_time(fn: Callable[[str, str], None]) -> Callable[[str, str], None]:
    """``fn`` called under a lock: progress callbacks come from the worker threads."""
    import threading

    lock = threading.Lock()

    def call(f: str, st: str) -> None:
        with lock:
            fn(f, st)
    return call


def _analyse_each(todo, eng, stage, jobs: int | None):
    """``(n, timeline)`` of each ``(n, path, keys)`` of ``todo``, in that order, each call
    decoded, analysed, transcribed and finished by one of ``jobs`` threads. Whisper
    runs in CTranslate2 (outside the GIL), so one call's signal analysis (numpy)
    overlaps another's recognition; the engine's model gets one worker per thread
    (``with_workers``): one model in memory."""
    from concurrent.futures import ThreadPoolExecutor

    n_jobs = min(max(1, default_jobs() if jobs is None else int(jobs)), len(todo))
    if n_jobs > 1 and hasattr(eng, "with_workers"):
        # one call alone keeps the one-worker model (all its threads on that call)
        eng = eng.with_workers(n_jobs)

    def one(path, listed):
        prep = _prepare(path, lambda s: stage(str(path), s), listed)
        stage(str(path), "transcribe")
        g = prep[2]
        utts = eng.transcribe(g.y, g.sr, g.regions) if g.regions else []
        stage(str(path), "parse")
        return _finish(path, prep, utts)

    if n_jobs <= 1:
        for n, path, listed in todo:
            yield n, one(path, listed)
        return
    ex = ThreadPoolExecutor(max_workers=n_jobs, thread_name_prefix="ivrkit-call")
    try:
        futures = [(n, ex.submit(one, path, listed)) for n, path, listed in todo]
        for n, f in futures:
            yield n, f.result()
    finally:
        ex.shutdown(wait=True, cancel_futures=True)  # after an error: calls not started are not run


def _analyse_together(todo, eng, stage, _jobs):
    """``(n, timeline)`` of each ``(n, path, keys)`` of ``todo``: every call decoded and
    analysed, then all heard at once by ``eng.transcribe_calls`` (a ``ReuseEngine``
    remembers prompts across the calls, in their order: serial)."""
    prepared = [(n, path, _prepare(path, lambda s, p=path: stage(str(p), s), listed))
                for n, path, listed in todo]
    for _, path, _ in prepared:
        stage(str(path), "transcribe")
    heard = eng.transcribe_calls([(g.y, g.sr, g.regions) for _, _, (_, _, g) in prepared])
    for (n, path, prep), utts in zip(prepared, heard):
        stage(str(path), "parse")
        yield n, _finish(path, prep, utts)


def _prepare(path, stage, keys=None):
    """Decode and analyse one call; keep only its speech (``Glued``) for the recognizer.

    The recording is streamed: a call longer than ``analysis.CHUNK_S`` is analysed in
    pieces (its mono mix) and its speech read back in a second pass, so a two-hour call
    never sits in memory whole; a shorter one is decoded whole with both sides kept
    (``analysis.analyse_sides``: the IVR's side of a two-sided recording is the one
    analysed and transcribed), as ``timeline.analyse_call`` does. The caller's keys
    (``keys``, else the sidecar) are applied to the detected presses."""
    import itertools

    from ivrkit.audio.analysis import CHUNK_S, OVERLAP_S, analyse_stream

    from . import keys as keys_mod
    from .reuse import Glued, SpanAudio, compact

    listed = keys if keys is not None else keys_mod.read_sidecar(Path(path))
    where = "--keys" if keys is not None else str(keys_mod.sidecar_path(Path(path)))
    sr = audio_io.PHONE_SR
    stage("decode")
    head, n, long_call = [], 0, False
    header_s = audio_io.wav_duration_s(path)
    try:
        # a WAV header says how long the call is: a short one is decoded once, not
        # streamed first to find out (one ffmpeg run per call less)
        blocks = audio_io.stream(path, sr) if header_s is None or header_s > CHUNK_S else iter(())
        for b in blocks:
            head.append(b)
            n += len(b)
            if n > (CHUNK_S + OVERLAP_S) * sr:
                long_call = True
                break
    except AudioError:  # ffmpeg cannot stream it (e.g. AMR with DTX frames): load decides
        long_call = False
    if not long_call:  # short: the whole call, exactly as before
        del head
        from ivrkit.audio.analysis import analyse_sides, ivr_audio

        y, sr = audio_io.load(path, sr=sr, channels="split")
        stage("signal")
        sig = keys_mod.apply_keys(analyse_sides(y, sr), listed, where)
        y = ivr_audio(y, sr)
        return sig, len(y) / sr, Glued([(y, sr, _speech(sig))])
    stage("signal")
    sig = keys_mod.apply_keys(analyse_stream(itertools.chain(head, blocks), sr), listed, where)
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
              cache: AnalysisCache | None = None, reuse: bool = False,
              jobs: int | None = None) -> nx.DiGraph:
    """Analyse every call and merge them into one menu tree.

    Parameters: ``paths`` the company's recordings; ``company`` / ``number`` written
    into the tree (kept from ``into`` when None); ``into`` a tree merged before (new
    calls are added to it; calls already in it are not counted twice); ``engine``
    shared by all calls; ``margin_s`` the wait's safety margin (the default when None);
    ``on_call`` called with each path as its analysis starts; ``cache`` an
    ``AnalysisCache`` (see ``analyse_call``); ``reuse`` stop decoding a prompt once
    ``reuse.AGREE`` (3) calls heard it the same way (``ReuseEngine``, experimental and off: see
    ``analyse_calls``); ``jobs`` calls analysed at once (``analyse_calls``).
    Returns the tree (networkx DiGraph, node-link JSON by ``ivrkit.trees.write_tree``)
    with ``listen_after`` and ``wait`` set on its nodes.
    """
    eng = engine if engine is not None else make_engine("auto")
    paths = list(paths)
    seen: set[str] = set()

    def stage(f: str, _stage: str) -> None:
        if on_call is not None and f not in seen:
            seen.add(f)
            on_call(f)

    timelines = analyse_calls(paths, eng, cache=cache, on_stage=stage, reuse=reuse, jobs=jobs)
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
