"""The call picture: synthesized calls with known events, checked in the artist tree
and in the rendered pixels."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from ivrkit.discovery.plot import (
    ACCEPTED,
    IGNORED,
    LISTEN_COLOUR,
    WORD_LINES,
    plot_timeline,
    spectrogram_db,
    timeline_figure,
)

SR = 8000
DTMF_ROWS = {"1": 697, "2": 697, "3": 697, "4": 770, "5": 770, "6": 770, "7": 852, "8": 852, "9": 852,
             "*": 941, "0": 941, "#": 941}
DTMF_COLS = {"1": 1209, "2": 1336, "3": 1477, "4": 1209, "5": 1336, "6": 1477, "7": 1209, "8": 1336,
             "9": 1477, "*": 1209, "0": 1336, "#": 1477}


def _sines(freqs, dur_s, amp):
    t = np.arange(int(dur_s * SR)) / SR
    return sum(amp * np.sin(2 * np.pi * f * t) for f in freqs)


def _vowels(dur_s, rng):
    """Speech-like: 120 Hz glottal harmonics shaped by two formants, syllable-rate envelope."""
    t = np.arange(int(dur_s * SR)) / SR
    f0 = 120 * (1 + 0.05 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    y = sum(np.sin(h * phase) * (np.exp(-((h * 120 - 700) / 250) ** 2) + 0.5 * np.exp(-((h * 120 - 1800) / 300) ** 2))
            for h in range(1, 30))
    env = np.clip(np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6)), 0, None) ** 0.5
    return 0.2 * y * env / np.abs(y).max()


def _call(words_per_s: float = 2.5, music_s: float = 8.0, seed: int = 0):
    """A call with known truth: ringback, greeting (an ignored 5), menu, accepted 2,
    submenu, accepted 0, hold music. Returns (y, timeline)."""
    rng = np.random.default_rng(seed)
    parts, events, t = [], [], 0.0

    def add(x, ev=None):
        nonlocal t
        x = np.asarray(x, dtype=np.float64)
        if ev is not None:
            ev = dict(ev, start=round(t, 3), end=round(t + len(x) / SR, 3))
            events.append(ev)
        parts.append(x)
        t += len(x) / SR
        return ev

    def speech(dur_s):
        ev = add(_vowels(dur_s, rng), {"type": "speech"})
        n = max(1, int(dur_s * words_per_s))
        vocab = ["for", "billing", "and", "payments", "press", "one", "technical", "support", "two",
                 "to", "hear", "these", "options", "again", "star"]
        ws = [vocab[i % len(vocab)] for i in range(n)]
        ev["words"] = [{"word": w, "start": round(ev["start"] + i * dur_s / n, 3),
                        "end": round(ev["start"] + (i + 0.8) * dur_s / n, 3), "conf": 0.9} for i, w in enumerate(ws)]
        ev["text"] = " ".join(ws)
        return ev

    add(_sines([440, 480], 2.0, 0.1), {"type": "tone", "name": "ringback"})
    add(np.zeros(4 * SR), {"type": "silence"})
    add(_sines([440, 480], 2.0, 0.1), {"type": "tone", "name": "ringback"})
    add(np.zeros(int(0.5 * SR)))
    root = speech(12.0)
    add(np.zeros(int(0.8 * SR)))
    add(_sines([DTMF_ROWS["2"], DTMF_COLS["2"]], 0.1, 0.25), {"type": "dtmf", "key": "2", "level_db": -12.0,
                                                              "accepted": True})
    add(np.zeros(int(0.6 * SR)))
    sub = speech(9.0)
    add(np.zeros(int(0.5 * SR)))
    add(_sines([DTMF_ROWS["0"], DTMF_COLS["0"]], 0.1, 0.25), {"type": "dtmf", "key": "0", "level_db": -12.0,
                                                              "accepted": True})
    add(np.zeros(int(0.5 * SR)))
    music = add(_sines([262, 330, 392], music_s, 0.08) * (1 + 0.3 * np.sin(np.linspace(0, 20, int(music_s * SR)))),
                {"type": "music"})
    y = np.concatenate(parts)
    ignored_s = root["start"] + 1.5  # a press the greeting played straight over
    i = int(ignored_s * SR)
    y[i:i + 800] += _sines([DTMF_ROWS["5"], DTMF_COLS["5"]], 0.1, 0.25)
    events.append({"type": "dtmf", "key": "5", "start": ignored_s, "end": ignored_s + 0.1, "level_db": -12.0,
                   "accepted": False})
    events.sort(key=lambda e: e["start"])
    dur = len(y) / SR
    press2 = next(e for e in events if e.get("key") == "2")
    press0 = next(e for e in events if e.get("key") == "0")
    tl = {"schema": "ivrkit.timeline/1", "file": "synthetic.wav", "duration": dur, "answer": 8.0,
          "greeting_onset": root["start"], "events": events,
          "menus": [
              {"path": [], "kind": "menu", "start": root["start"], "end": press2["start"], "listen_after": 6.0,
               "options": []},
              {"path": ["2"], "kind": "menu", "start": sub["start"], "end": press0["start"], "listen_after": 2.5,
               "options": []},
              {"path": ["2", "0"], "kind": "agent", "start": music["start"], "end": dur, "listen_after": None,
               "options": []}]}
    return y.astype(np.float32), tl


@pytest.fixture(scope="module")
def call():
    return _call()


@pytest.fixture(scope="module")
def figure(call):
    y, tl = call
    fig = timeline_figure(y, SR, tl)
    fig.canvas.draw()
    return fig


def _texts(fig, gid=None):
    return [t for ax in fig.axes for t in ax.texts if gid is None or t.get_gid() == gid]


def test_press_labels_and_colours(figure, call):
    _, tl = call
    accepted = [t for t in _texts(figure, "key-accepted")]
    ignored = [t for t in _texts(figure, "key-ignored")]
    assert sorted(t.get_text() for t in accepted) == ["0", "2"]
    assert [t.get_text() for t in ignored] == ["5"]
    from matplotlib.colors import to_hex

    assert all(to_hex(t.get_bbox_patch().get_facecolor()) == ACCEPTED for t in accepted)
    assert to_hex(ignored[0].get_bbox_patch().get_facecolor()) == IGNORED
    # each label sits over its press in time
    for t in accepted + ignored:
        ev = next(e for e in tl["events"] if e.get("key") == t.get_text())
        assert t.get_position()[0] == pytest.approx((ev["start"] + ev["end"]) / 2)


def test_nodes_listen_lines_tones_music_named(figure, call):
    _, tl = call
    labels = [t.get_text() for t in _texts(figure, "node-label")]
    assert labels == ["root (menu)", "2 (menu)", "2/0 (agent)"]
    assert sorted(t.get_text() for t in _texts(figure, "listen-label")) == ["2 listens", "root listens"]
    assert [t.get_text() for t in _texts(figure, "tone-label")] == ["ringback", "ringback"]
    assert [t.get_text() for t in _texts(figure, "music-label")] == ["music"]
    # the dashed listen line is where the node starts listening
    root = tl["menus"][0]
    listen_x = root["start"] + root["listen_after"]
    from matplotlib.colors import to_hex

    xs = {round(float(ln.get_xdata()[0]), 3) for ax in figure.axes for ln in ax.lines
          if to_hex(ln.get_color()) == LISTEN_COLOUR}
    assert xs == {round(listen_x, 3), round(tl["menus"][1]["start"] + 2.5, 3)}


def _utterance_texts(fig, tl):
    """(utterance event, text artist) for each piece of an utterance's words (one per
    row it spans), in time order."""
    speech = [e for e in tl["events"] if e["type"] == "speech"]
    out = []
    for t in sorted(_texts(fig, "words"), key=lambda t: t.get_position()[0]):
        x = t.get_position()[0]
        out.append((next(e for e in speech if e["start"] - 0.5 <= x < e["end"]), t))
    assert {id(e) for e, _t in out} == {id(e) for e in speech}
    return out


def test_words_read_in_order_inside_their_box(figure, call):
    _, tl = call
    renderer = figure.canvas.get_renderer()
    read = {}
    for ev, t in _utterance_texts(figure, tl):
        lines = t.get_text().split("\n")
        assert len(lines) <= WORD_LINES
        read.setdefault(id(ev), (ev, []))[1].extend(" ".join(lines).split())
        box = t.get_window_extent(renderer)
        x0, x1 = (t.axes.transData.transform((x, 0))[0] for x in (ev["start"], ev["end"]))
        assert x0 <= box.x0 and box.x1 <= x1 + 1.0
    # reading order: the pieces joined are the utterance's words, left to right
    for ev, words in read.values():
        assert words == [w["word"] for w in ev["words"]]
    boxes = [t.get_window_extent(renderer) for t in _texts(figure, "words")]
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b)


def _texts_in(ax, gid):
    return [t for t in ax.texts if t.get_gid() == gid]


def test_dense_speech_is_cut_short_instead_of_overlapping():
    y, tl = _call(words_per_s=15.0, music_s=2.0, seed=1)
    fig = timeline_figure(y, SR, tl)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    cut = 0
    for ev, t in _utterance_texts(fig, tl):
        lines = t.get_text().split("\n")
        assert len(lines) <= WORD_LINES
        shown = " ".join(lines).rstrip("…").split()
        words = [w["word"] for w in ev["words"]]
        # a run of the utterance's words, in order (the last may be cut short)
        assert f" {' '.join(shown[:-1])} " in f" {' '.join(words)} "
        cut += t.get_text().endswith("…")
    assert cut >= 1
    boxes = [t.get_window_extent(renderer) for t in _texts(fig, "words")]
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b)


def test_a_blip_too_short_to_judge_takes_its_neighbours_class():
    from ivrkit.discovery.plot import display_sounds

    events = [{"type": "speech", "start": 0.0, "end": 3.0, "words": [{"word": "for"}]},
              {"type": "music", "start": 3.2, "end": 3.3},   # 0.1 s inside a prompt
              {"type": "speech", "start": 3.5, "end": 6.0},
              {"type": "music", "start": 20.0, "end": 20.2},  # alone: unjudged sound
              {"type": "music", "start": 30.0, "end": 40.0}]
    kinds = [k for _s, _e, k in display_sounds(events)]
    assert kinds == ["speech", "speech", "speech", "sound", "music"]


def test_png_has_press_marks_in_the_signal_panels(tmp_path, call):
    y, tl = call
    out = plot_timeline(y, SR, tl, tmp_path / "call.png", dpi=80)
    import matplotlib.image as mpimg

    img = mpimg.imread(out)[..., :3]
    fig = timeline_figure(y, SR, tl)
    w_in, h_in = fig.get_size_inches()
    assert img.shape[:2] == (round(h_in * 80), round(w_in * 80))
    assert list(tmp_path.iterdir()) == [out]
    fig.set_dpi(80)
    wave_axes = [ax for ax in fig.axes if ax.get_ylabel() == "wave"]
    for ev in (e for e in tl["events"] if e["type"] == "dtmf"):
        ax = next(a for a in wave_axes if a.get_xlim()[0] <= ev["start"] < a.get_xlim()[1])
        mid = (ev["start"] + ev["end"]) / 2
        x, ytop = ax.transData.transform((mid, ax.get_ylim()[1] * 0.9))
        col = img[img.shape[0] - int(ytop) + 2, int(x)]
        # the press's span is tinted its verdict's colour over the waveform
        want = np.array([int((ACCEPTED if ev["accepted"] else IGNORED)[i:i + 2], 16) for i in (1, 3, 5)]) / 255
        white = np.ones(3)
        tint = (col - white)
        assert np.dot(tint, want - white) > 0.1, (ev["key"], col)
        # ... and far from any press the panel's top is plain background
        x_far, _ = ax.transData.transform((ev["start"] - 0.6, 0))
        assert np.allclose(img[img.shape[0] - int(ytop) + 2, int(x_far)], white, atol=0.05)


def test_spectrogram_shows_the_dtmf_pair(call):
    y, tl = call
    f, t, S = spectrogram_db(y, SR)
    for ev in (e for e in tl["events"] if e["type"] == "dtmf"):
        frame = np.argmin(np.abs(t - (ev["start"] + ev["end"]) / 2))
        col = S[:, frame]
        top2 = sorted(f[np.argsort(col)[-6:]])
        low, high = DTMF_ROWS[ev["key"]], DTMF_COLS[ev["key"]]
        assert any(abs(x - low) < 40 for x in top2) and any(abs(x - high) < 40 for x in top2), (ev["key"], top2)
    assert f.max() >= 3999


def test_long_call_wraps_into_equal_rows_covering_the_call():
    y, tl = _call(music_s=60.0)
    fig = timeline_figure(y, SR, tl, seconds_per_row=30.0)
    ev_axes = [ax for ax in fig.axes if ax.get_yticklabels() and ax.get_yticklabels()[0].get_text() == "sound"]
    dur = tl["duration"]
    assert len(ev_axes) == int(np.ceil(dur / 30.0))
    spans = [ax.get_xlim() for ax in ev_axes]
    widths = [b - a for a, b in spans]
    assert max(widths) == pytest.approx(min(widths)) and spans[0][0] == 0 and spans[-1][1] == pytest.approx(dur)
    # the agent node carried into the next rows is named again there
    assert any(t.get_text() == "… 2/0 (agent)" for t in _texts(fig, "node-label-cont"))


def test_contract_only_timeline_and_stereo(tmp_path, call):
    y, tl = call
    bare = {"schema": "ivrkit.timeline/1", "file": "x.wav", "duration": tl["duration"], "greeting_onset": None,
            "events": [{k: v for k, v in e.items() if k != "words"} for e in tl["events"]],
            "menus": [{"path": m["path"], "start": m["start"], "listen_after": m["listen_after"], "options": []}
                      for m in tl["menus"]]}
    fig = timeline_figure(np.stack([y, y]), SR, bare)
    assert [t.get_text() for t in _texts(fig, "node-label")] == ["root", "2", "2/0"]
    assert _texts(fig, "words")  # utterance text stands in for missing word times


def test_missing_folder_raises_and_writes_nothing(tmp_path, call):
    y, tl = call
    with pytest.raises(OSError):
        plot_timeline(y, SR, tl, tmp_path / "nope" / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_listen_bounds_shaded_between_the_presses(call):
    y, tl = call
    tl = dict(tl, menus=[dict(tl["menus"][0], listen_bounds=[1.6, 6.5]), *tl["menus"][1:]])
    fig = timeline_figure(y, SR, tl)
    shaded = [c for ax in fig.axes for c in ax.collections if c.get_gid() == "listen-bounds"]
    assert len(shaded) == 1
    xs = shaded[0].get_paths()[0].vertices[:, 0]
    start = tl["menus"][0]["start"]
    assert min(xs) == pytest.approx(start + 1.6) and max(xs) == pytest.approx(start + 6.5)


def test_tone_drawn_over_the_silence_reported_for_it(call):
    y, tl = call
    ring = next(e for e in tl["events"] if e.get("name") == "ringback")
    # the segmenter reports excluded tone spans as silence; the tone must stay visible
    events = sorted([*tl["events"], {"type": "silence", "start": ring["start"], "end": ring["end"] + 3.0}],
                    key=lambda e: e["start"])
    fig = timeline_figure(y, SR, dict(tl, events=events))
    ax = fig.axes[0]
    z = {c.get_gid(): c.get_zorder() for c in ax.collections if str(c.get_gid()).startswith("sound-")}
    assert z["sound-tone"] > z["sound-silence"]
    assert all(t.get_zorder() > z["sound-tone"] for t in ax.texts if t.get_gid() == "tone-label")
