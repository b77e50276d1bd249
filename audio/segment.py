"""Speech / music / silence segmentation of telephone recordings, without a model.

Method (all at 8 kHz, 10 ms frame hop):

1. **Frames.** Energy of the central 20 ms of each 32 ms frame (dBFS, full-scale sine
   = 0 dB), spectral flatness and spectral flux (Hellinger distance between
   consecutive normalised spectra) over the telephone band 312-3437 Hz.
2. **Sound vs silence.** A frame is sound when its energy is above an adaptive
   threshold (noise floor + 10 dB, kept between -55 and -40 dBFS) and it is not
   noise-like (flat spectrum close to the floor: line hiss, comfort noise). ``exclude``
   spans (DTMF presses, call-progress tones) are silence by construction. Pauses
   shorter than ``MAX_PAUSE_S`` are bridged (a pause inside a sentence does not split
   a prompt; one between sentences does), blips shorter than ``MIN_SOUND_S`` dropped.
3. **Speech vs music** per 1.5 s window (hop 0.25 s) from five features that
   separate prompts from hold music at 8 kHz through codecs: the spread (standard
   deviation, dB) of frame energy -- syllables make speech rise and fall by ~8 dB
   against ~3 dB for music --, the mean spectral flux (speech changes its
   spectrum every few tens of ms), *peak persistence*, the harmonic-stability
   feature: the share of spectral peaks still there 50 ms later (held notes keep
   their partials: 0.5-0.8 for hold music; a voice's harmonics glide with its
   pitch: 0.1-0.45 for prompts and TTS voices), the same 100 ms later (flite's
   slt voice holds its harmonics ~0.47 at 50 ms, like music, but less at 100 ms),
   and the spread (standard deviation) of the number of spectral peaks per frame:
   voiced frames carry a comb of harmonics, unvoiced sounds, stops and pauses
   inside a word few or none, so the count swings (median 4.3 for flite slt, 1.9-4.4
   for the other voices) where a piece of music keeps its texture (2.1).
   Logistic rule fitted by ``python benchmarks/fit_speech_music.py`` (refits it and
   prints the constants below); its training windows and held-out error rates per
   voice are in ``docs/benchmarks-segment.md``. Window scores are
   median-smoothed over ~2 s inside each sound stretch; label runs shorter than
   ``MIN_RUN_S`` are absorbed, so a long music stretch cannot flicker into speech.

webrtcvad is not used: it calls music speech, and energy already places edges.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
from scipy.ndimage import maximum_filter1d, median_filter, uniform_filter1d

from .events import Region, Tone
from .vocab import PHONE_SR as SR
from .vocab import bridge_spans, mask_spans, to_phone_rate

#: 64 ms analysis frame (Hann, 15.6 Hz bins: resolves speech harmonics and notes),
#: 10 ms hop; energy on the central 20 ms.
FRAME = 512
HOP = 80
ENERGY_FRAME = 160
#: Telephone band used for flatness / flux / peaks (FFT bins of 15.6 Hz): 312-3437 Hz.
BAND_BINS = (20, 220)
#: Spectral peaks: local maxima (5 bins) this far above the local mean level (31 bins, dB)
#: and within PEAK_RANGE_DB of the frame's strongest bin.
PEAK_PROMINENCE_DB = 10.0
PEAK_RANGE_DB = 40.0
#: Peak persistence looks this many frames back (50 ms) with +-1 bin tolerance: a
#: held note keeps its partials, a voice's harmonics glide with its pitch.
PERSIST_LAG = 5
#: ...and this many (100 ms): a voice that holds its pitch for 50 ms (flite's slt)
#: has moved on by then; a note usually has not.
PERSIST_LONG_LAG = 10

#: Sound threshold: this far above the noise floor (10th percentile of frame energy)...
FLOOR_MARGIN_DB = 10.0
#: ...but never below (digital silence, codecs' idle noise) nor above these, so
#: that quiet hold music in a file without pauses still counts as sound.
MIN_THRESHOLD_DBFS = -55.0
MAX_THRESHOLD_DBFS = -40.0
#: Noise-like frames (white/pink hiss has flatness 0.3-0.6, voiced speech and music
#: < 0.05) within this much of the floor are silence, so 15 dB SNR noise between
#: prompts is not "sound".
NOISE_FLATNESS = 0.3
NOISE_NEAR_FLOOR_DB = 8.0

#: Pauses shorter than this inside a sound stretch are bridged (word gaps, stop
#: closures: < 300 ms); pauses between sentences (> 0.6 s) split.
MAX_PAUSE_S = 0.35
#: Sound stretches shorter than this are clicks, not speech or music.
MIN_SOUND_S = 0.08

#: Speech/music windows.
WINDOW_S = 1.5
WINDOW_HOP_S = 0.25
#: Frames counted in a window's features: within this much of the window's loudest.
ACTIVE_RANGE_DB = 35.0
#: Logistic rule, speech when SPREAD_W * spread_db + FLUX_W * flux
#: + PERSIST_W * persistence + PERSIST_LONG_W * persistence_long + PEAKS_SD_W * peaks_sd
#: + BIAS > 0
#: (fitted by benchmarks/fit_speech_music.py, as the module docstring says).
SPREAD_W = 0.2558
FLUX_W = 23.96
PERSIST_W = -8.926
PERSIST_LONG_W = -11.71
PEAKS_SD_W = 1.738
#: includes the 1.0 move towards music (see the module docstring)
BIAS = -1.864
#: Median smoothing of window scores (~2 s) and the shortest label run kept inside a
#: stretch.
SMOOTH_WINDOWS = 9
MIN_RUN_S = 2.0
#: Frames per FFT batch (keeps memory flat on long files).
CHUNK_FRAMES = 2048


def frame_features(y: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-frame ``(energy_db, flatness, flux, persistence, persistence_long, n_peaks)`` of 8 kHz samples.

    Frame i starts at sample i*HOP. ``persistence`` is the share of the frame's
    spectral peaks that were already peaks PERSIST_LAG frames earlier (nan when the
    frame has no peak); ``persistence_long`` the same PERSIST_LONG_LAG frames earlier;
    ``n_peaks`` the number of spectral peaks in the frame.
    """
    if len(y) < FRAME:
        y = np.pad(y, (0, FRAME - len(y)))
    n = (len(y) - FRAME) // HOP + 1
    e_db = np.empty(n, np.float32)
    flat = np.empty(n, np.float32)
    flux = np.empty(n, np.float32)
    persist = np.full(n, np.nan, np.float32)
    persist_long = np.full(n, np.nan, np.float32)
    n_peaks = np.zeros(n, np.float32)
    win = np.hanning(FRAME).astype(np.float32)
    lo, hi = BAND_BINS
    c0 = (FRAME - ENERGY_FRAME) // 2
    prev = None
    prev_held = None
    for f0 in range(0, n, CHUNK_FRAMES):
        f1 = min(n, f0 + CHUNK_FRAMES)
        seg = y[f0 * HOP : (f1 - 1) * HOP + FRAME]
        fr = np.lib.stride_tricks.sliding_window_view(seg, FRAME)[::HOP]
        mid = fr[:, c0 : c0 + ENERGY_FRAME]
        e_db[f0:f1] = 10 * np.log10(2 * np.einsum("ij,ij->i", mid, mid) / ENERGY_FRAME + 1e-12)
        band = np.abs(np.fft.rfft(fr * win, axis=1)[:, lo:hi]) ** 2 + 1e-12
        flat[f0:f1] = np.exp(np.log(band).mean(axis=1)) / band.mean(axis=1)
        root = np.sqrt(band / band.sum(axis=1, keepdims=True))
        d = np.empty(len(root), np.float32)
        d[1:] = np.sum((root[1:] - root[:-1]) ** 2, axis=1)
        d[0] = 0.0 if prev is None else np.sum((root[0] - prev) ** 2)
        prev = root[-1]
        flux[f0:f1] = d
        level = 10 * np.log10(band)
        peaks = (
            (level == maximum_filter1d(level, 5, axis=1))
            & (level > uniform_filter1d(level, 31, axis=1) + PEAK_PROMINENCE_DB)
            & (level > level.max(axis=1, keepdims=True) - PEAK_RANGE_DB)
        )
        # +-1 bin tolerance on the earlier frame; carry the tail across chunks
        held = maximum_filter1d(peaks.view(np.uint8), 3, axis=1).astype(bool)
        if prev_held is not None:
            held = np.concatenate([prev_held, held])
        base = len(held) - len(peaks)
        cnt = peaks.sum(axis=1)
        n_peaks[f0:f1] = cnt
        for lag, out in ((PERSIST_LAG, persist), (PERSIST_LONG_LAG, persist_long)):
            kept = np.zeros(len(peaks))
            src = np.arange(len(peaks)) + base - lag
            ok = src >= 0
            kept[ok] = (peaks[ok] & held[src[ok]]).sum(axis=1)
            out[f0:f1] = np.where(ok & (cnt > 0), kept / np.maximum(cnt, 1), np.nan)
        prev_held = held[-max(PERSIST_LAG, PERSIST_LONG_LAG):]
    return e_db, flat, flux, persist, persist_long, n_peaks


def window_features(e_db, flux, persist, persist_long, n_peaks, usable) -> np.ndarray:
    """``(spread_db, flux, persistence, persistence_long, peaks_sd)`` per window of WINDOW_S
    every WINDOW_HOP_S (``peaks_sd``: standard deviation of the number of spectral peaks
    per frame).

    Only frames within ACTIVE_RANGE_DB of the window's loudest usable frame count;
    rows are nan when fewer than 10 frames do. A signal shorter than one window is
    one window.
    """
    w = int(round(WINDOW_S * SR / HOP))
    h = int(round(WINDOW_HOP_S * SR / HOP))
    if len(e_db) < w:
        E, F, P, L, N, U = (a[None, :] for a in (e_db, flux, persist, persist_long, n_peaks, usable))
    else:
        E, F, P, L, N, U = (np.lib.stride_tricks.sliding_window_view(a, w)[::h]
                            for a in (e_db, flux, persist, persist_long, n_peaks, usable))
    top = np.where(U, E, -200.0).max(axis=1, keepdims=True)
    act = U & (E > np.maximum(-50.0, top - ACTIVE_RANGE_DB))
    cnt = act.sum(axis=1)
    safe = np.maximum(cnt, 1)
    mean = np.where(act, E, 0).sum(axis=1) / safe
    spread = np.sqrt(np.where(act, (E - mean[:, None]) ** 2, 0).sum(axis=1) / safe)
    fl = np.where(act, F, 0).sum(axis=1) / safe
    npk = np.where(act, N, 0).sum(axis=1) / safe
    npk_sd = np.sqrt(np.where(act, (N - npk[:, None]) ** 2, 0).sum(axis=1) / safe)
    pers = []
    for Q in (P, L):
        pk = act & ~np.isnan(Q)
        m = np.where(pk, np.nan_to_num(Q), 0).sum(axis=1) / np.maximum(pk.sum(axis=1), 1)
        pers.append(np.where(pk.sum(axis=1) > 0, m, 0.5))
    out = np.stack([spread, fl, *pers, npk_sd], axis=1)
    out[cnt < 10] = np.nan
    return out


def speech_scores(features: np.ndarray) -> np.ndarray:
    """Logistic speech score per window (> 0: speech), from :func:`window_features`."""
    return features @ np.array([SPREAD_W, FLUX_W, PERSIST_W, PERSIST_LONG_W, PEAKS_SD_W]) + BIAS


def _window_scores(frames: tuple, sl: slice) -> np.ndarray:
    """speech_scores of the windows over ``frames[..][sl]``; ``frames`` holds
    :func:`window_features`' arguments, frame-aligned."""
    return speech_scores(window_features(*(a[sl] for a in frames)))


def _all_window_scores(frames: tuple) -> np.ndarray:
    """_window_scores over the whole signal, a few thousand windows at a time."""
    w = int(round(WINDOW_S * SR / HOP))
    h = int(round(WINDOW_HOP_S * SR / HOP))
    n_frames = len(frames[0])
    n_win = 1 if n_frames < w else (n_frames - w) // h + 1
    step = 2048
    parts = []
    for k0 in range(0, n_win, step):
        k1 = min(n_win, k0 + step)
        parts.append(_window_scores(frames, slice(k0 * h, (k1 - 1) * h + w)))
    return np.concatenate(parts)


def _label_stretch(z: np.ndarray) -> np.ndarray:
    """Smoothed speech(True)/music(False) label per window of one sound stretch."""
    z = np.asarray(z, float)
    if np.all(np.isnan(z)):
        return np.zeros(len(z), bool)
    z = np.where(np.isnan(z), np.nanmedian(z), z)
    if len(z) >= 3:
        z = median_filter(z, size=min(SMOOTH_WINDOWS, len(z) | 1), mode="nearest")
    lab = z > 0
    min_run = int(round(MIN_RUN_S / WINDOW_HOP_S))
    runs = mask_spans(lab) + mask_spans(~lab)
    if len(runs) > 1 and max(e - s for s, e in runs) < min_run:
        # no run long enough to anchor the others: absorbing shortest-first could
        # let a minority label spread over the whole stretch (a slow TTS voice
        # dipping below zero mid-sentence); the stretch's median score decides
        return np.full(len(z), bool(np.median(z) > 0))
    # absorb short runs into their neighbours, shortest first, until none is left
    while True:
        runs = mask_spans(lab) + [(s, e) for s, e in mask_spans(~lab)]
        runs.sort()
        short = [(e - s, s, e) for s, e in runs if e - s < min_run]
        if len(runs) <= 1 or not short:
            return lab
        _, s, e = min(short)
        lab[s:e] = ~lab[s]


def sound_spans(e_db: np.ndarray, flat: np.ndarray, usable: np.ndarray) -> list[list[int]]:
    """Sound stretches ``[start_frame, end_frame)`` (step 2 of the module docstring)."""
    real = e_db[usable & (e_db > -100)]
    floor = float(np.percentile(real, 10)) if len(real) else -120.0
    thr = float(np.clip(floor + FLOOR_MARGIN_DB, MIN_THRESHOLD_DBFS, MAX_THRESHOLD_DBFS))
    noise = (flat > NOISE_FLATNESS) & (e_db < floor + NOISE_NEAR_FLOOR_DB)
    sound = usable & (e_db > thr) & ~noise

    # bridge short pauses (never across an excluded span), drop blips
    max_gap = int(round(MAX_PAUSE_S * SR / HOP))
    spans = bridge_spans(mask_spans(sound), lambda end, s: s - end <= max_gap and usable[end:s].all())
    min_len = int(round(MIN_SOUND_S * SR / HOP))
    return [sp for sp in spans if sp[1] - sp[0] >= min_len]


def segment(y: np.ndarray, sr: int, exclude: Iterable[tuple[float, float]] = ()) -> list[Region]:
    """Cover ``y`` with speech / music / silence regions (sorted, contiguous).

    Parameters
    ----------
    y, sr : mono samples and their rate (resampled to 8 kHz internally).
    exclude : ``(start_s, end_s)`` spans (DTMF presses, tones) that are never speech;
        they come out as silence (or split a region).
    """
    y8 = to_phone_rate(y, sr)
    dur = len(y8) / SR
    if len(y8) == 0:
        return []
    e_db, flat, flux, persist, persist_long, n_peaks = frame_features(y8)
    n = len(e_db)
    # frame i stands for the 10 ms around its centre (i*HOP + FRAME/2)
    starts = (np.arange(n) * HOP + FRAME // 2 - HOP // 2) / SR
    usable = np.ones(n, bool)
    for a, b in exclude:
        usable &= ~((starts + HOP / SR > a) & (starts < b))
    spans = sound_spans(e_db, flat, usable)

    frames = (e_db, flux, persist, persist_long, n_peaks, usable)
    z = _all_window_scores(frames)
    w = int(round(WINDOW_S * SR / HOP))
    h = int(round(WINDOW_HOP_S * SR / HOP))
    centres = np.arange(len(z)) * h + w // 2
    labelled: list[tuple[str, int, int]] = []
    for s, e in spans:
        inside = np.flatnonzero((centres >= s) & (centres < e))
        if len(inside) == 0 or e - s < w:
            zs = _window_scores(frames, slice(s, e))
            lab = _label_stretch(zs[:1])
            labelled.append(("speech" if lab[0] else "music", s, e))
            continue
        lab = _label_stretch(z[inside])
        # frame boundaries halfway between window centres where the label changes
        cuts = [s]
        kinds = ["speech" if lab[0] else "music"]
        for k in range(1, len(lab)):
            if lab[k] != lab[k - 1]:
                cuts.append(int((centres[inside[k - 1]] + centres[inside[k]]) // 2))
                kinds.append("speech" if lab[k] else "music")
        cuts.append(e)
        labelled += [(kd, a, b) for kd, a, b in zip(kinds, cuts[:-1], cuts[1:])]

    regions: list[Region] = []
    t = 0.0
    for kind, s, e in labelled:
        a = float(min(max(starts[s], 0.0), dur))
        b = float(min(starts[e - 1] + HOP / SR, dur))
        if a > t + 1e-9:
            regions.append(Region("silence", round(t, 3), round(a, 3)))
        if b > a:
            regions.append(Region(kind, round(a, 3), round(b, 3)))
            t = b
    if t < dur - 1e-9:
        regions.append(Region("silence", round(t, 3), round(dur, 3)))
    return _merge_same(regions)


def _merge_same(regions: list[Region]) -> list[Region]:
    out: list[Region] = []
    for r in regions:
        if out and out[-1].kind == r.kind and abs(out[-1].end_s - r.start_s) < 1e-6:
            out[-1] = Region(r.kind, out[-1].start_s, r.end_s)
        elif r.end_s > r.start_s:
            out.append(r)
    return out


def music_share(y: np.ndarray, sr: int, spans: Sequence[tuple[float, float]]) -> float:
    """Share of the speech/music windows (``WINDOW_S`` every ``WINDOW_HOP_S``) over
    ``spans`` (seconds) of ``y`` that the logistic rule scores as music
    (``speech_scores`` < 0), each span read on its own, without the smoothing that
    labels a whole sound stretch; 0.0 when no window can be scored (nothing says music).

    A speech region can hold music the stretch's label hid (the end of a transfer
    notice running into hold music, music right after a key): its windows still score
    as music one by one."""
    y8 = to_phone_rate(y, sr)
    scores: list[np.ndarray] = []
    for a, b in spans:
        seg = y8[int(round(a * SR)):int(round(b * SR))]
        if len(seg) < FRAME:
            continue
        e_db, _flat, flux, persist, persist_long, n_peaks = frame_features(seg)
        z = speech_scores(window_features(e_db, flux, persist, persist_long, n_peaks, np.ones(len(e_db), bool)))
        scores.append(z[~np.isnan(z)])
    z = np.concatenate(scores) if scores else np.zeros(0)
    return float(np.mean(z < 0)) if len(z) else 0.0


#: Speech shorter than this is not taken for the greeting (a click of the answering
#: machine, a breath).
MIN_GREETING_S = 0.2


def greeting_onset(regions: Sequence[Region], tones: Sequence[Tone]) -> float | None:
    """File time of the first IVR speech after ringback / answer; None without speech.

    The call is answered at the end of the last ringback burst that starts before the
    first speech; the greeting is the first speech region of at least
    ``MIN_GREETING_S`` that goes on after that moment.
    """
    speech = [r for r in regions if r.kind == "speech" and r.duration_s >= MIN_GREETING_S]
    if not speech:
        return None
    answer = answer_time(speech, tones)
    for r in speech:
        if r.end_s > answer + MIN_GREETING_S:
            return round(max(r.start_s, answer), 3)
    return None


def answer_time(speech: Sequence[Region], tones: Sequence[Tone]) -> float:
    """End of the last ringback burst that starts before the first speech, else 0."""
    rings = sorted((t for t in tones if t.name == "ringback"), key=lambda t: t.start_s)
    if not rings:
        return 0.0
    first_speech = next((r.start_s for r in speech if r.kind == "speech"), float("inf"))
    before = [t.end_s for t in rings if t.start_s < first_speech]
    return float(max(before)) if before else 0.0
