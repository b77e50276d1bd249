"""Progress display: drawn on a real terminal (a pty), silent on pipes and files."""
from __future__ import annotations

import io
import os
import re
import select
import time

from ivrkit.discovery.progress import CallProgress, summary_line


def test_summary_line():
    assert summary_line(3, 144.0, 7.9) == "3 calls, 2.4 min of audio, 7.9 s (18× real time)"
    assert summary_line(1, 41.2, 1.3) == "1 call, 41.2 s of audio, 1.3 s (32× real time)"
    assert summary_line(2, 30.0, 60.0) == "2 calls, 30.0 s of audio, 60.0 s (0.5× real time)"
    assert summary_line(0, 0.0, 0.0) == "0 calls, 0.0 s of audio, 0.0 s"


def _run(stream, names=("a.wav", "b.wav", "c.wav"), pause_s=0.0):
    with CallProgress(len(names), stream=stream) as prog:
        for name in prog.track(names):
            for st in ("decode", "signal", "transcribe", "parse"):
                prog.stage(st)
                time.sleep(pause_s)
            prog.done_call(30.0)
    return prog


def test_silent_when_not_a_terminal():
    buf = io.StringIO()
    prog = _run(buf)
    assert buf.getvalue() == ""
    assert not prog.enabled
    assert prog.calls_done == 3 and prog.audio_s == 90.0 and prog.elapsed_s > 0
    assert prog.summary().startswith("3 calls, 1.5 min of audio")


def test_silent_on_a_pipe():
    r, w = os.pipe()
    with os.fdopen(w, "w") as stream:
        _run(stream)
    with os.fdopen(r) as rd:
        assert rd.read() == ""


def test_drawn_on_a_terminal():
    master, slave = os.openpty()
    try:
        with os.fdopen(slave, "w", closefd=False) as stream:
            prog = _run(stream, names=("first.wav", "second.wav"), pause_s=0.08)
            assert prog.enabled
        out = b""
        while select.select([master], [], [], 0.2)[0]:
            chunk = os.read(master, 65536)
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
        os.close(slave)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode("utf-8", "replace"))
    assert "calls" in text
    assert "first.wav" in text and "second.wav" in text
    assert "transcribe" in text
    assert re.search(r"1/2", text) and "of audio" in text
