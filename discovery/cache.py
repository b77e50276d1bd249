"""A cache of per-call analyses: one timeline JSON per (recording, pipeline, engine).

A call's timeline depends on three things, and the key is made of all three:

- the recording's bytes (sha256 of the file, and of a ``CALL.keys.json`` sidecar
  beside it when there is one: it changes which presses the timeline holds);
- the pipeline: a hash of the ivrkit source files that decide the timeline (every
  ``.py`` of ``audio/`` and ``discovery/`` except the command line, progress display
  and plotting), the package version and ``CACHE_SCHEMA``. Any edit to the analysis,
  or a new ivrkit release, gives new keys: stale analyses are never reused;
- the engine: its class, its settings (``language``, ``beam_size``, ``grammar`` ...:
  every plain attribute) and its model (the ``model.bin`` sha256 of a Whisper model
  folder; file names, sizes and mtimes of a Vosk model folder).

Entries live in ``DIR/ab/abcdef....json`` (``DIR`` = ``$XDG_CACHE_HOME/ivrkit`` or
``~/.cache/ivrkit`` by default). Writes go through a temporary file and a rename, so
a reader sees a whole entry or none; an entry that does not parse (a disk filled up,
a hand edit) is ignored and rewritten.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path

from ivrkit.audio.io import sha256

__all__ = ["AnalysisCache", "default_cache_dir", "pipeline_version", "engine_identity", "CACHE_SCHEMA"]

#: Bumped when the cached document changes shape (independently of the sources).
CACHE_SCHEMA = "ivrkit.cache/1"
#: Modules that do not change a timeline: editing them keeps the cache valid.
_NOT_ANALYSIS = {"cli.py", "progress.py", "plot.py", "batch.py", "cache.py"}
_PKG_ROOT = Path(__file__).resolve().parent.parent


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/ivrkit``, else ``~/.cache/ivrkit``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ivrkit"


@functools.lru_cache(maxsize=1)
def pipeline_version() -> str:
    """sha256 over the package version, ``CACHE_SCHEMA`` and the analysis sources
    (``audio/`` and ``discovery/`` modules, grammar and prompt files)."""
    from importlib import metadata

    try:
        version = metadata.version("ivrkit")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        version = "0"
    h = hashlib.sha256(f"{CACHE_SCHEMA}\0{version}\0".encode())
    for folder in ("audio", "discovery"):
        for f in sorted((_PKG_ROOT / folder).glob("*.py")):
            if f.name in _NOT_ANALYSIS:
                continue
            h.update(f"{folder}/{f.name}\0".encode())
            h.update(f.read_bytes())
    # the grammars and the recognizer's prompts are analysis too: a new lexicon row
    # changes what a timeline reads
    for f in sorted((_PKG_ROOT / "discovery").rglob("*.toml")):
        h.update(f"{f.relative_to(_PKG_ROOT)}\0".encode())
        h.update(f.read_bytes())
    return h.hexdigest()



@functools.lru_cache(maxsize=16)
def _model_fingerprint(model_dir: str) -> str:
    """A Whisper folder: sha256 of ``model.bin`` (hashed once per process, shared with
    the engine's own check). Any other folder (Vosk): names, sizes and mtimes."""
    d = Path(model_dir)
    if (d / "model.bin").is_file():
        from .asr import _sha256_file

        return _sha256_file(str((d / "model.bin").resolve()))
    h = hashlib.sha256()
    for f in sorted(p for p in d.rglob("*") if p.is_file()):
        st = f.stat()
        h.update(f"{f.relative_to(d)}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return h.hexdigest()


def _plain(v):
    """Attribute values that describe a setting (and are JSON), else None."""
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    if isinstance(v, os.PathLike):
        return str(v)
    if isinstance(v, (list, tuple)) and all(isinstance(x, (str, int, float, bool)) for x in v):
        return list(v)
    return None


def engine_identity(engine) -> dict:
    """What makes one engine's words differ from another's: class, settings, model.

    Wrappers that only change how the work is scheduled (``ReuseEngine``) give their
    inner engine's identity through an ``identity()`` method.
    """
    if hasattr(engine, "identity"):
        return engine.identity()
    cls = type(engine)
    settings = {k: _plain(v) for k, v in sorted(vars(engine).items())
                if not k.startswith("_") and _plain(v) is not None}
    ident = {"engine": f"{cls.__module__}.{cls.__qualname__}", "settings": settings}
    for attr in ("model_dir", "model_path"):
        d = getattr(engine, attr, None)
        if d is not None and Path(d).is_dir():
            ident["model"] = _model_fingerprint(str(Path(d).resolve()))
    return ident


def _sidecars(path: Path) -> list[Path]:
    """Key sidecars beside a call (``call01.keys.json`` or ``call01.wav.keys.json``)."""
    cands = [path.with_suffix(".keys.json"), path.with_name(path.name + ".keys.json")]
    return [c for c in dict.fromkeys(cands) if c.is_file()]


class AnalysisCache:
    """Timelines on disk, keyed by recording + pipeline + engine (see module doc).

    Parameters: ``directory`` the cache folder (created on first write; default
    ``default_cache_dir()``).
    """

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = Path(directory) if directory is not None else default_cache_dir()

    def key(self, path: str | os.PathLike, engine, extra: dict | None = None) -> str:
        """The entry's name for ``path`` analysed by ``engine`` (``extra``: any further
        input that changes the analysis, e.g. keys given on the command line)."""
        p = Path(path)
        doc = {"file": sha256(p), "sidecars": [sha256(s) for s in _sidecars(p)],
               "pipeline": pipeline_version(), "engine": engine_identity(engine), "extra": extra or {}}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    def _entry(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The cached timeline, or None (missing, unreadable or not a timeline)."""
        try:
            doc = json.loads(self._entry(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(doc, dict) or doc.get("cache") != CACHE_SCHEMA or not isinstance(doc.get("timeline"), dict):
            return None
        return doc["timeline"]

    def put(self, key: str, timeline: dict) -> None:
        """Store atomically (temp file in the same folder + rename). A cache that
        cannot be written (read-only disk, full) is skipped, never an error."""
        target = self._entry(key)
        tmp = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".part")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"cache": CACHE_SCHEMA, "timeline": timeline}, f, ensure_ascii=False)
            os.replace(tmp, target)
        except OSError:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
