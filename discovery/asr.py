"""Speech recognition of the speech regions of a call (placeholder: engines follow)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Word:
    word: str
    start_s: float
    end_s: float
    conf: float


@dataclass(frozen=True)
class Utterance:
    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...]
