"""A picture of one analysed call: waveform, spectrogram and the timeline's events.

Long calls are cut into rows of ``seconds_per_row`` seconds (like lines of a score),
so a ten-minute call stays readable instead of squeezing words into mush. Each row
has three panels sharing the time axis:

* events: the node visited (path, kind) with a line where its prompt starts and a
  dashed line where it starts listening (shaded between the latest ignored and the
  earliest accepted press when the call brackets it), the key presses (green accepted, red
  ignored), the recognised words on up to ``WORD_ROWS`` rows (a word that would
  overlap its neighbours on every row is left out, its utterance's span still
  shows), and the sound classes (speech, music, silence, named tones);
* the waveform (min/max envelope);
* the spectrogram, 0-4 kHz (the telephone band).

matplotlib is used through its object API with the Agg canvas (no pyplot state).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ivrkit.trees.render import visual

#: Words are stacked on this many rows before one is left out: three rows of 7 pt
#: text fit prompts read at ~3 words/s at the default 0.5 in per second.
WORD_ROWS = 3
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
}
NODE_COLOUR = "#37474f"
LISTEN_COLOUR = "#00897b"

# y layout of the events panel, bottom to top
_SOUND_Y = (0.0, 0.8)
_WORDS_Y = (1.0, 1.0 + 0.7 * WORD_ROWS)
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


def _place_words(words: list[dict], t0: float, t1: float, s_per_char: float, rows: int) -> list[tuple[dict, int]]:
    """Greedy rows: each word goes on the first row where it clears the previous word.

    Returns (word, row) for the words placed; the others are left out.
    """
    gap_s = s_per_char  # one character of air between neighbours
    row_end = [-np.inf] * rows
    placed = []
    for w in words:
        start = float(w["start"])
        if start < t0 or start >= t1:
            continue
        width = s_per_char * (len(str(w["word"]).strip()) + 0.5)
        for r in range(rows):
            if start >= row_end[r] + gap_s:
                row_end[r] = start + width
                placed.append((w, r))
                break
    return placed


def timeline_figure(y: np.ndarray, sr: int, timeline: dict, seconds_per_row: float = 30.0):
    """The call's picture as a matplotlib ``Figure`` (see the module docstring)."""
    _require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    y = np.asarray(y, dtype=np.float32)
    if y.ndim > 1:  # stereo: both sides of the call in one picture
        y = y.mean(axis=0 if y.shape[0] < y.shape[-1] else 1)
    duration = float(timeline.get("duration") or len(y) / sr) or 1.0
    n_rows = max(1, int(np.ceil(duration / seconds_per_row - 1e-9)))
    # rows share the call equally: every row uses the full width at the same scale
    row_s = max(duration / n_rows, 1.0)

    heights = [2.3, 0.7, 1.5]
    fig = Figure(figsize=(ROW_WIDTH_IN, n_rows * (sum(heights) + 0.55) + 0.5))
    FigureCanvasAgg(fig)
    gs = fig.add_gridspec(n_rows * 3, 1, height_ratios=heights * n_rows, hspace=0.0,
                          left=0.055, right=0.99, top=1 - 0.45 / fig.get_figheight(),
                          bottom=0.35 / fig.get_figheight())
    # a Hebrew file name reads backwards unless given in display order (python-bidi)
    title = f"{visual(timeline.get('file', ''))}  ·  {duration:.1f} s"
    if timeline.get("answer"):
        title += f"  ·  answered at {timeline['answer']:.2f} s"
    if timeline.get("greeting_onset") is not None:
        title += f"  ·  greeting from {timeline['greeting_onset']:.2f} s"
    fig.text(0.055, 1 - 0.1 / fig.get_figheight(), title, fontsize=11, fontweight="bold", va="top", ha="left")

    f_hz, t_spec, S_db = spectrogram_db(y, sr)
    keep = f_hz <= SPEC_MAX_HZ
    f_hz, S_db = f_hz[keep], S_db[keep]
    vmax = float(S_db.max()) if S_db.size else 0.0
    peak = float(np.max(np.abs(y))) if len(y) else 1.0
    axes_width_in = ROW_WIDTH_IN * (0.99 - 0.055)
    s_per_char = (row_s / axes_width_in) * (0.6 * 7.0 / 72.0)  # 7 pt DejaVu Sans ~0.6 em per char

    events = timeline.get("events", [])
    menus = timeline.get("menus", [])
    for r in range(n_rows):
        t0 = r * row_s
        t1 = t1_axis = t0 + row_s
        ax_ev = fig.add_subplot(gs[3 * r])
        ax_wave = fig.add_subplot(gs[3 * r + 1], sharex=ax_ev)
        ax_spec = fig.add_subplot(gs[3 * r + 2], sharex=ax_ev)
        if r < n_rows - 1:  # gap between rows: a spacer by shrinking the spectrogram's bottom
            pos = ax_spec.get_position()
            ax_spec.set_position([pos.x0, pos.y0 + 0.5 / fig.get_figheight(), pos.width,
                                  pos.height - 0.5 / fig.get_figheight()])
        ax_ev.set_xlim(t0, t1_axis)

        # -- spectrogram
        cols = (t_spec >= t0 - SPEC_WINDOW_S) & (t_spec <= t1 + SPEC_WINDOW_S)
        if cols.any():
            ts = t_spec[cols]
            ax_spec.imshow(S_db[:, cols], origin="lower", aspect="auto", cmap="magma",
                           extent=(ts[0], ts[-1], f_hz[0], f_hz[-1]), vmin=vmax - SPEC_RANGE_DB, vmax=vmax,
                           interpolation="nearest")
        ax_spec.set_ylim(0, SPEC_MAX_HZ)
        ax_spec.set_yticks([0, 1000, 2000, 3000])
        ax_spec.set_yticklabels(["0", "1k", "2k", "3k"], fontsize=7)
        ax_spec.set_ylabel("Hz", fontsize=8)
        ax_spec.tick_params(axis="x", labelsize=8)
        ax_spec.set_xlabel("seconds" if r == n_rows - 1 else "", fontsize=8)

        # -- waveform
        lo, hi, tw = _envelope(y, sr, t0, t1, bins=int(axes_width_in * 150))
        ax_wave.fill_between(tw, lo, hi, color="#455a64", lw=0.0, step="post")
        lim = max(peak, 1e-6) * 1.05
        ax_wave.set_ylim(-lim, lim)
        ax_wave.set_yticks([])
        ax_wave.set_ylabel("wave", fontsize=8)
        ax_wave.tick_params(axis="x", labelbottom=False)

        # -- events panel
        ax_ev.set_ylim(0, _EVENTS_TOP)
        ax_ev.set_yticks([np.mean(_SOUND_Y), np.mean(_WORDS_Y), np.mean(_KEYS_Y), np.mean(_NODE_Y)])
        ax_ev.set_yticklabels(["sound", "words", "keys", "node"], fontsize=8)
        ax_ev.tick_params(axis="y", length=0)
        ax_ev.tick_params(axis="x", labelbottom=False)
        for s in ("top", "right"):
            ax_ev.spines[s].set_visible(False)

        def visible(ev):
            return ev["end"] > t0 and ev["start"] < t1_axis

        for ev in events:
            if not visible(ev):
                continue
            kind = ev.get("type")
            if kind in ("speech", "music", "silence", "tone"):
                colour = SOUND_COLOURS[kind]
                # silence under sounds, tones on top: the segmenter reports a tone's span as silence
                ax_ev.broken_barh([(ev["start"], ev["end"] - ev["start"])], (_SOUND_Y[0], _SOUND_Y[1] - _SOUND_Y[0]),
                                  facecolors=colour, edgecolor="none", gid=f"sound-{kind}",
                                  zorder={"silence": 1.0, "tone": 1.2}.get(kind, 1.1))
                name = ev.get("name") if kind == "tone" else ("music" if kind == "music" else None)
                if name:
                    ax_ev.text(max(ev["start"], t0) + 0.05, np.mean(_SOUND_Y), name, fontsize=7, va="center",
                               ha="left", color="#212121", clip_on=True, gid=f"{kind}-label", zorder=1.5)
            if kind == "speech":
                ax_ev.broken_barh([(ev["start"], ev["end"] - ev["start"])], (_WORDS_Y[0], _WORDS_Y[1] - _WORDS_Y[0]),
                                  facecolors="#e3f2fd", edgecolor="none", zorder=0)
        words = []
        for ev in events:
            if ev.get("type") == "speech":
                ws = ev.get("words") or ([{"word": ev.get("text", ""), "start": ev["start"]}] if ev.get("text") else [])
                words.extend(w for w in ws if str(w.get("word", "")).strip())
        words.sort(key=lambda w: w["start"])
        row_h = (_WORDS_Y[1] - _WORDS_Y[0]) / WORD_ROWS
        for w, row in _place_words(words, t0, t1_axis, s_per_char, WORD_ROWS):
            ax_ev.text(w["start"], _WORDS_Y[1] - (row + 0.5) * row_h, visual(str(w["word"]).strip()), fontsize=7,
                       va="center", ha="left", color="#0d47a1", clip_on=True, gid="word")

        # key presses: a labelled disc in the keys lane and a line down through the signal
        for ev in events:
            if ev.get("type") != "dtmf" or not visible(ev):
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

        # nodes: prompt start (solid) and listen start (dashed) through every panel
        for m in menus:
            start = m.get("start")
            if start is None:
                continue
            end = m.get("end") or duration
            if end > t0 and start < t1_axis:
                ax_ev.broken_barh([(start, end - start)], (_NODE_Y[0] + 0.25, 0.5), facecolors="#eceff1",
                                  edgecolor="#b0bec5", lw=0.6, zorder=0)
            if start < t0 < end:  # a node carried over from the previous row: name it again
                ax_ev.text(t0 + 0.06, np.mean(_NODE_Y) + 0.02, "… " + node_label(m), fontsize=8, va="center",
                           ha="left", color=NODE_COLOUR, gid="node-label-cont", zorder=6)
            if t0 <= start < t1_axis:
                for ax in (ax_ev, ax_wave, ax_spec):
                    ax.axvline(start, color=NODE_COLOUR, lw=1.2, zorder=5)
                ax_ev.text(start + 0.06, np.mean(_NODE_Y) + 0.02, node_label(m), fontsize=8, fontweight="bold",
                           va="center", ha="left", color=NODE_COLOUR, gid="node-label", zorder=6,
                           bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.8))
            lb = m.get("listen_bounds") or [None, None]
            if (lb[0] is not None and lb[1] is not None and lb[1] > lb[0]
                    and start + lb[0] < t1_axis and start + lb[1] > t0):
                # press evidence: between the latest ignored and the earliest accepted press
                ax_ev.broken_barh([(start + lb[0], lb[1] - lb[0])], (_NODE_Y[0] + 0.25, 0.5),
                                  facecolors=LISTEN_COLOUR, alpha=0.25, edgecolor="none", zorder=0.5,
                                  gid="listen-bounds")
            la = m.get("listen_after")
            if la is not None and t0 <= start + la < t1_axis:
                t_listen = start + la
                for ax in (ax_ev, ax_wave, ax_spec):
                    ax.axvline(t_listen, color=LISTEN_COLOUR, lw=1.2, ls=(0, (4, 2)), zorder=5)
                path = "/".join(str(k) for k in m.get("path", [])) or "root"
                ax_ev.text(t_listen + 0.06, _NODE_Y[0] + 0.05, f"{path} listens", fontsize=7, va="bottom",
                           ha="left", color=LISTEN_COLOUR, gid="listen-label", zorder=6,
                           bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.8))
        ax_ev.set_xlim(t0, t1_axis)

    # a legend once, at the top right
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(color=SOUND_COLOURS[k], label=k) for k in ("speech", "music", "tone", "silence")]
    handles += [Patch(color=ACCEPTED, label="key accepted"), Patch(color=IGNORED, label="key ignored"),
                Line2D([], [], color=NODE_COLOUR, lw=1.2, label="node starts"),
                Line2D([], [], color=LISTEN_COLOUR, lw=1.2, ls=(0, (4, 2)), label="node listens")]
    fig.legend(handles=handles, loc="upper right", ncol=len(handles), fontsize=7, frameon=False,
               bbox_to_anchor=(0.99, 1 - 0.02 / fig.get_figheight()))
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
