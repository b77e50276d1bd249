"""Call-progress tones: ringback, busy, reorder, dial, SIT and the record beep.

Method (8 kHz):

1. **Frames.** 128 ms Hann frames every 20 ms (7.8 Hz bins, enough to split the
   440+480 Hz pair). In each frame the strongest spectral peak, then the strongest
   one outside it, each with its energy (+-3 bins) and its frequency (parabolic
   interpolation). A frame is a *single tone* when one peak holds
   ``MIN_TONE_SHARE`` of the band energy and is ``MIN_PURITY_DB`` above the second, a
   *tone pair* when two peaks together hold it (partner within ``MAX_PAIR_TWIST_DB``).
   Speech and music spread their energy over many harmonics and fail this test.
2. **Catalogue.** Frequencies are matched (+-``FREQ_TOLERANCE``) against the plans of
   ITU-T E.180 / Q.35 and ANSI T1.401: North American precise tones (dial 350+440,
   ringback 440+480, busy/reorder 480+620), the European/Israeli single 400-425 Hz
   tone, UK 400+450 ringback, the three SIT segments (913.8 or 985.2, 1370.6 or
   1428.5, 1776.7 Hz). DTMF pairs match nothing.
3. **Bursts and cadence.** Runs of equal frames become bursts; each burst's edges are
   refined on 10 ms energy. The name follows from frequency and cadence: 480+620 Hz
   bursts of >= 0.375 s are busy (0.5/0.5 s), shorter ones reorder (0.25/0.25 s);
   400-425 Hz bursts >= 2.5 s are dial tone, 0.65-2.5 s ringback, shorter ones busy /
   reorder when a like burst follows or precedes within a cadence gap; SIT is the
   three rising segments in a row (one event); a lone steady single tone of
   0.18-1.2 s anywhere else is a beep (record beeps: 0.2-0.6 s; the
   chimes of confbridge-join / -leave, 0.17 s, are not).

Each returned :class:`Tone` is one burst (SIT: the whole three-segment sequence).
"""
from __future__ import annotations

import numpy as np

from .events import Tone
from .vocab import PHONE_SR as SR
from .vocab import to_phone_rate

FRAME = 1024
HOP = 160
#: Band searched for tones (Hz): every call-progress tone and the usual beeps.
BAND_HZ = (300.0, 2500.0)
#: Shares are of the energy in this wider band, so that a voice's fundamental and
#: low harmonics (below 300 Hz) count against a harmonic posing as a tone.
TOTAL_BAND_HZ = (100.0, 3400.0)
#: Half-width (bins) of a peak's energy: Hann main lobe (2 bins) + scalloping.
PEAK_HALF_BINS = 3

#: A tone frame carries at least this share of the band energy in its peak(s)
#: (a clean tone: ~0.99; 15 dB SNR: ~0.9; voiced speech: rarely above 0.6).
MIN_TONE_SHARE = 0.8
#: Single tone: second peak at least this far below the first.
MIN_PURITY_DB = 10.0
#: Tone pair: the weaker of the two within this of the stronger (the plans allow a
#: few dB between the components; codecs add little).
MAX_PAIR_TWIST_DB = 10.0
#: A beep (any frequency, so no catalogue to lean on) must be purer: a sounding
#: generator through G.711 keeps its next-strongest component > 30 dB down, a held
#: vowel harmonic or a flute note 15-25 dB.
BEEP_PURITY_DB = 27.0
#: Quieter frames are not tones (ringback is sent at -16..-24 dBm0).
MIN_LEVEL_DBFS = -45.0
#: Relative frequency tolerance: tone plans specify +-0.5..1.5 %; 425 Hz and 440 Hz
#: are 3.5 % apart.
FREQ_TOLERANCE = 0.015
#: SIT segments are specified to +-1 % (and 985.2 Hz must not swallow 1 kHz beeps).
SIT_TOLERANCE = 0.01
#: Peak frequency precision needs some absolute slack at low frequencies.
FREQ_TOLERANCE_HZ = 5.0

PAIRS = {
    "na_dial": (350.0, 440.0),
    "na_ringback": (440.0, 480.0),
    "na_busy": (480.0, 620.0),
    "uk_ringback": (400.0, 450.0),
}
SINGLES = {
    "eu": (400.0, 425.0),
    "sit1": (913.8, 985.2),
    "sit2": (1370.6, 1428.5),
    "sit3": (1776.7,),
}

#: Cadence limits (seconds).
MIN_BURST_S = 0.12
RINGBACK_MIN_S = 0.3           # UK double ring: 0.4 s bursts
DIAL_MIN_S = 1.0
BUSY_MIN_S = 0.3
REORDER_MIN_S = 0.15
BUSY_MIN_ON_S = 0.375          # 480+620: busy 0.5 s on, reorder 0.25 s on
EU_DIAL_MIN_S = 2.5            # 400-425 Hz: dial is continuous
EU_RINGBACK_MIN_S = 0.65       # ringback 1 s (0.8-1.5) on
EU_CADENCE_GAP_S = (0.15, 0.9)  # busy/reorder off-times between like bursts
SIT_SEGMENT_S = (0.2, 0.45)    # SIT segments: 274-380 ms
SIT_MAX_GAP_S = 0.1
BEEP_S = (0.18, 1.2)
#: A beep is a lone tone: nothing tonal of the same frequency this close either side
#: (a periodic tone is a cadence, not a beep).
BEEP_ISOLATION_S = 1.0
#: Generated tones do not drift: frames of one burst keep their frequencies within
#: this of the first frame (a voice's harmonics glide with its pitch).
STEADY_TOLERANCE = 0.005
STEADY_TOLERANCE_HZ = 2.0
#: A burst needs this many steady tone frames (140 ms of hops): a held vowel
#: harmonic rarely stays put that long, every call-progress tone does.
MIN_RUN_FRAMES = 7
#: Runs of one frame type may have single-frame holes (codec glitches, 20 ms).
MAX_HOLE_FRAMES = 2
#: Burst edges: where 10 ms energy falls this far below the burst's median.
EDGE_DROP_DB = 6.0
CHUNK_FRAMES = 1024


def _match(f: float, options: tuple[float, ...]) -> bool:
    return any(abs(f - o) <= max(FREQ_TOLERANCE * o, FREQ_TOLERANCE_HZ) for o in options)


def frame_peaks(y: np.ndarray) -> np.ndarray:
    """Per frame ``[level_dbfs, share1, share2, f1_hz, f2_hz, purity_db]``.

    ``share1`` = strongest peak's share of band energy, ``share2`` = both peaks'
    share, ``purity_db`` = strongest minus second peak energy. Frame i covers samples
    ``[i*HOP, i*HOP + FRAME)``.
    """
    if len(y) < FRAME:
        y = np.pad(y, (0, FRAME - len(y)))
    n = (len(y) - FRAME) // HOP + 1
    out = np.empty((n, 6), np.float32)
    win = np.hanning(FRAME).astype(np.float32)
    lo = int(BAND_HZ[0] * FRAME / SR)
    hi = int(BAND_HZ[1] * FRAME / SR)
    tlo, thi = (int(f * FRAME / SR) for f in TOTAL_BAND_HZ)
    h = PEAK_HALF_BINS
    offs = np.arange(-h, h + 1)
    for f0 in range(0, n, CHUNK_FRAMES):
        f1 = min(n, f0 + CHUNK_FRAMES)
        seg = y[f0 * HOP : (f1 - 1) * HOP + FRAME]
        fr = np.lib.stride_tricks.sliding_window_view(seg, FRAME)[::HOP]
        full = np.abs(np.fft.rfft(fr * win, axis=1)) ** 2 + 1e-20
        P = full[:, lo:hi]
        rows = np.arange(len(P))[:, None]
        tot = full[:, tlo:thi].sum(axis=1)
        k1 = P.argmax(axis=1)
        e1 = _lobe(P, k1)
        Q = P.copy()
        Q[rows, np.clip(k1[:, None] + offs, 0, P.shape[1] - 1)] = 0
        k2 = Q.argmax(axis=1)
        e2 = _lobe(Q, k2)
        # full-scale sine = 0 dBFS: Hann frame energy of a unit sine is sum(win^2)/2 * FRAME/2
        level = 10 * np.log10(2 * tot / (FRAME * (win**2).sum() / 2) + 1e-20)
        out[f0:f1, 0] = level
        out[f0:f1, 1] = e1 / tot
        out[f0:f1, 2] = (e1 + e2) / tot
        out[f0:f1, 3] = _interp(P, k1) + lo
        out[f0:f1, 4] = _interp(P, k2) + lo
        out[f0:f1, 5] = 10 * np.log10(e1 / np.maximum(e2, 1e-20))
    out[:, 3:5] *= SR / FRAME
    return out


def _lobe(P: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Energy of bins k-PEAK_HALF_BINS..k+PEAK_HALF_BINS (clipped to the band)."""
    c = np.concatenate([np.zeros((len(P), 1)), np.cumsum(P, axis=1)], axis=1)
    r = np.arange(len(P))
    hi = np.minimum(k + PEAK_HALF_BINS + 1, P.shape[1])
    lo = np.maximum(k - PEAK_HALF_BINS, 0)
    return c[r, hi] - c[r, lo]


def _interp(P: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Peak bin refined by a parabola through the log spectrum."""
    kk = np.clip(k, 1, P.shape[1] - 2)
    r = np.arange(len(P))
    a, b, c = (np.log(P[r, kk + d]) for d in (-1, 0, 1))
    den = a - 2 * b + c
    off = np.where(den < 0, 0.5 * (a - c) / np.where(den < 0, den, -1), 0.0)
    return kk + np.clip(off, -0.5, 0.5)


def frame_kinds(peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: kind (0 none, 1 single tone, 2 tone pair) and frequencies ``(n, 2)``
    (single: ``(f, 0)``; pair: ``(lower, upper)``)."""
    level, s1, s2, f1, f2, purity = peaks.T
    loud = level >= MIN_LEVEL_DBFS
    single = loud & (s1 >= MIN_TONE_SHARE) & (purity >= MIN_PURITY_DB)
    pair = loud & ~single & (s2 >= MIN_TONE_SHARE) & (purity <= MAX_PAIR_TWIST_DB)
    kind = np.where(single, 1, np.where(pair, 2, 0))
    lo, hi = np.minimum(f1, f2), np.maximum(f1, f2)
    freq = np.where(single[:, None], np.stack([f1, np.zeros_like(f1)], 1), np.stack([lo, hi], 1))
    return kind, freq


def catalogue_label(kind: int, freq: np.ndarray) -> str | None:
    """PAIRS / SINGLES key for a steady tone, ``"single"`` for any other single tone."""
    if kind == 2:
        return next((k for k, (a, b) in PAIRS.items() if _match(freq[0], (a,)) and _match(freq[1], (b,))), None)
    for k, v in SINGLES.items():
        tol = SIT_TOLERANCE if k.startswith("sit") else FREQ_TOLERANCE
        if any(abs(freq[0] - o) <= max(tol * o, FREQ_TOLERANCE_HZ) for o in v):
            return k
    return "single"


def _steady(f: np.ndarray, ref: np.ndarray) -> bool:
    return bool(np.all(np.abs(f - ref) <= np.maximum(STEADY_TOLERANCE * ref, STEADY_TOLERANCE_HZ)))


def _bursts(kind: np.ndarray, freq: np.ndarray) -> list[list]:
    """[label, first frame, last frame, frequency] runs of one steady tone.

    A frame joins the run when its kind agrees and its frequencies stay within
    STEADY_TOLERANCE of the run's first frame, across holes of up to
    MAX_HOLE_FRAMES frames. The run is then named from its median frequencies.
    """
    runs: list[list] = []
    for i in np.flatnonzero(kind > 0):
        if runs and runs[-1][0] == kind[i] and i - runs[-1][2] <= MAX_HOLE_FRAMES + 1 and _steady(freq[i], runs[-1][3]):
            runs[-1][2] = i
        else:
            runs.append([kind[i], i, i, freq[i]])
    out: list[list] = []
    for k, i0, i1, f0 in runs:
        f = np.median(freq[i0 : i1 + 1], axis=0)
        lab = catalogue_label(k, f)
        if lab is None:
            continue
        # frames straddling a burst edge see a smeared spectrum and may start a run
        # of their own: same name and frequency, touching -> one run
        if out and out[-1][0] == lab and i0 - out[-1][2] <= MAX_HOLE_FRAMES + 1 and (
            abs(f[0] / out[-1][3] - 1) <= FREQ_TOLERANCE
        ):
            out[-1][2] = int(i1)
        else:
            out.append([lab, int(i0), int(i1), float(f[0])])
    return out


def _edges(y: np.ndarray, first: int, last: int) -> tuple[float, float]:
    """Burst start/end (s) from 10 ms energy around the frames' span."""
    centre_a = first * HOP + FRAME // 2
    centre_b = last * HOP + FRAME // 2
    a = max(0, centre_a - FRAME // 2 - 80)
    b = min(len(y), centre_b + FRAME // 2 + 80)
    seg = y[a:b]
    m = len(seg) // 80
    if m < 2:
        return a / SR, b / SR
    e = 10 * np.log10(np.mean(seg[: m * 80].reshape(m, 80) ** 2, axis=1) + 1e-12)
    core = e[(centre_a - a) // 80 : max((centre_a - a) // 80 + 1, (centre_b - a) // 80 + 1)]
    ref = np.percentile(core, 75) if len(core) else e.max()
    above = np.flatnonzero(e >= ref - EDGE_DROP_DB)
    if len(above) == 0:
        return centre_a / SR, centre_b / SR
    return (a + above[0] * 80) / SR, (a + (above[-1] + 1) * 80) / SR


def detect_tones(y: np.ndarray, sr: int) -> list[Tone]:
    """Call-progress tones in ``y``: one :class:`Tone` per burst, sorted by start.

    Names: ``ringback``, ``busy``, ``reorder``, ``dial``, ``sit``, ``beep``.
    """
    y8 = to_phone_rate(y, sr)
    if len(y8) < FRAME // 2:
        return []
    peaks = frame_peaks(y8)
    kind, freq = frame_kinds(peaks)
    bursts: list[list] = []
    for lab, i0, i1, f in _bursts(kind, freq):
        if i1 - i0 + 1 < MIN_RUN_FRAMES:
            continue
        s, e = _edges(y8, i0, i1)
        # edge frames straddle silence and are less pure: judge on the core
        purity = float(np.percentile(peaks[i0 : i1 + 1, 5], 75))
        bursts.append([lab, s, e, f, purity])
    return _name([tuple(b) for b in bursts if b[2] - b[1] >= MIN_BURST_S])


def _name(bursts: list[tuple]) -> list[Tone]:
    """Tones named from labelled bursts ``(label, start_s, end_s, hz, purity_db)``:
    SIT sequences first, then each other burst by its plan's cadence, or a lone beep."""
    out, used = _sit_tones(bursts)
    for i, (lab, s, e, f, purity) in enumerate(bursts):
        if i in used:
            continue
        name = _cadence_name(bursts, i)
        if name is None and BEEP_S[0] <= e - s <= BEEP_S[1] and purity >= BEEP_PURITY_DB and lab not in PAIRS \
                and _is_lone(bursts, i):
            name = "beep"
        if name:
            out.append(Tone(name, round(float(s), 3), round(float(e), 3)))
    out.sort(key=lambda t: t.start_s)
    return out


def _sit_tones(bursts: list[tuple]) -> tuple[list[Tone], set[int]]:
    """SIT: two or three of the rising segments back to back; the tones and the
    indices of the bursts they took."""
    out: list[Tone] = []
    used: set[int] = set()
    for i, (lab, s, e, f, _) in enumerate(bursts):
        if lab != "sit1" or i in used:
            continue
        seq = [i]
        for want in ("sit2", "sit3"):
            j = seq[-1] + 1
            if j < len(bursts) and bursts[j][0] == want and bursts[j][1] - bursts[seq[-1]][2] <= SIT_MAX_GAP_S:
                seq.append(j)
        if len(seq) >= 2 and all(SIT_SEGMENT_S[0] <= bursts[k][2] - bursts[k][1] <= SIT_SEGMENT_S[1] for k in seq):
            used.update(seq)
            out.append(Tone("sit", round(float(bursts[seq[0]][1]), 3), round(float(bursts[seq[-1]][2]), 3)))
    return out, used


def _has_cadence_neighbour(bursts: list[tuple], i: int, gap_s: tuple[float, float]) -> bool:
    """A burst of the same plan just before or after burst ``i``, ``gap_s`` apart."""
    lab, s, e, _, _ = bursts[i]
    for j in (i - 1, i + 1):
        if 0 <= j < len(bursts) and bursts[j][0] == lab:
            g = s - bursts[j][2] if j < i else bursts[j][1] - e
            if gap_s[0] <= g <= gap_s[1]:
                return True
    return False


def _cadence_name(bursts: list[tuple], i: int) -> str | None:
    """Burst ``i`` named by its plan's on-time (and, for the European 425 Hz plan,
    by a neighbour at the busy / reorder cadence); None if it fits none."""
    lab, s, e, _, _ = bursts[i]
    dur = e - s
    if lab in ("na_ringback", "uk_ringback"):
        return "ringback" if dur >= RINGBACK_MIN_S else None
    if lab == "na_dial":
        return "dial" if dur >= DIAL_MIN_S else None
    if lab == "na_busy":
        return "busy" if dur >= BUSY_MIN_ON_S else "reorder" if dur >= REORDER_MIN_S else None
    if lab == "eu":
        if dur >= EU_DIAL_MIN_S:
            return "dial"
        if dur >= EU_RINGBACK_MIN_S:
            return "ringback"
        if _has_cadence_neighbour(bursts, i, EU_CADENCE_GAP_S):
            return "busy" if dur >= BUSY_MIN_ON_S else "reorder"
    return None


def _is_lone(bursts: list[tuple], i: int) -> bool:
    """No other burst of burst ``i``'s frequency within ``BEEP_ISOLATION_S``: a beep
    stands alone, a cadence repeats."""
    _, s, e, f, _ = bursts[i]
    return not any(j != i and abs(bursts[j][3] / f - 1) < FREQ_TOLERANCE
                   and (bursts[j][1] - e < BEEP_ISOLATION_S and s - bursts[j][2] < BEEP_ISOLATION_S)
                   for j in range(len(bursts)))
