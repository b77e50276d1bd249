"""Frozen event records produced by the detectors.

Times are seconds from the start of the file. These records are plain data: the
timeline (``ivrkit.discovery``) turns them into the contract's JSON events.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DtmfPress:
    """One key press: a DTMF tone pair, bridged over short dropouts."""

    key: str          # "0"-"9", "*", "#", "A"-"D"
    start_s: float
    end_s: float
    level_db: float   # level of the stronger tone, dBFS (full-scale sine = 0 dB)


@dataclass(frozen=True)
class Tone:
    """A call-progress tone (ringback, busy, reorder, dial, sit, beep)."""

    name: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Region:
    """A stretch of one sound class: "speech", "music" or "silence"."""

    kind: str
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s
