"""A picture of one analysed call: waveform, spectrogram and the timeline's events.

Long calls are cut into rows of ``seconds_per_row`` seconds (like lines of a score),
so a ten-minute call stays readable instead of squeezing words into mush. Each row
has three panels sharing the time axis:

* events: the node visited (path, kind) with a line where its prompt starts and a
  dashed line where it starts listening (shaded between the latest ignored and the
  earliest accepted press when the call brackets it), the key presses (green accepted, red
  ignored), the recognised words of each utterance in reading order, wrapped inside
  the utterance's box (what does not fit ends in "…"), and the sound classes
  (speech, music, silence, named tones; a region too short for the speech / music
  detector to judge takes its neighbour's class);
* the waveform (min/max envelope);
* the spectrogram, 0-4 kHz (the telephone band).

matplotlib is used through its object API with the Agg canvas (no pyplot state).
"""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np

from ivrkit.audio.segment import WINDOW_S

#: The words lane holds this many lines of 7 pt text: an utterance's words wrap inside
#: its box (a 4 s prompt at 0.5 in per second is ~34 characters wide, so six lines
#: hold ~200 characters: prompts read at ~15 characters/s fit).
WORD_LINES = 6
#: Speech and music are told apart over windows of ``segment.WINDOW_S`` (1.5 s): a
#: region shorter than one window was never judged on its own, so the picture does not
#: give it a class of its own.
MIN_CLASS_S = WINDOW_S
#: ...it takes the class of a longer speech / music region at most this far away (the
#: segmenter's bridged pause); alone, it is left blank.
MAX_ABSORB_GAP_S = 1.0
#: Width of the figure in inches for one row; 30 s per row gives 0.5 in per second.
ROW_WIDTH_IN = 16.0
#: Spectrogram frames of 32 ms (256 samples at 8 kHz): resolves DTMF pairs (the
#: closest, 697/770 Hz, are 73 Hz apart > 31 Hz bins) and syllables alike.
SPEC_WINDOW_S = 0.032
#: Dynamic range shown: quieter than the loudest cell by more than this is black.
SPEC_RANGE_DB = 70.0
#: Upper edge of the telephone band.
SPEC_MAX_HZ = 4000.0

ACCEPTED = "#2e7d32"
IGNORED = "#c62828"
SOUND_COLOURS = {
    "speech": "#64b5f6",
    "music": "#ab47bc",
    "silence": "#e0e0e0",
    "tone": "#ffb300",
    "sound": "#90a4ae",  # too short for the speech / music detector to judge
}
NODE_COLOUR = "#37474f"
LISTEN_COLOUR = "#00897b"

# y layout of the events panel, bottom to top
_SOUND_Y = (0.0, 0.8)
_WORDS_Y = (1.0, 3.1)
_KEYS_Y = (_WORDS_Y[1] + 0.15, _WORDS_Y[1] + 1.05)
_NODE_Y = (_KEYS_Y[1] + 0.15, _KEYS_Y[1] + 1.15)
_EVENTS_TOP = _NODE_Y[1] + 0.1


def _require_matplotlib() -> None:
    """matplotlib is an optional extra: say how to get it instead of a bare ImportError."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("plotting a call needs matplotlib: pip install 'ivrkit[plot]'") from None


def node_label(menu: dict) -> str:
    """"root" or the key path "2/1", with the node's kind when known."""
    path = "/".join(str(k) for k in menu.get("path", [])) or "root"
    kind = menu.get("kind")
    return f"{path} ({kind})" if kind else path


def _envelope(y: np.ndarray, sr: int, t0: float, t1: float, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min / max of the signal in ``bins`` equal slices of [t0, t1): a waveform
    drawn from every sample would be megabytes of vector data for one picture."""
    a, b = int(t0 * sr), min(int(t1 * sr), len(y))
    seg = y[a:b]
    if len(seg) == 0:
        return np.zeros(1), np.zeros(1), np.array([t0])
    bins = max(1, min(bins, len(seg)))
    edges = np.linspace(0, len(seg), bins + 1).astype(int)
    lo = np.minimum.reduceat(seg, edges[:-1])
    hi = np.maximum.reduceat(seg, edges[:-1])
    t = t0 + edges[:-1] / sr
    return lo, hi, t


def spectrogram_db(y: np.ndarray, sr: int, window_s: float = SPEC_WINDOW_S) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(freqs_hz, times_s, power_db) of the whole signal, Hann frames with 75% overlap."""
    from scipy.signal import spectrogram

    nper = max(16, int(round(window_s * sr)))
    if len(y) < nper:
        y = np.pad(y, (0, nper - len(y)))
    f, t, S = spectrogram(y.astype(np.float64), fs=sr, window="hann", nperseg=nper, noverlap=nper * 3 // 4,
                          scaling="spectrum", mode="psd")
    return f, t, 10.0 * np.log10(S + 1e-12)


def display_sounds(events: list[dict], min_class_s: float = MIN_CLASS_S) -> list[tuple[float, float, str]]:
    """``(start, end, kind)`` of the sound lane: speech / music / silence / tone.

    A speech or music region shorter than ``min_class_s`` is not shown as a class of
    its own (the segmenter cannot tell speech from music in less than one window): it
    takes the class of a longer speech / music region within ``MAX_ABSORB_GAP_S``
    (a 0.1 s "music" between two words is speech), else it is speech when the
    recognizer heard words in it, else plain ``"sound"``.
    """
    regions = [(float(e["start"]), float(e["end"]), e["type"], bool(e.get("words") or e.get("text")))
               for e in events if e.get("type") in ("speech", "music", "silence", "tone")]
    judged = [r for r in regions if r[2] in ("speech", "music") and r[1] - r[0] >= min_class_s]
    out = []
    for start, end, kind, heard in regions:
        if kind in ("speech", "music") and end - start < min_class_s:
            near = [r for r in judged if r[0] - end < MAX_ABSORB_GAP_S and start - r[1] < MAX_ABSORB_GAP_S]
            if near:
                kind = min(near, key=lambda r: max(r[0] - end, start - r[1]))[2]
            else:
                kind = "speech" if heard else "sound"
        out.append((start, end, kind))
    return out


def utterance_lines(words: list[str], width_chars: float, max_lines: int = WORD_LINES) -> list[str]:
    """An utterance's words as lines of at most ``width_chars`` (a word longer than the
    box keeps its own line), at most ``max_lines``; what does not fit ends in "…"."""
    text = " ".join(w.strip() for w in words if w.strip())
    lines = textwrap.wrap(text, max(1, int(width_chars)), break_long_words=False) or []
    if len(lines) > max_lines:
        last = textwrap.shorten(lines[max_lines - 1] + " " + lines[max_lines], max(2, int(width_chars)),
                                placeholder="…")
        lines = lines[:max_lines - 1] + [last if last.endswith("…") else last + "…"]
    return lines


def _speech_words(ev: dict) -> list[dict]:
    ws = ev.get("words") or ([{"word": ev.get("text", ""), "start": ev["start"]}] if ev.get("text") else [])
    return sorted((w for w in ws if str(w.get("word", "")).strip()), key=lambda w: w["start"])


# -- one row of the picture: four lanes and two signal panels ---------------------------

def _draw_spectrogram(ax, spec, t0: float, t1: float, last_row: bool) -> None:
    f_hz, t_spec, S_db, vmax = spec
    cols = (t_spec >= t0 - SPEC_WINDOW_S) & (t_spec <= t1 + SPEC_WINDOW_S)
    if cols.any():
        ts = t_spec[cols]
        ax.imshow(S_db[:, cols], origin="lower", aspect="auto", cmap="magma",
                  extent=(ts[0], ts[-1], f_hz[0], f_hz[-1]), vmin=vmax - SPEC_RANGE_DB, vmax=vmax,
                  interpolation="nearest")
    ax.set_ylim(0, SPEC_MAX_HZ)
    ax.set_yticks([0, 1000, 2000, 3000])
    ax.set_yticklabels(["0", "1k", "2k", "3k"], fontsize=7)
    ax.set_ylabel("Hz", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("seconds" if last_row else "", fontsize=8)


def _draw_wave(ax, y: np.ndarray, sr: int, t0: float, t1: float, bins: int) -> None:
    lo, hi, tw = _envelope(y, sr, t0, t1, bins=bins)
    ax.fill_between(tw, lo, hi, color="#455a64", lw=0.0, step="post")
    lim = max(float(np.max(np.abs(y))) if len(y) else 1.0, 1e-6) * 1.05
    ax.set_ylim(-lim, lim)
    ax.set_yticks([])
    ax.set_ylabel("wave", fontsize=8)
    ax.tick_params(axis="x", labelbottom=False)


def _style_events_axis(ax) -> None:
    ax.set_ylim(0, _EVENTS_TOP)
    ax.set_yticks([np.mean(_SOUND_Y), np.mean(_WORDS_Y), np.mean(_KEYS_Y), np.mean(_NODE_Y)])
    ax.set_yticklabels(["sound", "words", "keys", "node"], fontsize=8)
    ax.tick_params(axis="y", length=0)
    ax.tick_params(axis="x", labelbottom=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _draw_sounds(ax, sounds, t0: float, t1: float) -> None:
    for start, end, kind in sounds:
        if end <= t0 or start >= t1:
            continue
        # silence under sounds, tones on top: the segmenter reports a tone's span as silence
        ax.broken_barh([(start, end - start)], (_SOUND_Y[0], _SOUND_Y[1] - _SOUND_Y[0]),
                       facecolors=SOUND_COLOURS[kind], edgecolor="none", gid=f"sound-{kind}",
                       zorder={"silence": 1.0, "tone": 1.2}.get(kind, 1.1))


def _draw_sound_names(ax, events, t0: float, t1: float) -> None:
    for ev in events:
        if ev.get("type") in ("tone", "music") and ev["end"] > t0 and ev["start"] < t1 \
                and ev["end"] - ev["start"] >= MIN_CLASS_S:
            name = ev.get("name") if ev["type"] == "tone" else "music"
            ax.text(max(ev["start"], t0) + 0.05, np.mean(_SOUND_Y), name, fontsize=7, va="center",
                    ha="left", color="#212121", clip_on=True, gid=f"{ev['type']}-label", zorder=1.5)


def _draw_words(ax, events, t0: float, t1: float, s_per_char: float) -> None:
    """Each utterance's words in reading order, wrapped inside its box (the part of the
    utterance on this row)."""
    for ev in events:
        if ev.get("type") != "speech" or ev["end"] <= t0 or ev["start"] >= t1:
            continue
        a, b = max(ev["start"], t0), min(ev["end"], t1)
        ax.broken_barh([(a, b - a)], (_WORDS_Y[0], _WORDS_Y[1] - _WORDS_Y[0]),
                       facecolors="#e3f2fd", edgecolor="white", lw=0.8, zorder=0, gid="utterance")
        words = [str(w["word"]) for w in _speech_words(ev) if a <= float(w["start"]) < b]
        lines = utterance_lines(words, (b - a) / s_per_char - 1.0)
        if lines:
            ax.text(a + 0.5 * s_per_char, _WORDS_Y[1] - 0.08, "\n".join(lines), fontsize=7, va="top",
                    ha="left", color="#0d47a1", clip_on=True, gid="words", linespacing=1.15)


def _draw_keys(axes, events, t0: float, t1: float) -> None:
    """A labelled disc per press in the keys lane and a band down through the signal."""
    ax_ev, ax_wave, ax_spec = axes
    for ev in events:
        if ev.get("type") != "dtmf" or ev["end"] <= t0 or ev["start"] >= t1:
            continue
        accepted = ev.get("accepted")
        colour = ACCEPTED if accepted else IGNORED
        mid = 0.5 * (ev["start"] + ev["end"])
        for ax in (ax_wave, ax_spec):
            ax.axvspan(ev["start"], ev["end"], color=colour, alpha=0.35, lw=0)
        ax_ev.plot([mid, mid], [_WORDS_Y[0], _KEYS_Y[0] + 0.1], color=colour, lw=0.8)
        ax_ev.text(mid, np.mean(_KEYS_Y), str(ev["key"]), fontsize=8, fontweight="bold", ha="center",
                   va="center", color="white", gid="key-accepted" if accepted else "key-ignored",
                   bbox=dict(boxstyle="round,pad=0.25", fc=colour, ec="none"))


def _draw_node(axes, m: dict, t0: float, t1: float, duration: float) -> None:
    """A node's lane box and name, its prompt start (solid) and listen start (dashed)."""
    ax_ev = axes[0]
    start, end = m["start"], m.get("end") or duration
    if end > t0 and start < t1:
        ax_ev.broken_barh([(start, end - start)], (_NODE_Y[0] + 0.25, 0.5), facecolors="#eceff1",
                          edgecolor="#b0bec5", lw=0.6, zorder=0)
    if start < t0 < end:  # a node carried over from the previous row: name it again
        ax_ev.text(t0 + 0.06, np.mean(_NODE_Y) + 0.02, "… " + node_label(m), fontsize=8, va="center",
                   ha="left", color=NODE_COLOUR, gid="node-label-cont", zorder=6)
    if t0 <= start < t1:
        for ax in axes:
            ax.axvline(start, color=NODE_COLOUR, lw=1.2, zorder=5)
        ax_ev.text(start + 0.06, np.mean(_NODE_Y) + 0.02, node_label(m), fontsize=8, fontweight="bold",
                   va="center", ha="left", color=NODE_COLOUR, gid="node-label", zorder=6,
                   bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.8))
    lb = m.get("listen_bounds") or [None, None]
    if lb[0] is not None and lb[1] is not None and lb[1] > lb[0] and start + lb[0] < t1 and start + lb[1] > t0:
        # press evidence: between the latest ignored and the earliest accepted press
        ax_ev.broken_barh([(start + lb[0], lb[1] - lb[0])], (_NODE_Y[0] + 0.25, 0.5), facecolors=LISTEN_COLOUR,
                          alpha=0.25, edgecolor="none", zorder=0.5, gid="listen-bounds")
    la = m.get("listen_after")
    if la is not None and t0 <= start + la < t1:
        for ax in axes:
            ax.axvline(start + la, color=LISTEN_COLOUR, lw=1.2, ls=(0, (4, 2)), zorder=5)
        path = "/".join(str(k) for k in m.get("path", [])) or "root"
        ax_ev.text(start + la + 0.06, _NODE_Y[0] + 0.05, f"{path} listens", fontsize=7, va="bottom", ha="left",
                   color=LISTEN_COLOUR, gid="listen-label", zorder=6,
                   bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.8))


# -- the figure ----------------------------------------------------------------------

def _figure(n_rows: int, timeline: dict, duration: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    heights = [2.3, 0.7, 1.5]
    fig = Figure(figsize=(ROW_WIDTH_IN, n_rows * (sum(heights) + 0.55) + 0.5))
    FigureCanvasAgg(fig)
    gs = fig.add_gridspec(n_rows * 3, 1, height_ratios=heights * n_rows, hspace=0.0,
                          left=0.055, right=0.99, top=1 - 0.45 / fig.get_figheight(),
                          bottom=0.35 / fig.get_figheight())
    title = f"{timeline.get('file', '')}  ·  {duration:.1f} s"
    if timeline.get("answer"):
        title += f"  ·  answered at {timeline['answer']:.2f} s"
    if timeline.get("greeting_onset") is not None:
        title += f"  ·  greeting from {timeline['greeting_onset']:.2f} s"
    fig.text(0.055, 1 - 0.1 / fig.get_figheight(), title, fontsize=11, fontweight="bold", va="top", ha="left")
    return fig, gs


def _row_axes(fig, gs, r: int, n_rows: int, t0: float, t1: float):
    ax_ev = fig.add_subplot(gs[3 * r])
    ax_wave = fig.add_subplot(gs[3 * r + 1], sharex=ax_ev)
    ax_spec = fig.add_subplot(gs[3 * r + 2], sharex=ax_ev)
    if r < n_rows - 1:  # gap between rows: a spacer by shrinking the spectrogram's bottom
        pos = ax_spec.get_position()
        gap = 0.5 / fig.get_figheight()
        ax_spec.set_position([pos.x0, pos.y0 + gap, pos.width, pos.height - gap])
    ax_ev.set_xlim(t0, t1)
    return ax_ev, ax_wave, ax_spec


def _legend(fig) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(color=SOUND_COLOURS[k], label=k) for k in ("speech", "music", "tone", "silence", "sound")]
    handles += [Patch(color=ACCEPTED, label="key accepted"), Patch(color=IGNORED, label="key ignored"),
                Line2D([], [], color=NODE_COLOUR, lw=1.2, label="node starts"),
                Line2D([], [], color=LISTEN_COLOUR, lw=1.2, ls=(0, (4, 2)), label="node listens")]
    fig.legend(handles=handles, loc="upper right", ncol=len(handles), fontsize=7, frameon=False,
               bbox_to_anchor=(0.99, 1 - 0.02 / fig.get_figheight()))


def timeline_figure(y: np.ndarray, sr: int, timeline: dict, seconds_per_row: float = 30.0):
    """The call's picture as a matplotlib ``Figure`` (see the module docstring)."""
    _require_matplotlib()
    y = np.asarray(y, dtype=np.float32)
    if y.ndim > 1:  # stereo: both sides of the call in one picture
        y = y.mean(axis=0 if y.shape[0] < y.shape[-1] else 1)
    duration = float(timeline.get("duration") or len(y) / sr) or 1.0
    n_rows = max(1, int(np.ceil(duration / seconds_per_row - 1e-9)))
    row_s = max(duration / n_rows, 1.0)  # rows share the call equally, at the same scale
    fig, gs = _figure(n_rows, timeline, duration)

    f_hz, t_spec, S_db = spectrogram_db(y, sr)
    keep = f_hz <= SPEC_MAX_HZ
    spec = (f_hz[keep], t_spec, S_db[keep], float(S_db[keep].max()) if S_db.size else 0.0)
    axes_width_in = ROW_WIDTH_IN * (0.99 - 0.055)
    s_per_char = (row_s / axes_width_in) * (0.6 * 7.0 / 72.0)  # 7 pt DejaVu Sans ~0.6 em per char
    events, menus = timeline.get("events", []), timeline.get("menus", [])
    sounds = display_sounds(events)
    for r in range(n_rows):
        t0, t1 = r * row_s, (r + 1) * row_s
        axes = _row_axes(fig, gs, r, n_rows, t0, t1)
        _draw_spectrogram(axes[2], spec, t0, t1, last_row=r == n_rows - 1)
        _draw_wave(axes[1], y, sr, t0, t1, bins=int(axes_width_in * 150))
        _style_events_axis(axes[0])
        _draw_sounds(axes[0], sounds, t0, t1)
        _draw_sound_names(axes[0], events, t0, t1)
        _draw_words(axes[0], events, t0, t1, s_per_char)
        _draw_keys(axes, events, t0, t1)
        for m in menus:
            if m.get("start") is not None:
                _draw_node(axes, m, t0, t1, duration)
        axes[0].set_xlim(t0, t1)
    _legend(fig)
    return fig


def plot_timeline(y: np.ndarray, sr: int, timeline: dict, out_path, seconds_per_row: float = 30.0,
                  dpi: int = 100) -> Path:
    """Draw the call to ``out_path`` (PNG unless the suffix names another format).

    The image is written to a temporary name in the same folder and renamed, so a
    failed or interrupted plot never leaves half a file. Returns the path.
    """
    out = Path(out_path)
    fig = timeline_figure(y, sr, timeline, seconds_per_row=seconds_per_row)
    fmt = out.suffix.lstrip(".").lower() or "png"
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        fig.savefig(tmp, format=fmt, dpi=dpi)
        os.replace(tmp, out)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
    return out
