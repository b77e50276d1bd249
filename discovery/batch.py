"""A directory's worth of companies: one folder per company -> one tree per company
and one directory-wide export.

    calls/                        out/
      acme-bank/                    acme-bank.json       (the company's tree)
        company.json                acme-bank.diff.json  (with --since, when its menu changed)
        call01.wav ...              directory.json / directory.csv
      bluebird-airlines/ ...

``company.json``: ``{"company": "Acme Bank", "number": "1-800-555-0100", "languages": ["en", "es"]}``
(``number`` and ``languages`` optional; ``lang`` is read as another name for
``languages``). A company's languages pick its recognizer as ``discover map --lang``
does: none or English alone, the default engine; others, the multilingual one.

Each company is one task, ``map_company``: a plain function of plain arguments that
returns plain JSON, so the same function runs in this process (``jobs=1``), in local
worker processes (``jobs=N``) or on a Dask cluster (``scheduler="tcp://host:8786"``),
and the trees are the same whichever runs it. A worker reads the calls at the paths
given, so a cluster's workers need the folder at the same path (a shared disk).
Nothing is written until every company is done.
"""
from __future__ import annotations

import concurrent.futures as cf
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

__all__ = ["CompanyJob", "BatchError", "read_batch", "read_company", "map_company", "run_batch",
           "write_batch", "AUDIO_SUFFIXES", "COMPANY_FILE"]

COMPANY_FILE = "company.json"
#: What counts as a call in a company folder (what ffmpeg decodes, by name).
AUDIO_SUFFIXES = (".wav", ".mp3", ".m4a", ".amr", ".gsm", ".ogg", ".oga", ".opus", ".flac",
                  ".aac", ".au", ".aif", ".aiff", ".wma", ".webm", ".mp4")


class BatchError(ValueError):
    """Bad batch input; ``str()`` is one line naming the file."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = str(path)
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True)
class CompanyJob:
    """One company folder, checked: its name, number, languages and calls (sorted)."""

    slug: str
    folder: str
    company: str
    number: str | None
    lang: tuple[str, ...]
    calls: tuple[str, ...]


def slugify(name: str) -> str:
    """``"Acme Bank"`` -> ``"acme-bank"`` (file names of the outputs)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "company"


def read_company(folder: str | os.PathLike) -> CompanyJob:
    """Read and check one company folder; raises ``BatchError`` naming the bad file."""
    d = Path(folder)
    meta = d / COMPANY_FILE
    if not meta.is_file():
        raise BatchError(meta, "missing (every company folder needs one: "
                               '{"company": "...", "number": "...", "languages": ["en"]})')
    try:
        doc = json.loads(meta.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BatchError(meta, f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("company"), str) or not doc["company"].strip():
        raise BatchError(meta, 'needs a "company" name (a non-empty string)')
    number = doc.get("number")
    if number is not None and not isinstance(number, (str, int)):
        raise BatchError(meta, '"number" must be a string')
    lang = _read_languages(meta, doc)
    calls = sorted(str(p) for p in d.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not calls:
        raise BatchError(d, f"no calls in the company folder (audio files: {', '.join(AUDIO_SUFFIXES[:6])} ...)")
    for c in calls:
        if Path(c).stat().st_size == 0:
            raise BatchError(c, "empty file (0 bytes)")
    return CompanyJob(slugify(d.name), str(d), doc["company"].strip(),
                      str(number) if number is not None else None, tuple(lang), tuple(calls))


def _read_languages(meta: Path, doc: dict) -> tuple[str, ...]:
    """The ``languages`` (or ``lang``) of a company.json, checked as ``--lang`` is."""
    from .asr import EngineError, parse_languages

    if "languages" in doc and "lang" in doc and doc["languages"] != doc["lang"]:
        raise BatchError(meta, 'give "languages" or "lang", not both')
    lang = doc.get("languages", doc.get("lang")) or []
    if isinstance(lang, str):
        lang = [lang]
    if not isinstance(lang, list) or not all(isinstance(x, str) and x for x in lang):
        raise BatchError(meta, '"languages" must be a list of language codes, e.g. ["he", "ru", "en"]')
    try:
        return parse_languages(lang) or () if lang else ()
    except EngineError as exc:
        raise BatchError(meta, f'"languages": {str(exc).removeprefix("--lang ")}') from None


def read_batch(directory: str | os.PathLike) -> list[CompanyJob]:
    """Every company folder under ``directory`` (hidden ones skipped), checked before
    any work; raises ``BatchError`` on the first bad one."""
    d = Path(directory)
    if not d.is_dir():
        raise BatchError(d, "no such folder" if not d.exists() else "not a folder")
    folders = sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise BatchError(d, f"no company folders in it (one folder per company, each with {COMPANY_FILE} and calls)")
    jobs = [read_company(f) for f in folders]
    seen: dict[str, str] = {}
    for j in jobs:
        if j.slug in seen:
            raise BatchError(j.folder, f"same output name {j.slug!r} as {seen[j.slug]}")
        seen[j.slug] = j.folder
    return jobs


def _make_engine(engine: str, model: str | None, lang: tuple[str, ...]):
    """The company's recognizer: its languages choose it, as ``--lang`` does."""
    from .asr import make_engine

    return make_engine(engine, model, languages=list(lang) or None)


def map_company(job: CompanyJob, engine: str = "auto", model: str | None = None,
                cache_dir: str | None = None, use_cache: bool = True, call_jobs: int | None = None) -> dict:
    """Analyse one company's calls and merge them: the task a worker runs.

    Parameters: ``engine`` / ``model`` as ``make_engine`` takes them (each worker loads
    its model once); ``cache_dir`` the analysis cache (None: the worker's default
    folder); ``use_cache`` False reads and writes none; ``call_jobs`` the company's
    calls analysed at once (``pipeline.analyse_calls``; None: the worker's cores).
    Returns ``{"slug", "tree" (tree JSON), "calls", "audio_s"}``.
    """
    from ivrkit.trees.io import tree_to_json

    from .cache import AnalysisCache
    from .pipeline import analyse_calls, map_timelines

    eng = _make_engine(engine, model, job.lang)
    cache = AnalysisCache(cache_dir) if use_cache else None
    timelines = analyse_calls(list(job.calls), eng, cache=cache, jobs=call_jobs)
    G = map_timelines(timelines, company=job.company, number=job.number)
    return {"slug": job.slug, "tree": tree_to_json(G), "calls": len(timelines),
            "audio_s": round(sum(t["duration"] for t in timelines), 3)}


class _InProcess(cf.Executor):
    """The serial case behind the same ``submit`` / futures interface as the pools."""

    def submit(self, fn, /, *args, **kwargs):
        f: cf.Future = cf.Future()
        try:
            f.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the caller through the future
            f.set_exception(exc)
        return f


def connect(scheduler: str, timeout_s: float = 10.0):
    """A ``distributed.Client`` of the Dask scheduler at ``tcp://host:port``; raises
    OSError when it cannot be reached within ``timeout_s``."""
    from distributed import Client

    return Client(scheduler, timeout=f"{timeout_s}s")


def _executor(jobs: int, scheduler):
    """(executor, closer): in-process, a process pool, or a Dask cluster's executor
    (``scheduler``: an address, or a ``distributed.Client`` the caller keeps)."""
    if scheduler is not None and not isinstance(scheduler, str):
        return scheduler.get_executor(), lambda: None
    if scheduler:
        client = connect(scheduler)
        return client.get_executor(), client.close
    if jobs > 1:
        pool = cf.ProcessPoolExecutor(max_workers=jobs)
        return pool, pool.shutdown
    return _InProcess(), lambda: None


def run_batch(jobs: list[CompanyJob], n_jobs: int = 1, scheduler=None,
              engine: str = "auto", model: str | None = None, cache_dir: str | None = None,
              use_cache: bool = True, on_done: Callable[[dict], None] | None = None) -> list[dict]:
    """Map every company (``map_company``) serially, on ``n_jobs`` local processes or on
    the Dask scheduler at ``scheduler`` (an address or a ``distributed.Client``); ``on_done`` is called with each result as it
    arrives. Returns the results in the order of ``jobs``. A task's error (a call
    ffmpeg cannot decode) is raised here once the others are stopped."""
    ex, close = _executor(n_jobs, scheduler)
    futures: dict = {}
    try:
        # local processes share the cores already: each maps its company's calls one at a time
        call_jobs = 1 if scheduler is None and n_jobs > 1 else None
        futures = {ex.submit(map_company, j, engine, model, cache_dir, use_cache, call_jobs): j.slug for j in jobs}
        done: dict[str, dict] = {}
        for f in cf.as_completed(futures):
            r = f.result()
            done[r["slug"]] = r
            if on_done is not None:
                on_done(r)
    finally:
        for f in futures:
            f.cancel()  # after an error: the companies not started yet are not run
        close()
    return [done[j.slug] for j in jobs]


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _changed(d: dict) -> bool:
    # "unconfirmed" counts: the diff file says which changes no call heard to the end
    return any(d.get(k) for k in ("added", "removed", "moved", "relabelled", "entry", "timing", "unconfirmed"))


def write_batch(results: list[dict], out_dir: str | os.PathLike, since: dict | None = None) -> dict:
    """Write ``OUT/SLUG.json`` per company and ``OUT/directory.json`` / ``.csv``.

    ``since``: old trees by slug (``read_since``): the directory files then hold only
    entries new or changed since them, and ``OUT/SLUG.diff.json`` is written for each
    company whose menu changed. Returns ``{"entries": n, "changed": [slugs]}``.
    """
    from ivrkit.trees import diff_trees, entries_since, export_entries, format_csv, tree_from_json

    out = Path(out_dir)
    out.mkdir(exist_ok=True)
    entries, changed = [], []
    for r in results:
        G = tree_from_json(r["tree"])
        _write_atomic(out / f"{r['slug']}.json", json.dumps(r["tree"], indent=2, ensure_ascii=False) + "\n")
        mine = export_entries(G)
        old = (since or {}).get(r["slug"])
        if since is not None and old is not None:
            mine = entries_since(mine, export_entries(old))
            d = diff_trees(old, G)
            if _changed(d):
                changed.append(r["slug"])
                _write_atomic(out / f"{r['slug']}.diff.json", json.dumps(d, indent=2, ensure_ascii=False) + "\n")
        elif since is not None:
            changed.append(r["slug"])  # a company new since then
        entries += mine
    _write_atomic(out / "directory.json", json.dumps(entries, indent=2, ensure_ascii=False) + "\n")
    _write_atomic(out / "directory.csv", format_csv(entries))
    return {"entries": len(entries), "changed": changed}


def read_since(old_dir: str | os.PathLike, jobs: list[CompanyJob]) -> dict:
    """The previous batch's trees (``OLD_DIR/SLUG.json``) of these companies, by slug;
    a company without one is new. Raises ``BatchError`` on a tree that does not load."""
    from ivrkit.trees.io import TreeSchemaError, read_tree

    d = Path(old_dir)
    if not d.is_dir():
        raise BatchError(d, "--since needs the folder of a previous batch's output")
    old = {}
    for j in jobs:
        p = d / f"{j.slug}.json"
        if p.is_file():
            try:
                old[j.slug] = read_tree(p)
            except (TreeSchemaError, ValueError, UnicodeDecodeError) as exc:
                raise BatchError(p, f"not a tree file ({exc})") from None
    return old
