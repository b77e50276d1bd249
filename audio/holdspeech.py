"""Speech the segmenter took for music, found against the call's own music.

The segmenter's speech/music rule (``segment.speech_scores``) is one boundary for
every call. Some voices sit on it: flite's ``slt`` scores -3 .. +2 per window where
other voices score +3 .. +10, so a short sentence in that voice right after hold
music (an agent answering, a hold announcement) is absorbed into the music or comes
out as a stretch of "music" of its own. The hold music of the same call is a
reference the fixed rule does not use: it plays for tens of seconds and scores far
below the boundary (-12 .. -5 for the Asterisk hold tracks through mu-law). A
voice stands out against it even when it does not stand out against the boundary.

``speech_in_music`` scores the windows of each music region again, alone (so the
speech before it cannot leak in), and returns the runs that are both near the
boundary (``SPEECH_FLOOR_SCORE``) and far above the call's music
(``MARGIN_ABOVE_MUSIC``), with a voice's peaky spectrum (``MAX_LOUD_FLATNESS``);
``relabel`` turns those runs into speech regions. Only the hold is read: from the
first long music region after the call's first speech on (a menu prompt in such a
voice before it stays as the segmenter labelled it); a call without such music is
left as it is.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.ndimage import median_filter

from . import segment as sg
from .events import Region
from .voice import steady_pitch
from .vocab import PHONE_SR as SR
from .vocab import mask_spans

#: The call's music is known from this much music (the windows' median score): a
#: hold plays 15 s and more of it; a jingle between prompts is too little to judge by.
MIN_REFERENCE_MUSIC_S = 8.0
#: A window scoring below this is music whatever the call's music: flite slt's
#: sentences score above -3 (docs/benchmarks-hours.md), hold music's loud passages
#: below -4.
SPEECH_FLOOR_SCORE = -3.0
#: ...and it must score this far above the call's music median: the same voice is
#: 7-12 above the music it interrupts; music's own swings (a louder bar, a drum
#: fill) stay within ~4 of its median.
MARGIN_ABOVE_MUSIC = 5.0
#: A run found goes on while the windows stay this far above the music median
#: (hysteresis, half the margin; forwards only, so its onset stays where the strong
#: test puts it): a voice dipping near the music's level mid-sentence stays one run,
#: and a sentence's end is not left as "music" after it (which would read as the
#: hold music coming back).
KEEP_ABOVE_MUSIC = MARGIN_ABOVE_MUSIC / 2
#: Scores are median-smoothed over this many windows (0.75 s at 0.25 s hop) so one
#: odd window neither makes nor breaks a run.
SMOOTH_WINDOWS = 3
#: A run shorter than this is a musical accent, not a sentence (an answer worth
#: finding, "hello, this is Sam", lasts 1 s and more).
MIN_RUN_S = 1.0
#: Voiced speech is peaky: its loud frames (within LOUD_RANGE_DB of a window's
#: loudest) have a median spectral flatness of 0.01-0.15 for the simulator's TTS
#: voices through mu-law; the hold-music passages that score like a voice are the
#: percussive, noise-like ones (0.2-0.5).
LOUD_RANGE_DB = 15.0
MAX_LOUD_FLATNESS = 0.18
#: ...or it is a monotone voice: flite's ``slt`` through mu-law has a loud-frame
#: flatness of 0.19-0.25 like those percussive passages, but a steady voiced pitch
#: (``voice.steady_pitch``) the music does not have (docs/benchmarks-hours.md).


def window_scores(y8: np.ndarray, start_s: float, end_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(window centres in file seconds, speech scores, loud-frame flatness) of
    ``y8[start_s:end_s]`` alone, windows as the segmenter's (``WINDOW_S`` every
    ``WINDOW_HOP_S``); the flatness is per window, the median over its frames within
    LOUD_RANGE_DB of the window's loudest."""
    a, b = int(round(start_s * SR)), int(round(end_s * SR))
    e_db, flat, flux, persist, persist_long, n_peaks = sg.frame_features(y8[a:b])
    usable = np.ones(len(e_db), bool)
    z = sg.speech_scores(sg.window_features(e_db, flux, persist, persist_long, n_peaks, usable))
    w = int(round(sg.WINDOW_S * SR / sg.HOP))
    h = int(round(sg.WINDOW_HOP_S * SR / sg.HOP))
    centres = start_s + (np.arange(len(z)) * h + w // 2) * sg.HOP / SR
    return centres, z, _loud_flatness(e_db, flat, w, h, len(z))


def _loud_flatness(e_db: np.ndarray, flat: np.ndarray, w: int, h: int, n_win: int) -> np.ndarray:
    """Median spectral flatness of each window's frames within LOUD_RANGE_DB of its
    loudest frame (the voiced or sounding part, not the pauses' line noise)."""
    out = np.empty(n_win)
    for k in range(n_win):
        e, f = e_db[k * h:k * h + w], flat[k * h:k * h + w]
        out[k] = float(np.median(f[e > e.max() - LOUD_RANGE_DB])) if len(e) else np.nan
    return out


def music_reference(scores: Sequence[np.ndarray]) -> float | None:
    """Median window score of the call's music regions; None with less than
    MIN_REFERENCE_MUSIC_S of music."""
    z = np.concatenate([np.asarray(s, float) for s in scores]) if scores else np.zeros(0)
    z = z[~np.isnan(z)]
    if len(z) * sg.WINDOW_HOP_S < MIN_REFERENCE_MUSIC_S:
        return None
    return float(np.median(z))


def speech_runs(centres: np.ndarray, z: np.ndarray, reference: float,
                start_s: float, end_s: float, loud_flatness: np.ndarray | None = None,
                y8: np.ndarray | None = None) -> list[tuple[float, float]]:
    """``(start_s, end_s)`` of the window runs in one music region that score as a
    voice against ``reference`` (the module docstring) and whose loud frames are
    peaky (median ``loud_flatness`` at most MAX_LOUD_FLATNESS) or, given the call's
    8 kHz samples ``y8``, carry a steady pitch (``voice.steady_pitch``); a run
    touching the region's first or last window reaches its edge."""
    if len(z) == 0:
        return []
    z = np.where(np.isnan(z), reference, z)
    if len(z) >= SMOOTH_WINDOWS:
        z = median_filter(z, size=SMOOTH_WINDOWS, mode="nearest")
    voice = (z > SPEECH_FLOOR_SCORE) & (z > reference + MARGIN_ABOVE_MUSIC)
    keep = z > reference + KEEP_ABOVE_MUSIC
    voice = _onset_back(_hysteresis(voice, keep), z > reference + MARGIN_ABOVE_MUSIC)
    half = sg.WINDOW_HOP_S / 2
    out = []
    for i, j in mask_spans(voice):
        a = start_s if i == 0 else float(centres[i]) - half
        b = end_s if j == len(z) else float(centres[j - 1]) + half
        peaky = loud_flatness is None or np.nanmedian(loud_flatness[i:j]) <= MAX_LOUD_FLATNESS
        if b - a >= MIN_RUN_S and (peaky or (y8 is not None and steady_pitch(y8, a, b))):
            out.append((round(a, 3), round(b, 3)))
    return out


def _onset_back(run: np.ndarray, above: np.ndarray) -> np.ndarray:
    """Each run of ``run`` reaching back over the windows before it that are still
    ``above`` the music by the full margin: SPEECH_FLOOR_SCORE says whether there is
    a voice, not where it starts (a soft onset scores below the floor for a second
    while already far above the music)."""
    out = run.copy()
    for i, _ in mask_spans(run):
        k = i
        while k > 0 and above[k - 1] and not out[k - 1]:
            k -= 1
        out[k:i] = True
    return out


def _hysteresis(strong: np.ndarray, weak: np.ndarray) -> np.ndarray:
    """Each run of ``weak | strong`` from its first ``strong`` element to its end: a
    run starts where the strong test says (the answer's onset) and goes on while
    the weak one holds."""
    out = np.zeros(len(weak), bool)
    for i, j in mask_spans(weak | strong):
        hit = np.flatnonzero(strong[i:j])
        if len(hit):
            out[i + hit[0]:j] = True
    return out


def speech_in_music(y: np.ndarray, sr: int, regions: Sequence[Region]) -> list[tuple[float, float]]:
    """Spans inside the music regions of one call's hold that are a voice, judged
    against the call's own music (module docstring). ``regions``: the segmenter's.
    The hold starts with the first music region of MIN_REFERENCE_MUSIC_S after the
    call's first speech; only music from there on is read (the hold stretch: a menu
    prompt before it stays as the segmenter labelled it)."""
    y8 = sg.to_phone_rate(y, sr)
    music = hold_music(regions)
    scored = [window_scores(y8, r.start_s, r.end_s) for r in music]
    ref = music_reference([z for _, z, _ in scored])
    if ref is None:
        return []
    starts = [r.start_s for r in regions if r.kind == "speech"]
    out: list[tuple[float, float]] = []
    for r, (c, z, fl) in zip(music, scored):
        runs = speech_runs(c, z, ref, r.start_s, r.end_s, fl, y8)
        if any(abs(t - r.end_s) < 1e-3 for t in starts) and not (runs and runs[-1][1] >= r.end_s):
            runs += onset_tail(c, z, ref, r.end_s)
        out += runs
    return out


def onset_tail(centres: np.ndarray, z: np.ndarray, reference: float, end_s: float) -> list[tuple[float, float]]:
    """The end of a music region that speech follows without a pause, from where its
    windows score MARGIN_ABOVE_MUSIC above the call's music on: the speech's onset
    the segmenter left in the music (a soft start, still below SPEECH_FLOOR_SCORE,
    already far above the music). An extension of speech found, so no MIN_RUN_S."""
    if len(z) == 0:
        return []
    z = np.where(np.isnan(z), reference, z)
    if len(z) >= SMOOTH_WINDOWS:
        z = median_filter(z, size=SMOOTH_WINDOWS, mode="nearest")
    above = z > reference + MARGIN_ABOVE_MUSIC
    k = len(z)
    while k > 0 and above[k - 1]:
        k -= 1
    if k == len(z):
        return []
    return [(round(float(centres[k]) - sg.WINDOW_HOP_S / 2, 3), round(end_s, 3))]


def hold_music(regions: Sequence[Region]) -> list[Region]:
    """The music regions (of at least one window) from the call's hold on: from the
    first music region of MIN_REFERENCE_MUSIC_S that follows speech."""
    first = next((r.start_s for r in regions if r.kind == "speech"), None)
    start = next((r.start_s for r in regions if r.kind == "music" and first is not None
                  and r.start_s > first and r.duration_s >= MIN_REFERENCE_MUSIC_S), None)
    if start is None:
        return []
    return [r for r in regions if r.kind == "music" and r.start_s >= start and r.duration_s >= sg.WINDOW_S]


def relabel(regions: Sequence[Region], spans: Sequence[tuple[float, float]]) -> list[Region]:
    """``regions`` with each span (inside a music region) turned into speech."""
    out: list[Region] = []
    for r in regions:
        inside = sorted((max(a, r.start_s), min(b, r.end_s)) for a, b in spans
                        if r.kind == "music" and a < r.end_s and b > r.start_s)
        t = r.start_s
        for a, b in inside:
            if a > t:
                out.append(Region("music", t, a))
            out.append(Region("speech", a, b))
            t = b
        if r.end_s > t:
            out.append(Region(r.kind, t, r.end_s))
    return out
