"""DTMF key-press detection to ITU-T Q.24 receiver requirements.

Two passes over the whole file:

1. **Block pass** (the classic receiver, as in Asterisk ``main/dsp.c`` and spandsp
   ``dtmf.c``): Goertzel powers at the eight DTMF frequencies and their second
   harmonics on 102-sample blocks (12.75 ms at 8 kHz) with a half-block hop,
   computed for many blocks at once as one matrix product. A block votes for a key
   when it passes every named test below (level, twist, relative peak, energy ratio,
   second harmonic).
2. **Press pass** (possible because the whole recording is at hand): around each run
   of voting blocks, complex demodulation at the two detected frequencies with a
   short centred window gives each tone's envelope at every sample. The press is
   where *both* envelopes stand above half their steady level, which places start
   and end to about a millisecond (a start that builds up, as coded tones do, is
   read back to where the rise begins); dips shorter than a Q.24 dropout are bridged,
   longer ones split presses; then the duration rule and a fine frequency / twist
   check over the whole press decide.

Times are seconds from the start of ``y``; other sample rates are resampled to 8 kHz.
"""
from __future__ import annotations

import functools

import numpy as np

from .events import DtmfPress
from .vocab import PHONE_SR as SR  # every test below is tuned at the telephone rate
from .vocab import bridge_spans, mask_spans, to_phone_rate

ROW_HZ = (697.0, 770.0, 852.0, 941.0)
COL_HZ = (1209.0, 1336.0, 1477.0, 1633.0)
KEYS = ("123A", "456B", "789C", "*0#D")

#: Goertzel block: 102 samples at 8 kHz, Asterisk dsp.c ``DTMF_GSIZE`` / spandsp
#: ``DTMF_SAMPLES_PER_BLOCK``. Bins 78 Hz apart separate the 73 Hz row spacing.
BLOCK = 102
#: Half-block hop, so that a 40 ms tone always fills several whole blocks.
HOP = 51

#: Level test: each tone at least this loud. Q.24 (Bellcore values) asks receivers to
#: operate down to -25 dBm per tone and to stay silent below -55 dBm; -42 dBFS sits
#: between, leaving room for the weaker tone of a -25 dBFS press with 8 dB twist.
MIN_TONE_DBFS = -42.0

#: Twist test. Q.24 receivers accept 8 dB of twist one way and 4 dB the other, but
#: sources disagree on which way is "normal" (Asterisk ``DTMF_NORMAL_TWIST`` 8 dB
#: lets the row be louder, ``DTMF_REVERSE_TWIST`` 4 dB the column; phone handsets
#: pre-emphasise the column by 2-3 dB and lines tilt either way). Both ways are
#: accepted up to 8 dB; a talk-off guard this weak is not worth rejecting real
#: presses (simulated calls with a 4-6 dB louder column were lost). The press pass
#: checks these on the fine-frequency levels.
NORMAL_TWIST_DB = 8.0    # row (low group) louder
REVERSE_TWIST_DB = 8.0   # column (high group) louder
#: Blocks measure at the nominal frequency: a tone 1.5 % off loses up to 1.4 dB in a
#: 102-sample Goertzel bin, so the block test is looser by this much.
BLOCK_TWIST_MARGIN_DB = 2.0
#: Measurement slack for the press-level twist check (levels from a Hann-windowed
#: DTFT at the measured frequency are good to a few tenths of a dB at 15 dB SNR).
PRESS_TWIST_MARGIN_DB = 2.0

#: Relative-peak test: the chosen row (column) beats every other row (column) by this
#: much. Asterisk ``DTMF_RELATIVE_PEAK_ROW/COL`` = 6.3 (8 dB).
RELATIVE_PEAK_DB = 8.0

#: Energy-ratio test: the two tones carry at least this share of the block's energy.
#: Asterisk/spandsp ``DTMF_TO_TOTAL_ENERGY`` 42 on unnormalised powers is 42/51 = 0.82
#: for a 102-sample block; relaxed so a press over louder prompt speech still has
#: voting blocks. Talk-off is held by the other tests and the press pass
#: (benchmarks/talkoff.py: zero on every Asterisk prompt and hold music, mu-law).
MIN_TONE_ENERGY_RATIO = 0.60
#: ...unless the pair stands out sharply in its groups: a key pressed over a prompt
#: as loud as itself keeps each tone STRONG_PEAK_DB above the other rows / columns
#: while the voice takes half the block's energy (simulated barge-ins at -24 dBFS
#: over -22 dBFS speech: ratio 0.41-0.44, peaks 11-19 dB). The energy test is then
#: relaxed to this share; the second-harmonic test and the press pass's voice-comb
#: test still stand against talk-off (benchmarks/talkoff.py: at 10 dB one Asterisk
#: prompt, vm-mailboxfull, talked off a "1" through three blocks of 11-17 dB peaks;
#: at 12 dB none does, and the corpus DTMF recall goes 449/451 from 448/451).
STRONG_PEAK_DB = 12.0
MIN_TONE_ENERGY_RATIO_STRONG = 0.35

#: Second-harmonic test (zaptel-era ``DTMF_2ND_HARMONIC_ROW`` 2.5 dB /
#: ``DTMF_2ND_HARMONIC_COL`` 18 dB before it was dropped): voices and instruments have
#: harmonics, a DTMF generator has none. Twice a row frequency lies near the columns,
#: whose leakage limits how strict the row test can be.
ROW_HARMONIC_DB = 2.5
COL_HARMONIC_DB = 14.0

#: Duration rules (Q.24): accept >= 40 ms, reject <= 23 ms; decided between them.
MIN_PRESS_S = 0.030
#: Q.24: interruptions up to 10 ms are part of the press; pauses of 40 ms separate
#: presses. Dips of the refined envelope shorter than this are bridged.
MAX_DROPOUT_S = 0.025
#: Blocks passing the tests must be this many at least: three half-overlapping blocks
#: span 25 ms of clean tone; a 40 ms press has five, a 23 ms one at most two.
#: (Two let a diphone voice through on the simulated corpus.)
MIN_VOTES = 3

#: A press is a steady tone pair: a good share of its whole blocks must pass the
#: tests. Music with a passing chord now and then gets long envelopes and few votes;
#: a press over loud prompt speech loses most of its blocks (0.5 lost such presses
#: on the simulated corpus, 0.2 let one hold-music chord through).
MIN_VOTE_SHARE = 0.3

#: The share is counted on blocks this many samples apart over the press's refined
#: span, so it does not depend on where the half-block grid happens to fall: a press
#: whose second half lay under prompt speech had 8 voting blocks of 20 on one grid and
#: 5 on another, 51 samples later (phone corpus, AMR-NB 7.95 kbit/s, -26 dBFS).
SHARE_HOP = 8

#: Frequency test (Q.24): accept +-1.5 %, reject +-3.5 %; decided between them on the
#: frequency measured over the whole press.
MAX_FREQ_ERROR = 0.025

#: Voice test (press pass). Two harmonics of one voice can pose as a pair: 697 and
#: 1633 Hz are the 6th and 14th harmonics of a 116 Hz voice, 852 and 1477 Hz the
#: 4th and 7th of 213 Hz (espeak-ng voices talked off "A" and "9" that way). When
#: the pair fits a harmonic comb with fundamental >= COMB_MIN_F0_HZ, the comb's
#: other teeth (250-3000 Hz) are measured: a voice has several within a few dB of
#: the weaker tone, a DTMF generator none (simulated presses, also over prompts:
#: second-strongest tooth <= -14 dB; talk-off: >= -4.5 dB).
COMB_MAX_HARMONIC = 6
COMB_TOLERANCE = 0.015
COMB_TOOTH_DB = -9.0

#: Codec pass (a second pass, only where the first saw a candidate). Speech codecs
#: (AMR-NB, GSM-FR, G.723.1) model a tone pair with their LPC and post-filters: the
#: pair comes out tilted and spread, so twist and the relative peak fail on blocks
#: of a press that is plainly there (phone corpus, benchmarks/dtmf_phone.py: AMR-NB
#: 4.75 kbit/s tilted 5 dB presses to 10-12 dB twist and left the 770 Hz row 6-9 dB
#: above 697 Hz). Around a run holding at least CODEC_MIN_STRICT_VOTES blocks that
#: pass every first-pass test for the same key, and not already a press, blocks vote
#: with these two tests relaxed; every other test (level, energy, harmonics, vote
#: count and share, duration, frequency, voice comb) stands unchanged.
CODEC_TWIST_DB = 12.0        # both ways (Q.24's 8 dB plus the codec tilt seen: 4-5 dB)
CODEC_RELATIVE_PEAK_DB = 5.0  # the strongest other row / column (first pass: 8 dB)
#: ...and, since relaxed tests let more speech vote, the run must be a steadier tone
#: than the first pass asks: at least two strict votes (one AMR-coded prompt syllable
#: had one strict block and four relaxed ones) and this share of its blocks voting
#: (coded presses: 0.8-1.0; that syllable: under 0.5).
CODEC_MIN_STRICT_VOTES = 2
CODEC_MIN_VOTE_SHARE = 0.6
#: The press's own twist (fine frequency, whole press) is held to this in the codec
#: pass: a coded press measured 10-11 dB, while a clean pair with 12 dB twist is
#: outside Q.24 and stays rejected (tests/test_dtmf.py). With PRESS_TWIST_MARGIN_DB
#: the limit is 11 dB.
CODEC_PRESS_TWIST_DB = 9.0
#: A relaxed run overlapping a first-pass press of its own key is still refined when
#: that press starts this much later than the run (a dropout and a block): the first
#: pass found only the press's end (phone corpus, AMR-NB 4.75 kbit/s: a press whose
#: first 50 ms measured 11 dB twist came out 50 ms late).
CODEC_LATE_START_S = MAX_DROPOUT_S + BLOCK / SR

#: Buried pass (a third pass). A key pressed softly under a louder prompt (simulated
#: barge-ins at -23..-27 dBFS over the menu's speech, hours benchmark) keeps the pair
#: 8-17 dB above the other rows / columns on a dozen blocks, but the voice takes 60-80 %
#: of each block's energy, so no block passes the energy test. Blocks then vote with
#: only that test relaxed to this share; the run-level tests stand (vote count and
#: share, duration, frequency, twist, voice comb).
BURIED_ENERGY_RATIO = 0.2
BURIED_MIN_VOTES = 4
BURIED_MIN_VOTE_SHARE = 0.3
#: ...and since speech then votes more easily, the press must be a step: one of its two
#: tones stands this far above the most that frequency reaches in the BURIED_FLANK_S
#: before and after it (a guard of BURIED_GUARD_S off its edges). Buried presses on
#: the hours benchmark: 8-15 dB; an Asterisk prompt (screen-callee-options, mu-law)
#: whose 116 Hz voice talked off an "A": 4 dB.
BURIED_MIN_STEP_DB = 6.0
BURIED_FLANK_S = 0.05
BURIED_GUARD_S = 0.005
#: ...and it must be within a receiver's operating range: Q.24 asks for -25 dBm per
#: tone, this leaves 5 dB for codecs and twist (buried presses on the hours benchmark:
#: -16 to -27 dBFS; an espeak-ng prompt through Opus talked off an "A" at -33 dBFS,
#: phone corpus bluebird-airlines call04).
BURIED_MIN_LEVEL_DBFS = -30.0

#: Press pass: centred box window for the envelopes (8 ms; first null 125 Hz away,
#: the partner tone is >= 268 Hz away).
ENV_WINDOW = 64
#: The press pass looks this far beyond the first / last voting block for the true
#: edges: over prompt speech the first blocks of a press often fail the tests.
EDGE_SEARCH_S = 0.1
#: Envelopes cross half their steady level at the true edge of a centred box filter.
EDGE_FRACTION = 0.5

#: Onset (press pass). Half the steady level is the start of a sharp step, but a
#: tone that builds up crosses it late, by half its build-up: a generator's ramp (2 ms
#: in the simulator: 1 ms), and low-rate speech coders, which build a tone over their
#: first frame(s) (AMR-NB 4.75 kbit/s, G.723.1: 5-20 ms). The rise is read on
#: Hann-windowed envelopes (6 ms; the partner tone, >= 268 Hz away, is beyond the main
#: lobe and its -31 dB sidelobes do not ripple the rise as a box window's -13 dB do)
#: as a linear ramp seen through that window: its length is the one whose filtered
#: rise from ONSET_LOW to EDGE_FRACTION takes as long as measured, and the press
#: starts where that ramp does (``rise_onset``). Phone corpus, truth in file time
#: (benchmarks/dtmf_phone.py): onset mean 3.4 -> 1.1 ms (AMR-NB 4.1 -> 0.8, G.723.1
#: 5.3 -> 1.5); default corpus 1.4 -> 0.9 ms. ONSET_LOW 0.05 / 0.15 / 0.2 (box
#: window, same model) gave 1.2 / 1.4 / 1.6 ms (phone) and 1.0 / 1.0 / 1.35 ms
#: (default) against 1.2 / 0.8 at 0.1; a 64-sample Hann window 1.1 / 0.9.
ONSET_WINDOW = 48
ONSET_LOW = 0.1
#: The rise is searched this far before the half crossing: two 20 ms codec frames (an
#: AMR-NB 4.75 kbit/s tone reached half level, then sagged for a frame while the
#: coder spent its bits on a prompt: 15 ms searched put that press 40 ms late).
ONSET_SEARCH_S = 0.04
#: Frames per matrix product in the block pass (keeps memory flat on long files).
CHUNK_BLOCKS = 8192

_FREQS = np.array(ROW_HZ + COL_HZ + tuple(2 * f for f in ROW_HZ + COL_HZ))


def _basis() -> np.ndarray:
    n = np.arange(BLOCK)
    arg = 2 * np.pi * np.outer(n, _FREQS) / SR
    return np.concatenate([np.cos(arg), np.sin(arg)], axis=1).astype(np.float32)


def block_powers(y: np.ndarray, hop: int = HOP) -> tuple[np.ndarray, np.ndarray]:
    """Tone energies at the 16 frequencies, and total energy, per block.

    Returns ``(tone, total)``: ``tone[b, k]`` is the energy (sum of squares) the
    Goertzel filter attributes to ``_FREQS[k]`` in block ``b`` (``2/N |X|^2``, equal
    to the block energy for a pure tone at that frequency), ``total[b]`` the block's
    energy. Block ``b`` starts at sample ``b * hop``.
    """
    n_blocks = max(0, (len(y) - BLOCK) // hop + 1)
    tone = np.empty((n_blocks, len(_FREQS)), dtype=np.float32)
    total = np.empty(n_blocks, dtype=np.float32)
    basis = _basis()
    k = len(_FREQS)
    for b0 in range(0, n_blocks, CHUNK_BLOCKS):
        b1 = min(n_blocks, b0 + CHUNK_BLOCKS)
        seg = y[b0 * hop : (b1 - 1) * hop + BLOCK]
        frames = np.lib.stride_tricks.sliding_window_view(seg, BLOCK)[::hop]
        xy = frames @ basis
        tone[b0:b1] = (xy[:, :k] ** 2 + xy[:, k:] ** 2) * (2.0 / BLOCK)
        total[b0:b1] = np.einsum("ij,ij->i", frames, frames)
    return tone, total


def _db(x: np.ndarray | float) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(x, 1e-20))


def block_votes(tone: np.ndarray, total: np.ndarray, twist_db: float | None = None,
                relative_peak_db: float = RELATIVE_PEAK_DB,
                energy_ratio: float | None = None) -> np.ndarray:
    """Key index (row * 4 + col) per block that passes every test, else -1.

    ``twist_db`` (both ways; default NORMAL_TWIST_DB / REVERSE_TWIST_DB) and
    ``relative_peak_db`` are the two tests the codec pass relaxes; ``energy_ratio``
    (default: MIN_TONE_ENERGY_RATIO, or the STRONG share for sharp pairs) the one
    the buried pass relaxes."""
    rows, cols = tone[:, 0:4], tone[:, 4:8]
    r = rows.argmax(axis=1)
    c = cols.argmax(axis=1)
    idx = np.arange(len(tone))
    pr, pc = rows[idx, r], cols[idx, c]
    # amplitude of a sine with block energy E over N samples: sqrt(2E/N)
    lr = _db(2.0 * pr / BLOCK)
    lc = _db(2.0 * pc / BLOCK)
    level_ok = (lr >= MIN_TONE_DBFS) & (lc >= MIN_TONE_DBFS)
    twist = lr - lc
    normal, reverse = (NORMAL_TWIST_DB, REVERSE_TWIST_DB) if twist_db is None else (twist_db, twist_db)
    twist_ok = (twist <= normal + BLOCK_TWIST_MARGIN_DB) & (-twist <= reverse + BLOCK_TWIST_MARGIN_DB)
    rel = 10 ** (-relative_peak_db / 10)
    rows_other = rows.copy()
    rows_other[idx, r] = 0
    cols_other = cols.copy()
    cols_other[idx, c] = 0
    peak_ok = (rows_other.max(axis=1) <= pr * rel) & (cols_other.max(axis=1) <= pc * rel)
    strong = 10 ** (-STRONG_PEAK_DB / 10)
    sharp = (rows_other.max(axis=1) <= pr * strong) & (cols_other.max(axis=1) <= pc * strong)
    energy_ok = ((pr + pc) >= MIN_TONE_ENERGY_RATIO * total) | (
        sharp & ((pr + pc) >= MIN_TONE_ENERGY_RATIO_STRONG * total))
    if energy_ratio is not None:
        energy_ok = (pr + pc) >= energy_ratio * total
    h_r = tone[idx, 8 + r]
    h_c = tone[idx, 12 + c]
    # twice 697/770/852 Hz lies 58-71 Hz from the 1336/1477/1633 Hz column: within a
    # bin, so for keys 2, 6, C the row's harmonic filter hears the column tone
    row_clash = np.abs(2 * np.asarray(ROW_HZ)[r] - np.asarray(COL_HZ)[c]) < SR / BLOCK
    harm_ok = (row_clash | (h_r <= pr * 10 ** (-ROW_HARMONIC_DB / 10))) & (
        h_c <= pc * 10 ** (-COL_HARMONIC_DB / 10)
    )
    ok = level_ok & twist_ok & peak_ok & energy_ok & harm_ok
    return np.where(ok, r * 4 + c, -1)


def _parts(y: np.ndarray):
    """Overlapping views whose blocks, concatenated, are the blocks of ``y``.

    Votes are computed part by part so memory stays flat on hour-long files.
    """
    n_blocks = (len(y) - BLOCK) // HOP + 1
    for b0 in range(0, n_blocks, CHUNK_BLOCKS):
        b1 = min(n_blocks, b0 + CHUNK_BLOCKS)
        yield y[b0 * HOP : (b1 - 1) * HOP + BLOCK]


def _runs(votes: np.ndarray, max_gap_blocks: int) -> list[tuple[int, int, int]]:
    """(key, first block, last block) runs of equal votes, bridging short gaps."""
    hit = np.flatnonzero(votes >= 0)
    runs: list[tuple[int, int, int]] = []
    for b in hit:
        key = int(votes[b])
        if runs and runs[-1][0] == key and b - runs[-1][2] <= max_gap_blocks + 1:
            runs[-1] = (key, runs[-1][1], int(b))
        else:
            runs.append((key, int(b), int(b)))
    return runs


def tone_envelope(y: np.ndarray, freq_hz: float, sr: int = SR, window: int = ENV_WINDOW) -> np.ndarray:
    """Amplitude of the ``freq_hz`` component at every sample (centred box window).

    Complex demodulation then a running mean: for a steady sine of amplitude A the
    result is A, and at a step on/off it crosses A/2 at the step itself.
    """
    n = np.arange(len(y))
    z = y * np.exp(-2j * np.pi * freq_hz / sr * n)
    c = np.concatenate([[0], np.cumsum(z)])
    half = window // 2
    lo = np.clip(n - half, 0, len(y))
    hi = np.clip(n + (window - half), 0, len(y))
    return 2.0 * np.abs(c[hi] - c[lo]) / window


def hann_envelope(y: np.ndarray, freq_hz: float, sr: int = SR, window: int = ONSET_WINDOW) -> np.ndarray:
    """Amplitude of the ``freq_hz`` component at every sample, through a centred Hann
    window of ``window`` samples (sidelobes -31 dB: the partner tone does not ripple
    it as it does a box's)."""
    n = np.arange(len(y))
    z = y * np.exp(-2j * np.pi * freq_hz / sr * n)
    w = np.hanning(window + 2)[1:-1]
    return 2.0 * np.abs(np.convolve(z, w / w.sum(), mode="same"))


def _edge(env: np.ndarray, i: int, level: float) -> float:
    """Sub-sample position where env crosses ``level`` between i-1 and i."""
    if i <= 0 or i >= len(env):
        return float(i)
    a, b = env[i - 1], env[i]
    if a == b:
        return float(i)
    return (i - 1) + float(np.clip((level - a) / (b - a), 0.0, 1.0))


@functools.lru_cache(maxsize=4)
def _ramp_leads(low: float, window: int) -> tuple[np.ndarray, np.ndarray]:
    """For a tone whose amplitude rises linearly over R samples, seen through
    ``hann_envelope``'s window: (rise time from ``low`` to EDGE_FRACTION of the
    envelope, lead of its EDGE_FRACTION crossing over the ramp's start), in samples,
    for R from 0 to 4 windows. A step crosses half at its start; a ramp half its
    length after it."""
    up = 8  # sub-samples per sample
    w = np.hanning(window * up + 2)[1:-1]
    t = np.arange(-window * up, 6 * window * up) / up
    rises, leads = [], []
    for r in np.linspace(0.0, 4.0 * window, 161):
        amp = np.clip(t / r, 0.0, 1.0) if r > 0 else (t >= 0).astype(float)
        env = np.convolve(amp, w / w.sum(), mode="same")
        t_half = t[np.argmax(env >= EDGE_FRACTION)]
        rises.append(t_half - t[np.argmax(env >= low)])
        leads.append(t_half)
    # a ramp much shorter than the window rises as fast as a step: keep the shortest
    rises, first = np.unique(np.maximum.accumulate(np.array(rises)), return_index=True)
    return rises, np.array(leads)[first]


def rise_onset(both: np.ndarray, i_half: float, window: int = ONSET_WINDOW) -> float:
    """Sub-sample start of the rise of a normalised envelope ``both`` whose
    EDGE_FRACTION crossing is at ``i_half``.

    The rise runs from the last ONSET_LOW crossing within ONSET_SEARCH_S before
    ``i_half`` to the first EDGE_FRACTION crossing after it; it is read as a linear
    ramp seen through the envelope's Hann ``window`` (``_ramp_leads``), and the start is
    that ramp's. Where the envelope stays above ONSET_LOW over the whole search span
    (a floor of speech at the tone's frequency) the press is taken as a step at
    ``i_half``. Never later than ``i_half`` nor before the search span."""
    i = int(i_half)
    lo = max(0, i - int(ONSET_SEARCH_S * SR))
    below = np.flatnonzero(both[lo:i] < ONSET_LOW)
    if not len(below):
        return i_half
    j_low = lo + int(below[-1]) + 1
    t_low = _edge(both, j_low, ONSET_LOW)
    # the rise's own half crossing: a coded tone may reach it, then sag for a frame
    j_half = j_low + int(np.argmax(both[j_low:i + 1] >= EDGE_FRACTION))
    t_half = min(i_half, _edge(both, j_half, EDGE_FRACTION)) if both[j_half] >= EDGE_FRACTION else i_half
    rises, leads = _ramp_leads(ONSET_LOW, window)
    lead = np.interp(t_half - t_low, rises, leads)
    return float(np.clip(t_half - lead, lo, i_half))


def peak_tone(y: np.ndarray, nominal_hz: float, sr: int = SR, span: float = 0.06) -> tuple[float, float]:
    """(frequency Hz, amplitude) of the strongest component within +-``span`` of nominal.

    Hann-windowed DTFT on a 0.25 % grid, refined by a parabola through the peak.
    """
    w = np.hanning(len(y) + 2)[1:-1]
    grid = nominal_hz * (1 + np.arange(-span, span + 1e-9, 0.0025))
    n = np.arange(len(y))
    basis = np.exp(-2j * np.pi * np.outer(n, grid) / sr)
    mag = np.abs((y * w) @ basis)
    k = int(mag.argmax())
    f = grid[k]
    if 0 < k < len(grid) - 1:
        a, b, c = np.log(mag[k - 1 : k + 2] + 1e-20)
        den = a - 2 * b + c
        if den < 0:
            off = 0.5 * (a - c) / den
            f = grid[k] + off * (grid[1] - grid[0])
            mag_k = np.exp(b - 0.25 * (a - c) * off)
            return float(f), float(2 * mag_k / w.sum())
    return float(f), float(2 * mag[k] / w.sum())


def _amp_near(y: np.ndarray, freqs_hz: np.ndarray, sr: int = SR, rel: float = COMB_TOLERANCE) -> np.ndarray:
    """Peak amplitude within +-``rel`` of each frequency (Hann-windowed DTFT, 7 points)."""
    w = np.hanning(len(y) + 2)[1:-1]
    grid = np.outer(freqs_hz, 1 + np.linspace(-rel, rel, 7))
    n = np.arange(len(y))
    mags = np.abs((y * w) @ np.exp(-2j * np.pi * n[:, None] * grid.ravel()[None, :] / sr))
    return 2 * mags.reshape(grid.shape).max(axis=1) / w.sum()


def is_voice_comb(y: np.ndarray, row_hz: float, col_hz: float, weaker_amp: float, sr: int = SR) -> bool:
    """True when the pair sits on a voice's harmonic comb whose other teeth are loud."""
    for m in range(2, COMB_MAX_HARMONIC + 1):
        f0 = row_hz / m
        k = round(col_hz / f0)
        if k <= m or abs(col_hz - k * f0) > COMB_TOLERANCE * col_hz:
            continue
        teeth = np.array([j * f0 for j in range(1, 40) if 250 <= j * f0 <= 3000 and j not in (m, k)])
        if len(teeth) < 2:
            continue
        second = np.sort(_amp_near(y, teeth, sr))[-2]
        if 20 * np.log10(second / max(weaker_amp, 1e-12) + 1e-12) >= COMB_TOOTH_DB:
            return True
    return False


def _onset(seg: np.ndarray, row_hz: float, col_hz: float, core: np.ndarray, i_half: float) -> float:
    """Start (sub-sample index into ``seg``) of the press whose half-level edge on the
    ENV_WINDOW envelopes is ``i_half``: ``rise_onset`` on ONSET_WINDOW envelopes
    normalised by their median over ``core`` (the voting blocks)."""
    lo = max(0, int(i_half) - int(ONSET_SEARCH_S * SR) - ONSET_WINDOW)
    hi = min(len(seg), int(i_half) + ONSET_WINDOW)
    env_r = hann_envelope(seg, row_hz)
    env_c = hann_envelope(seg, col_hz)
    ref_r, ref_c = np.median(env_r[core]), np.median(env_c[core])
    if ref_r <= 0 or ref_c <= 0:
        return i_half
    both = np.minimum(env_r[lo:hi] / ref_r, env_c[lo:hi] / ref_c)
    # the half-level crossing on the shorter window, searched near the long one's
    k = k0 = int(i_half) - lo
    while k < len(both) - 1 and both[k] < EDGE_FRACTION:
        k += 1
    while k > k0 - ONSET_WINDOW // 2 and both[k - 1] >= EDGE_FRACTION:
        k -= 1
    return lo + rise_onset(both, _edge(both, k, EDGE_FRACTION), ONSET_WINDOW)


def vote_share(seg: np.ndarray, s: int, e: int, key: int, **tests) -> float:
    """Blocks SHARE_HOP apart whose centre lies in ``seg[s:e]`` and vote for ``key``
    (``block_votes`` with ``tests``), per whole block that fits in ``seg[s:e]`` (the
    first pass's count, on a finer grid)."""
    lo = max(0, s - BLOCK // 2)
    votes = block_votes(*block_powers(seg[lo:min(len(seg), e + BLOCK // 2)], hop=SHARE_HOP), **tests)
    centres = lo + np.arange(len(votes)) * SHARE_HOP + BLOCK // 2
    n_votes = np.count_nonzero((votes == key) & (centres >= s) & (centres < e))
    return n_votes / max(1, (e - s - BLOCK) // SHARE_HOP + 1)


def _refine(y: np.ndarray, key: int, b_first: int, b_last: int, votes: np.ndarray,
            twist_db: float | None = None, min_share: float = MIN_VOTE_SHARE,
            block_tests: dict | None = None) -> list[DtmfPress]:
    """Presses of ``key`` in blocks ``b_first..b_last``: exact edges, then the press tests."""
    row_hz, col_hz = ROW_HZ[key // 4], COL_HZ[key % 4]
    pad = int(EDGE_SEARCH_S * SR)
    a = max(0, b_first * HOP - pad)
    seg = y[a:min(len(y), b_last * HOP + BLOCK + pad)]
    voted = np.flatnonzero(votes[b_first : b_last + 1] == key) + b_first
    # steady level: median over the samples covered by voting blocks
    core = np.zeros(len(seg), dtype=bool)
    for v in voted:
        core[max(0, v * HOP - a) : v * HOP - a + BLOCK] = True
    env_r, env_c = tone_envelope(seg, row_hz), tone_envelope(seg, col_hz)
    ref_r, ref_c = np.median(env_r[core]), np.median(env_c[core])
    if ref_r <= 0 or ref_c <= 0:
        return []
    both = np.minimum(env_r / ref_r, env_c / ref_c)
    # bridge dips shorter than a Q.24 dropout
    merged = bridge_spans(mask_spans(both >= EDGE_FRACTION), lambda end, s: s - end <= MAX_DROPOUT_S * SR)
    vote_centres = voted * HOP + BLOCK // 2 - a
    out: list[DtmfPress] = []
    for s, e in merged:
        n_votes = np.count_nonzero((vote_centres >= s) & (vote_centres < e))
        if n_votes < MIN_VOTES or vote_share(seg, s, e, key, **(block_tests or {})) < min_share:
            continue
        # a centred box filter crosses fraction q of a step (q - 1/2) * window
        # samples before the step: undo that so any q places the edge exactly
        shift = (EDGE_FRACTION - 0.5) * ENV_WINDOW
        start = _onset(seg, row_hz, col_hz, core, _edge(both, s, EDGE_FRACTION) - shift)
        end = len(both) - _edge(both[::-1], len(both) - e, EDGE_FRACTION) + shift
        if (end - start) / SR < MIN_PRESS_S:
            continue
        level_db = _press_body_level(seg, s, e, vote_centres, row_hz, col_hz, twist_db)
        if level_db is not None:
            out.append(DtmfPress(key=KEYS[key // 4][key % 4], start_s=round(float(a + start) / SR, 5),
                                 end_s=round(float(a + end) / SR, 5), level_db=round(level_db, 2)))
    return out


def _press_body_level(seg: np.ndarray, s: int, e: int, vote_centres: np.ndarray, row_hz: float,
                      col_hz: float, twist_db: float | None) -> float | None:
    """Level (dBFS) of a press's body when its frequencies, comb and twist pass, else None.

    The body is the voting blocks of the press, at most 0.4 s: over prompt speech the
    edges may hold more voice than tone.
    """
    inside = vote_centres[(vote_centres >= s) & (vote_centres < e)]
    lo = max(int(s), int(inside.min()) - BLOCK // 2)
    hi = min(int(e), int(inside.max()) + BLOCK // 2, lo + int(0.4 * SR))
    body = seg[lo:hi]
    fr, ar = peak_tone(body, row_hz)
    fc, ac = peak_tone(body, col_hz)
    if abs(fr / row_hz - 1) > MAX_FREQ_ERROR or abs(fc / col_hz - 1) > MAX_FREQ_ERROR:
        return None
    if is_voice_comb(body, fr, fc, min(ar, ac)):
        return None
    twist = float(_db(ar**2) - _db(ac**2))
    normal, reverse = (NORMAL_TWIST_DB, REVERSE_TWIST_DB) if twist_db is None else (twist_db, twist_db)
    if twist > normal + PRESS_TWIST_MARGIN_DB or -twist > reverse + PRESS_TWIST_MARGIN_DB:
        return None
    return float(20 * np.log10(max(ar, ac, 1e-10)))


def _codec_pass(y8: np.ndarray, powers, votes: np.ndarray, found: list[DtmfPress],
                max_gap: int) -> list[DtmfPress]:
    """Presses the first pass had a candidate for but lost to codec tilt / spread:
    runs of relaxed votes (CODEC_* tests) that hold a strict vote of the same key
    and overlap no press already found."""
    tests = {"twist_db": CODEC_TWIST_DB, "relative_peak_db": CODEC_RELATIVE_PEAK_DB}
    loose = np.concatenate([block_votes(*pw, **tests) for pw in powers])
    out: list[DtmfPress] = []
    for key, b0, b1 in _runs(loose, max_gap):
        t0, t1 = b0 * HOP / SR, (b1 * HOP + BLOCK) / SR
        name = KEYS[key // 4][key % 4]
        # a press already found explains the run, unless it is the same key found
        # only from the run's later part (its first blocks twisted beyond the first
        # pass: that press then starts late, and ``detect_dtmf`` keeps the earlier)
        if any(p.start_s < t1 and p.end_s > t0 and (p.key != name or p.start_s <= t0 + CODEC_LATE_START_S)
               for p in found):
            continue
        if np.count_nonzero(votes[b0 : b1 + 1] == key) < CODEC_MIN_STRICT_VOTES:
            continue
        if np.count_nonzero(loose[b0 : b1 + 1] == key) < MIN_VOTES:
            continue
        out.extend(_refine(y8, key, b0, b1, loose, twist_db=CODEC_PRESS_TWIST_DB, min_share=CODEC_MIN_VOTE_SHARE,
                           block_tests=tests))
    return out


def _buried_pass(y8: np.ndarray, powers, found: list[DtmfPress], max_gap: int) -> list[DtmfPress]:
    """Presses under louder prompt speech: runs of blocks that pass every first-pass
    test but the energy share (BURIED_ENERGY_RATIO), overlapping no press found, that
    step out of their surroundings (``_step_db``) at an operating-range level."""
    tests = {"energy_ratio": BURIED_ENERGY_RATIO}
    loose = np.concatenate([block_votes(*pw, **tests) for pw in powers])
    out: list[DtmfPress] = []
    for key, b0, b1 in _runs(loose, max_gap):
        t0, t1 = b0 * HOP / SR, (b1 * HOP + BLOCK) / SR
        if any(p.start_s < t1 and p.end_s > t0 for p in found):
            continue
        if np.count_nonzero(loose[b0 : b1 + 1] == key) < BURIED_MIN_VOTES:
            continue
        out.extend(p for p in _refine(y8, key, b0, b1, loose, min_share=BURIED_MIN_VOTE_SHARE, block_tests=tests)
                   if p.level_db >= BURIED_MIN_LEVEL_DBFS and _step_db(y8, p, key) >= BURIED_MIN_STEP_DB)
    return out


def _step_db(y8: np.ndarray, press: DtmfPress, key: int) -> float:
    """How far (dB) the louder-stepping tone of ``press`` stands (median over the press
    but its edges) above the most its frequency reaches in the flanks before and after."""
    s, e = int(press.start_s * SR), int(press.end_s * SR)
    flank, guard = int(BURIED_FLANK_S * SR), int(BURIED_GUARD_S * SR)
    lo, hi = max(0, s - flank), min(len(y8), e + flank)
    seg = y8[lo:hi]
    s, e = s - lo, e - lo
    steps = []
    for f in (ROW_HZ[key // 4], COL_HZ[key % 4]):
        env = tone_envelope(seg, f)
        body = float(np.median(env[s + guard : max(s + guard + 1, e - guard)]))
        around = np.concatenate([env[: max(0, s - guard)], env[e + guard :]])
        if not len(around):
            return 0.0
        steps.append(float(_db(body**2) - _db(float(around.max()) ** 2)))
    return max(steps)


def detect_dtmf(y: np.ndarray, sr: int) -> list[DtmfPress]:
    """DTMF key presses in ``y``, sorted by start time.

    Parameters
    ----------
    y : mono samples (float, full scale = 1.0); any length, including empty.
    sr : sample rate in Hz; other rates than 8 kHz are resampled to 8 kHz.

    Returns
    -------
    One :class:`DtmfPress` per key press; a tone broken by a dropout of up to ~20 ms
    is one press, presses separated by 40 ms pauses stay apart.
    """
    y8 = to_phone_rate(y, sr)
    if len(y8) < BLOCK:
        return []
    powers = [block_powers(part) for part in _parts(y8)]
    votes = np.concatenate([block_votes(*pw) for pw in powers])
    # a 40 ms pause leaves about five silent blocks; bridge fewer here and let the
    # press pass split on the exact envelope
    max_gap = int(np.ceil(0.05 * SR / HOP))
    presses: list[DtmfPress] = []
    for key, b0, b1 in _runs(votes, max_gap):
        if np.count_nonzero(votes[b0 : b1 + 1] == key) < MIN_VOTES:
            continue
        presses.extend(_refine(y8, key, b0, b1, votes))
    if np.any(votes >= 0):
        presses.extend(_codec_pass(y8, powers, votes, presses, max_gap))
    presses.extend(_buried_pass(y8, powers, presses, max_gap))
    presses.sort(key=lambda p: p.start_s)
    # a press seen from two neighbouring runs (same key) is kept once
    dedup: list[DtmfPress] = []
    for p in presses:
        if dedup and dedup[-1].key == p.key and p.start_s < dedup[-1].end_s:
            continue
        dedup.append(p)
    return dedup


def merge_presses(a, b) -> list[DtmfPress]:
    """Presses of two detections of one call (e.g. its two sides), sorted; a press of
    ``b`` overlapping one of ``a`` with the same key is the same press, kept once
    (``a``'s)."""
    out = list(a)
    for p in b:
        if not any(q.key == p.key and q.start_s < p.end_s and p.start_s < q.end_s for q in a):
            out.append(p)
    return sorted(out, key=lambda p: (p.start_s, p.end_s))
