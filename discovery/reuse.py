"""Each prompt recognised once per company: speech already transcribed is not decoded again.

Every call to a company replays the same greeting and the same menus, usually the
very same audio file, through a different line: another codec, another noise, another
level. ``ReuseEngine`` wraps any ``Engine`` and remembers, for the calls it has seen,
each decoded speech region's *fingerprint* and words. A region of a new call whose
audio is a stretch of a remembered one takes that one's words, times shifted; only
regions (or the ends of regions) that match nothing go to the recognizer.

Fingerprint: log-mel frames (64 ms every 5 ms, 16 bands of the telephone band) with
the stretch's mean spectrum taken out (cepstral mean normalisation: the line's codec
and the voice's timbre are a constant offset in log energy) and each frame's level
taken out, as unit vectors. Two stretches are aligned by cross-correlation of those
vectors (their cosine summed over frames, by FFT). A match is accepted only when the
region agrees *everywhere*: every ``LOCAL_S`` window of loud frames must agree, so
"press 1" never borrows the words of "press 2" from a prompt that differs in one word.
(Haitsma-Kalker sign bits on 10 ms frames were tried first: a 5 ms misalignment of
the frame grids already costs them half their agreement.) On noisy lines (about 15 dB
SNR and below) copies stop matching and are decoded: a miss costs time, a false
match would cost words.

The recognizer also gets less audio: only the regions to decode and ``KEEP_PAD_S``
around them, glued together (``compact``), so a two-hour call is not resampled whole;
engines read at most ``CHUNK_PAD_S`` (0.2 s) beyond a region and merge regions closer
than ``MERGE_GAP_S`` (0.5 s), and both are kept exactly.
"""
from __future__ import annotations

import dataclasses

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ivrkit.audio.vocab import mel_points_hz

from .asr import Engine, Utterance, Word

__all__ = ["ReuseEngine", "Glued", "SpanAudio", "fingerprint", "match", "compact", "REUSE_VERSION"]

#: Part of the cache key: timelines made with reuse are not those made without
#: (1: the first hearing copied into every call; 2: reused once ``AGREE`` hearings agree).
REUSE_VERSION = 2
#: A prompt's words are reused only once this many independent hearings of it (copies
#: in different calls, each decoded) read the same words. One hearing copied into
#: every call (version 1) took the merge's majority vote over noisy hearings away:
#: option F1 of the corpus 86 % -> 69 %; with 2 hearings, 81 % (two noisy calls can
#: read a prompt the same wrong way); with 3, 87 % (waits, entries as without reuse;
#: docs/benchmarks-scale.md).
AGREE = 3
#: Fingerprint frames: 64 ms windows every 5 ms (the frame grids of two calls are at
#: most 2.5 ms apart); 16 mel bands over 250-3400 Hz (the telephone band).
FRAME_S, HOP_S = 0.064, 0.005
N_BANDS, F_LO_HZ, F_HI_HZ = 16, 250.0, 3400.0
#: A frame counts when its energy is within this many dB of the region's loudest
#: (the 95th percentile): in pauses the frames are the noise and differ per call.
LOUD_DB = 20.0
#: Alignment may let the new region stick out of the remembered one by this much
#: (segmenter edges move by a frame or two with the noise).
EDGE_SLACK_S = 0.12
#: Every window of this length (with enough loud frames) must agree...
LOCAL_S = 0.3
LOCAL_MIN_LOUD = 0.3
#: ...by at least this mean cosine. Measured on the fixture prompts (tts_slt_1-3)
#: through mu-law / A-law with white noise: the same audio 0.63-0.75 at 25 dB SNR,
#: 0.41-0.54 at 18 dB, 0.28-0.5 at 15 dB; 0.4 s of other speech put in its middle
#: -0.1-0.4 (tests/test_reuse.py holds both sides).
LOCAL_AGREE = 0.5
#: Units (regions grouped as the recognizer reads them) shorter than this are decoded:
#: too little to fingerprint reliably.
MIN_REGION_S = 0.6
#: A remembered region must cover at least this much of a new one for its words to
#: be used; the rest (a longer greeting, a prompt that went on) is decoded.
MIN_COVER_S = 0.6
#: A decoded region is remembered only when its words span this share of it (the
#: recognizer's own retry rule, asr.MIN_COVERAGE: words span ~60-90 % of prompt speech).
MIN_KEEP_COVERAGE = 0.3
#: Audio kept around each region to decode when the call is glued for the recognizer:
#: more than CHUNK_PAD_S (0.2 s) plus the gap under which chunks merge (0.5 s) / 2.
KEEP_PAD_S = 0.6

def _mel_edges(sr: int, n_fft: int) -> np.ndarray:
    hz = mel_points_hz(F_LO_HZ, min(F_HI_HZ, sr / 2 - 1), N_BANDS + 1)
    return np.clip(np.round(hz * n_fft / sr).astype(int), 1, n_fft // 2)


def band_energies(y: np.ndarray, sr: int) -> np.ndarray:
    """Energy per mel band and 10 ms frame, dB (frames x N_BANDS)."""
    n, hop = int(round(FRAME_S * sr)), int(round(HOP_S * sr))
    if len(y) < n:
        return np.zeros((0, N_BANDS), np.float32)
    idx = np.arange(0, len(y) - n + 1, hop)
    frames = np.lib.stride_tricks.sliding_window_view(np.asarray(y, np.float32), n)[idx] * np.hanning(n)
    p = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    edges = _mel_edges(sr, n)
    cs = np.concatenate([np.zeros((len(p), 1)), np.cumsum(p, axis=1)], axis=1)
    e = cs[:, edges[1:]] - cs[:, edges[:-1]]
    return (10.0 * np.log10(e + 1e-10)).astype(np.float32)


@dataclass(frozen=True)
class Fingerprint:
    """Unit frame vectors (frames x N_BANDS) and which frames are loud enough to count."""

    vecs: np.ndarray
    loud: np.ndarray


def fingerprint(y: np.ndarray, sr: int) -> Fingerprint:
    """Unit log-mel frame vectors of a stretch of audio (see module doc)."""
    e = band_energies(y, sr)
    if len(e) < 2:
        return Fingerprint(np.zeros((0, N_BANDS), np.float32), np.zeros(0, bool))
    total = e.max(axis=1)
    loud = total >= np.percentile(total, 95) - LOUD_DB
    v = e - e[loud].mean(axis=0)                # the line's and the voice's average spectrum drop out
    v -= v.mean(axis=1, keepdims=True)          # ...and the frame's level
    v /= np.linalg.norm(v, axis=1, keepdims=True) + 1e-6
    return Fingerprint(v.astype(np.float32), loud)


def _xcorr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sum over bands of the correlation of ``b`` (short) along ``a`` (long), for lags
    ``-len(b)+1 .. len(a)-1`` (index 0 = lag -len(b)+1)."""
    from scipy.signal import fftconvolve

    return fftconvolve(a.astype(np.float32), b[::-1].astype(np.float32), mode="full", axes=0).sum(axis=1)


def _local_ok(prod: np.ndarray, loud: np.ndarray) -> bool:
    """Every LOCAL_S window with enough loud frames agrees by LOCAL_AGREE."""
    w = max(1, int(round(LOCAL_S / HOP_S)))
    if len(prod) < w:
        w = len(prod)
    cs_p = np.concatenate([[0.0], np.cumsum(np.where(loud, prod, 0.0))])
    cs_l = np.concatenate([[0], np.cumsum(loud)])
    n_loud = cs_l[w:] - cs_l[:-w]
    agree = (cs_p[w:] - cs_p[:-w]) / np.maximum(n_loud, 1)
    counted = n_loud >= LOCAL_MIN_LOUD * w
    return bool(counted.any()) and bool(np.all(agree[counted] >= LOCAL_AGREE))


def match(known: Fingerprint, new: Fingerprint) -> tuple[int, int, int] | None:
    """Where the stretch ``new`` lies in ``known``, or the other way round.

    Returns ``(offset, start, end)`` in frames: ``new[start:end]`` is
    ``known[start + offset : end + offset]``, and agrees everywhere (see
    ``_local_ok``); None when no alignment covers ``MIN_COVER_S`` that way.
    """
    n, m = len(new.vecs), len(known.vecs)
    if min(n, m) * HOP_S < MIN_COVER_S:
        return None
    short, long_ = (new, known) if n <= m else (known, new)
    c = _xcorr(long_.vecs, short.vecs)
    ns = len(short.vecs)
    slack = int(round(EDGE_SLACK_S / HOP_S))
    lags = np.arange(-ns + 1, len(long_.vecs))
    ok = (lags >= -slack) & (lags + ns <= len(long_.vecs) + slack)
    if not ok.any():
        return None
    lag = int(lags[ok][np.argmax(c[ok])])
    s0, s1 = max(0, -lag), min(ns, len(long_.vecs) - lag)
    prod = (short.vecs[s0:s1] * long_.vecs[s0 + lag:s1 + lag]).sum(axis=1)
    loud = short.loud[s0:s1] & long_.loud[s0 + lag:s1 + lag]
    if (s1 - s0) * HOP_S < MIN_COVER_S or not _local_ok(prod, loud):
        return None
    if short is new:
        return lag, s0, s1
    return -lag, s0 + lag, s1 + lag  # the known stretch inside the new region


def compact(regions: Sequence[tuple[float, float]], dur_s: float,
            pad_s: float = KEEP_PAD_S) -> list[tuple[float, float]]:
    """Spans of the file kept for the recognizer: each region +-``pad_s``, merged."""
    spans: list[list[float]] = []
    for s, e in sorted(regions):
        a, b = max(0.0, s - pad_s), min(dur_s, e + pad_s)
        if spans and a <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], b)
        else:
            spans.append([a, b])
    return [(a, b) for a, b in spans]


@dataclass(frozen=True)
class SpanAudio:
    """A long recording's audio kept only around its speech: ``spans`` are
    ``compact(regions, duration_s)``'s, ``samples`` theirs (``io.read_spans``)."""

    spans: tuple[tuple[float, float], ...]
    samples: tuple[np.ndarray, ...]
    duration_s: float

    def get(self, a: float, b: float) -> np.ndarray:
        return self.samples[self.spans.index((a, b))]


class Glued:
    """The speech of one or more calls glued into one signal for the recognizer.

    ``parts``: ``(y, sr, regions)`` per call (one sample rate; ``y`` the call's samples
    or a ``SpanAudio`` holding only those around ``regions``). Keeps ``compact``'s
    spans of each call one after the other (``y``), the regions in glued time
    (``regions``), and maps glued times back (``locate``).
    """

    def __init__(self, parts: Sequence[tuple[np.ndarray, int, Sequence[tuple[float, float]]]]):
        self.sr = int(parts[0][1]) if parts else 8000
        pieces, self._table, self.regions = [], [], []
        t = 0.0
        gap = np.zeros(int(round(2 * KEEP_PAD_S * self.sr)), np.float32)
        for i, (y, sr, regions) in enumerate(parts):
            if int(sr) != self.sr:
                raise ValueError("calls glued together must share one sample rate")
            if pieces and regions:  # two calls' speech never reads as one chunk
                pieces.append(gap)
                t += len(gap) / self.sr
            dur_s = y.duration_s if isinstance(y, SpanAudio) else len(y) / sr
            for a, b in compact(regions, dur_s):
                seg = y.get(a, b) if isinstance(y, SpanAudio) else y[int(round(a * sr)):int(round(b * sr))]
                self._table.append((t, i, a, b))
                pieces.append(seg)
                t += len(seg) / sr
            self.regions += [(self.to_glued(i, s), self.to_glued(i, e)) for s, e in sorted(regions)]
        self.y = np.concatenate(pieces).astype(np.float32, copy=False) if pieces else np.zeros(0, np.float32)
        self._starts = np.array([g for g, _, _, _ in self._table])

    def to_glued(self, call: int, t: float) -> float:
        """Glued time of file time ``t`` of call ``call`` (inside one of its spans)."""
        for g, i, a, b in self._table:
            if i == call and a - 1e-6 <= t <= b + 1e-6:
                return g + (t - a)
        raise ValueError(f"{t} s of call {call} is not kept")  # pragma: no cover - regions are kept

    def locate(self, t: float) -> tuple[int, float]:
        """(call, file time) of glued time ``t``."""
        k = max(0, int(np.searchsorted(self._starts, t, side="right")) - 1)
        g, i, a, _ = self._table[k]
        return i, a + (t - g)

    def split(self, utterances: Sequence[Utterance], n_calls: int) -> list[list[Utterance]]:
        """The recognizer's utterances back in each call's file time (an utterance that
        ran over a glue point is cut there)."""
        out: list[list[Utterance]] = [[] for _ in range(n_calls)]
        for u in utterances:
            runs: list[tuple[int, list[Word]]] = []
            for w in u.words:
                i, ws = self.locate(w.start_s)
                # replace, not Word(...): keeps the fields other modules add (the word's lang)
                w2 = dataclasses.replace(w, start_s=round(ws, 3), end_s=round(ws + (w.end_s - w.start_s), 3))
                if runs and runs[-1][0] == i:
                    runs[-1][1].append(w2)
                else:
                    runs.append((i, [w2]))
            for i, words in runs:
                out[i].append(_rebuild(u, tuple(words)))
        return out


def _units(regions) -> list[tuple[float, float, list[tuple[float, float]]]]:
    """Speech regions grouped as the recognizer groups them (``asr.chunk_regions``:
    neighbours closer than 0.5 s, at most 25 s): ``(start_s, end_s, regions)``. A unit
    is matched whole, so a short region is never cut off from the words around it."""
    from .asr import chunk_regions

    return [(ch[0][0], ch[-1][1], ch) for ch in chunk_regions(regions)]


def whole_match(known: Fingerprint, new: Fingerprint) -> int | None:
    """Frame offset of ``new`` in ``known`` when the two are the same stretch of
    audio end to end (``match``, both edges within ``EDGE_SLACK_S``), else None.
    Stretches whose lengths differ by more than the slack allows are not correlated."""
    slack = int(round(EDGE_SLACK_S / HOP_S))
    n, k = len(new.vecs), len(known.vecs)
    if abs(n - k) > 2 * slack:
        return None
    m = match(known, new)
    if m is None:
        return None
    off, f0, f1 = m
    if f0 <= slack and n - f1 <= slack and f0 + off <= slack and k - (f1 + off) <= slack:
        return off
    return None


def _shift_words(words, to_file) -> tuple[Word, ...]:
    return tuple(dataclasses.replace(w, start_s=round(to_file(w.start_s), 3), end_s=round(to_file(w.end_s), 3))
                 for w in words)


def _rebuild(u: Utterance, words: tuple[Word, ...]) -> Utterance:
    """``u`` with other words (``dataclasses.replace`` keeps fields other helpers add)."""
    return dataclasses.replace(u, start_s=words[0].start_s, end_s=words[-1].end_s,
                               text=" ".join(w.word for w in words), words=words)


@dataclass(eq=False)  # compared by identity
class _Prompt:
    """A stretch of speech heard in one or more calls of the company: the first
    hearing's fingerprint (``fp``, the frame grid every copy is aligned to) and each
    independent hearing as ``(reading, utterances)``: its normalised words and its
    utterances with times relative to the start of ``fp``."""

    fp: Fingerprint
    hearings: list[tuple[tuple[str, ...], list[Utterance]]] = field(default_factory=list)

    def agreed(self) -> list[Utterance] | None:
        """The words of the first hearing that ``AGREE`` hearings read the same way
        (and that heard something), else None."""
        for j, (reading, utts) in enumerate(self.hearings):
            if reading and sum(r == reading for r, _ in self.hearings[j:]) >= AGREE:
                return utts
        return None


@dataclass(frozen=True, eq=False)  # compared by identity
class _Unit:
    start_s: float
    end_s: float
    regions: tuple
    fp: Fingerprint | None


class ReuseEngine:
    """An ``Engine`` that stops transcribing a prompt once it has heard it the same way
    ``AGREE`` times (see module doc).

    ``inner``: the recognizer doing the decoding. One instance per company: what it
    remembers are that company's prompts (``forget()`` empties it). ``stats`` counts
    seconds of speech reused and decoded.
    """

    def __init__(self, inner: Engine):
        self.inner = inner
        self._prompts: list[_Prompt] = []
        self.stats = {"reused_s": 0.0, "decoded_s": 0.0}

    def identity(self) -> dict:
        from .cache import engine_identity

        return {"reuse": REUSE_VERSION, "agree": AGREE, "inner": engine_identity(self.inner)}

    def forget(self) -> None:
        self._prompts.clear()

    def transcribe(self, y: np.ndarray, sr: int, regions: Sequence[tuple[float, float]]) -> list[Utterance]:
        return self.transcribe_calls([(y, sr, regions)])[0]

    def transcribe_calls(self, calls: Sequence[tuple[np.ndarray, int, Sequence[tuple[float, float]]]]
                         ) -> list[list[Utterance]]:
        """``transcribe`` for several calls, one after the other, each decoded on its
        own (its speech packed into its own Whisper windows, as without reuse): a unit
        whose prompt earlier calls heard the same way ``AGREE`` times takes those words,
        times shifted; the rest of the call is decoded, and each prompt it holds gains
        one hearing (one per call: copies side by side in one window are not
        independent, the decoder repeats what it has just written).

        Packing every call's speech into shared windows instead (decoding rounds across
        calls) changed readings enough to cost option F1 on the corpus (86 % -> 80 %,
        bluebird-airlines 50 % -> 12 %): docs/benchmarks-scale.md."""
        return [self._call(call) for call in calls]

    def _call(self, call) -> list[Utterance]:
        """One call ``(y, sr, regions)``: reused units' words and the decoded rest."""
        out: list[Utterance] = []
        groups, alone = self._group(call)
        todo, heard = list(alone), []
        for k, members in groups.items():
            utts = self._prompts[k].agreed()
            for n, (unit, off) in enumerate(members):
                if utts is None:
                    todo.append(unit)
                    if n == 0:
                        heard.append((unit, k, off))
                    continue
                shift = unit.start_s - off * HOP_S
                out += [_rebuild(u, _shift_words(u.words, lambda t: t + shift)) for u in utts]
                self.stats["reused_s"] += unit.end_s - unit.start_s
        decoded = self._decode(call, todo)
        self._hear(call, heard, decoded)
        return sorted(out + decoded, key=lambda u: u.start_s)

    def _group(self, call) -> tuple[dict[int, list[tuple[_Unit, int]]], list[_Unit]]:
        """The call's units as copies of remembered prompts (``{prompt index:
        [(unit, frame offset)]}``; a unit like none is a new prompt), and the units too
        short to fingerprint."""
        groups: dict[int, list[tuple[_Unit, int]]] = {}
        alone: list[_Unit] = []
        for unit in self._cut(call):
            found = self._find(unit.fp) if unit.fp is not None else None
            if found is None and unit.fp is not None:
                self._prompts.append(_Prompt(unit.fp))
                found = (len(self._prompts) - 1, 0)
            if found is None:
                alone.append(unit)
            else:
                groups.setdefault(found[0], []).append((unit, found[1]))
        return groups, alone

    @staticmethod
    def _cut(call) -> list[_Unit]:
        """The call's units (``_units``), fingerprinted when long enough."""
        y, sr, regions = call
        return [_Unit(s, e, tuple(regs), fingerprint(y[int(s * sr):int(e * sr)], sr) if e - s >= MIN_REGION_S else None)
                for s, e, regs in _units(regions)]

    def _find(self, fp: Fingerprint) -> tuple[int, int] | None:
        """(index, frame offset) of the remembered prompt this unit is a whole copy of."""
        for k, p in enumerate(self._prompts):
            off = whole_match(p.fp, fp)
            if off is not None:
                return k, off
        return None

    def _hear(self, call, heard: list[tuple[_Unit, int, int]], decoded: list[Utterance]) -> None:
        """Add each decoded copy's words to its prompt's hearings (times from the
        prompt's start). A word belongs to the unit of the call nearest to its start:
        units lie at least 0.5 s apart, and the recognizer places words up to its pad
        (0.2 s) outside the speech."""
        from .asr import normalize_words

        spans = [(s, e) for s, e, _ in _units(call[2])]

        def nearest(t: float) -> tuple[float, float]:
            return min(spans, key=lambda x: max(x[0] - t, t - x[1], 0.0))

        for unit, k, off in heard:
            shift = off * HOP_S - unit.start_s
            rel = []
            for u in decoded:
                words = tuple(w for w in u.words if nearest(w.start_s) == (unit.start_s, unit.end_s))
                if words:
                    rel.append(_rebuild(u, _shift_words(words, lambda t: t + shift)))
            covered = sum(w.end_s - w.start_s for u in rel for w in u.words)
            reading = tuple(normalize_words(" ".join(u.text for u in rel)))
            ok = covered >= MIN_KEEP_COVERAGE * (unit.end_s - unit.start_s)
            self._prompts[k].hearings.append((reading if ok else (), rel))

    def _decode(self, call, units: list[_Unit]) -> list[Utterance]:
        """The inner engine on these units of the call, glued into one signal
        (``Glued``), words put back in the call's time."""
        if not units:
            return []
        self.stats["decoded_s"] += sum(u.end_s - u.start_s for u in units)
        y, sr, _ = call
        g = Glued([(y, sr, [r for u in units for r in u.regions])])
        utts = self.inner.transcribe(g.y, g.sr, g.regions)
        return g.split([u for u in utts if u.words], 1)[0]

