"""Long calls in bounded memory: streamed decoding and piecewise analysis agree with
the whole-file analysis."""
from pathlib import Path

import numpy as np

from ivrkit.audio import io
from ivrkit.audio.analysis import analyse, analyse_stream

NW = Path(__file__).resolve().parent.parent / "recordings" / "northwind"


def test_stream_gives_the_samples_load_gives():
    y, _ = io.load(NW / "call02.wav")
    blocks = list(io.stream(NW / "call02.wav", block_s=3.0))
    assert len(blocks) > 3 and np.array_equal(np.concatenate(blocks), y)
    spans = io.read_spans(NW / "call02.wav", [(0.5, 1.25), (7.0, 9.5)])
    assert np.array_equal(spans[1], y[7 * 8000:int(9.5 * 8000)]) and len(spans[0]) == 6000


def test_piecewise_analysis_matches_the_whole_call():
    call = NW / "call01.wav"
    y, sr = io.load(call)
    whole = analyse(y, sr)
    assert analyse_stream(io.stream(call)) == whole           # short: one piece, the same
    # cut into 15 s pieces (seams at 15, 30, 45 s, inside prompts and key runs)
    pieces = analyse_stream(io.stream(call, block_s=4.0), chunk_s=15.0, overlap_s=8.0)
    assert [(p.key, round(p.start_s, 3)) for p in pieces.presses] == \
        [(p.key, round(p.start_s, 3)) for p in whole.presses]
    assert pieces.tones == whole.tones
    assert pieces.greeting_onset_s == whole.greeting_onset_s and pieces.duration_s == whole.duration_s
    sp = lambda s: [(r.start_s, r.end_s) for r in s.regions if r.kind == "speech"]  # noqa: E731
    a, b = sp(whole), sp(pieces)
    assert len(a) == len(b) and all(abs(x[0] - y_[0]) < 0.05 and abs(x[1] - y_[1]) < 0.05 for x, y_ in zip(a, b))


def test_a_bad_file_is_refused_by_the_stream(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all" * 100)
    try:
        list(io.stream(bad))
    except io.AudioError as exc:
        assert str(bad) in str(exc)
    else:
        raise AssertionError("no error")
