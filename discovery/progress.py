"""Progress display for the CLI: a rich progress bar on stderr, only on a terminal.

When stderr is a file or a pipe (scripts, CI, ``2> log``) nothing at all is written,
so logs stay clean and scripts that read stderr see only real errors.

    with CallProgress(len(paths)) as prog:
        for path in prog.track(paths):          # start_call(name) for each
            tl = analyse_call(path, engine, on_stage=prog.stage)
            prog.done_call(tl["duration"])
    summary_line(prog.calls_done, prog.audio_s, prog.elapsed_s)
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import IO, Iterable, Iterator, TypeVar

#: The stages ``analyse_call`` reports, in order: one call's bar advances through them.
STAGES = ("decode", "signal", "transcribe", "parse")

T = TypeVar("T")


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or file-like without isatty
        return False


def _fmt_audio(audio_s: float) -> str:
    return f"{audio_s / 60:.1f} min" if audio_s >= 60 else f"{audio_s:.1f} s"


def summary_line(calls: int, audio_s: float, elapsed_s: float) -> str:
    """"3 calls, 2.4 min of audio, 7.9 s (18× real time)"."""
    head = f"{calls} call{'s' if calls != 1 else ''}, {_fmt_audio(audio_s)} of audio, {elapsed_s:.1f} s"
    if elapsed_s <= 0 or audio_s <= 0:
        return head
    speed = audio_s / elapsed_s
    return f"{head} ({speed:.0f}× real time)" if speed >= 10 else f"{head} ({speed:.1f}× real time)"


class CallProgress:
    """Progress of analysing ``total_calls`` recordings.

    Two bars: the calls (done / total, minutes of audio so far) and the current
    call's stages (decode, signal, transcribe, parse), which is what moves on one
    long file. ``enabled`` defaults to "``stream`` is a terminal"; the counters
    (``calls_done``, ``audio_s``, ``elapsed_s``) are kept either way.
    """

    def __init__(self, total_calls: int, *, stream: IO[str] | None = None, enabled: bool | None = None,
                 stages: Iterable[str] = STAGES, unit: str = "calls"):
        self.unit = unit  # what the first bar counts ("companies" for a batch)
        self.total_calls = int(total_calls)
        self.stream = sys.stderr if stream is None else stream
        self.enabled = _is_terminal(self.stream) if enabled is None else bool(enabled)
        if os.environ.get("TERM") == "dumb" and enabled is None:
            self.enabled = False
        self.stages = tuple(stages)
        self.calls_done = 0
        self.audio_s = 0.0
        self.current: str | None = None
        self._t0: float | None = None
        self._t1: float | None = None
        self._progress = None
        self._calls_task = None
        self._stage_task = None

    # -- context manager
    def __enter__(self) -> "CallProgress":
        self._t0 = time.perf_counter()
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            console = Console(file=self.stream, force_terminal=True, highlight=False)
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}", style="bold"),
                BarColumn(bar_width=30),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,  # the CLI prints its summary line instead
                refresh_per_second=8,
            )
            self._progress.start()
            self._calls_task = self._progress.add_task(self.unit, total=self.total_calls, info="0.0 s of audio")
            self._stage_task = self._progress.add_task("", total=len(self.stages), info="", visible=False)
        return self

    def __exit__(self, *exc) -> None:
        self._t1 = time.perf_counter()
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    # -- events
    def start_call(self, name: str) -> None:
        """A new recording starts (its stage bar resets)."""
        self.current = str(name)
        if self._progress is not None:
            self._progress.update(self._stage_task, description=f"  {self.current}", completed=0,
                                  info="", visible=True)

    def stage(self, name: str) -> None:
        """The current call entered stage ``name`` (callback for ``analyse_call``)."""
        if self._progress is None:
            return
        done = self.stages.index(name) if name in self.stages else None
        fields = {"info": name}
        if done is not None:
            fields["completed"] = done
        self._progress.update(self._stage_task, **fields)

    def done_call(self, audio_s: float = 0.0) -> None:
        """The current call is analysed; ``audio_s`` is its duration."""
        self.calls_done += 1
        self.audio_s += float(audio_s or 0.0)
        if self._progress is not None:
            self._progress.update(self._stage_task, completed=len(self.stages), visible=False)
            self._progress.update(self._calls_task, completed=self.calls_done,
                                  info=f"{_fmt_audio(self.audio_s)} of audio")

    def track(self, items: Iterable[T]) -> Iterator[T]:
        """Yield each item after announcing it (``start_call`` with its file name)."""
        for item in items:
            self.start_call(Path(str(item)).name)
            yield item

    @property
    def elapsed_s(self) -> float:
        if self._t0 is None:
            return 0.0
        return (self._t1 if self._t1 is not None else time.perf_counter()) - self._t0

    def summary(self) -> str:
        return summary_line(self.calls_done, self.audio_s, self.elapsed_s)
