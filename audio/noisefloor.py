"""A line's steady noise taken out of a power spectrogram, before speech recognition.

Calls recorded on a phone carry the line's and the handset's hiss under every
prompt, at 12-18 dB below the speech on the simulated phone corpus. Whisper tiny.en
reads speech over that floor as other words ("the full time new slide" for "to book
a new flight"); with the same calls rendered without the noise (codec and caller
kept) the option F1 of bluebird-airlines went from 8 % to 75 % (docs/benchmarks-phone.md).

The floor is subtracted where the recognizer looks: in its mel power, band by band,
as spectral subtraction does on a linear spectrum, but after the mel filters have
averaged neighbouring bins, so no isolated bins are left standing ("musical noise",
which the recognizer reads as words: spectral gating of the waveform with
``noisereduce`` heard fewer labels, not more). The floor is a low percentile of each
band over the frames that hold audio (minimum statistics): a window's pauses,
pads and the gaps between words hold the noise alone.

Applied everywhere (``WhisperEngine(denoise=True)``) it made the recognizer hear more
option labels on GSM, AMR and band-limited calls and fewer on G.723.1 ones (net 192 ->
188 of 423), and it cost the default corpus a point of option F1. So the engine's
default (``denoise="auto"``) reads a window both ways only where its speech stands
less than ``NOISY_SNR_DB`` over the floor (``snr_db``) and keeps the reading the
recognizer is surer of (docs/benchmarks-phone.md).
"""
from __future__ import annotations

import numpy as np

#: The noise floor of a band is this percentile of its power over the frames with
#: audio: speech fills well under 80 % of a window's frames (pads, pauses, gaps
#: between words), so the 20th percentile is noise (the 10th took out less: WER
#: 0.80 against 0.74 on 16 phone calls, docs/benchmarks-phone.md).
NOISE_PERCENTILE = 20.0
#: Power subtracted, in multiples of the floor: the noise's frame-to-frame spread
#: puts many noise frames above their percentile; 2x leaves few of them (1x: WER
#: 0.77, 2x: 0.74 on 16 phone calls, docs/benchmarks-phone.md).
OVER_SUBTRACT = 2.0
#: What a band keeps at least, as a share of its floor (-13 dB): a floor, not a
#: hole, so the recognizer sees the quiet of a clean recording rather than a
#: spectrum of zeros and spikes.
FLOOR_SHARE = 0.05
#: Frames whose power is this far under the loudest frame's are digital silence
#: (the zeros joining packed pieces, padding): not audio, not noise.
SILENT_FRAME_DB = 80.0
#: Fewer frames with audio than this (0.2 s at 10 ms) give no floor: nothing is changed.
MIN_FRAMES = 20
#: The loud speech of a window is this percentile of its frames' power (a window is
#: packed speech with short pads: its 90th percentile is the vowels of its prompts).
SPEECH_PERCENTILE = 90.0
#: A window is noisy when its loud speech stands less than this over the floor
#: (``snr_db``). Measured per packed window: phone corpus (12-18 dB line SNR) median
#: 26.6 dB, 110 of 150 windows under 28; clean corpus (15-35 dB) median 32.9 dB, 20
#: of 149 under 28; low-rate coders quiet the noise in pauses (G.723.1 median 29.1,
#: AMR-NB 30.0: the calls subtraction cost labels on). Option labels heard in 67
#: phone calls' windows, both readings kept per window: gate 26 dB 217, 28 dB 226,
#: 30 dB 230, none 229 of 380 (docs/benchmarks-phone.md); 28 leaves the clean
#: corpus's windows read once.
NOISY_SNR_DB = 28.0


def _live(power: np.ndarray) -> np.ndarray:
    """Frames of ``power`` (``(bands, frames)``) that hold audio (not digital silence)."""
    total = power.sum(axis=0)
    return total > total.max(initial=0.0) * 10 ** (-SILENT_FRAME_DB / 10)


def noise_floor(power: np.ndarray, live: np.ndarray) -> np.ndarray:
    """Per-band noise floor (shape ``(bands, 1)``) of a power spectrogram ``power``
    (``(bands, frames)``) over the frames where ``live`` is true."""
    return np.percentile(power[:, live], NOISE_PERCENTILE, axis=1)[:, None]


def subtract_noise_floor(power: np.ndarray) -> np.ndarray:
    """``power`` (``(bands, frames)``, linear power, e.g. mel) with each band's
    noise floor subtracted (``OVER_SUBTRACT`` times, kept above ``FLOOR_SHARE`` of
    it) on the frames that hold audio; digitally silent frames are left as they are.
    Returns a new array; ``power`` itself when it has too few frames with audio."""
    live = _live(power)
    if live.sum() < MIN_FRAMES:
        return power
    floor = noise_floor(power, live)
    clean = np.maximum(power - OVER_SUBTRACT * floor, FLOOR_SHARE * floor)
    return np.where(live[None, :], clean, power).astype(power.dtype, copy=False)


def snr_db(power: np.ndarray) -> float | None:
    """How far the loud speech of a power spectrogram ``power`` (``(bands, frames)``)
    stands over its noise floor, in dB: the ``SPEECH_PERCENTILE`` of the frames' total
    power, less the floor, over the floor (summed over bands). ``None`` when too few
    frames hold audio to tell."""
    live = _live(power)
    if live.sum() < MIN_FRAMES:
        return None
    noise = float(noise_floor(power, live).sum())
    speech = float(np.percentile(power[:, live].sum(axis=0), SPEECH_PERCENTILE)) - noise
    if noise <= 0:
        return float("inf")
    return 10 * np.log10(max(speech, 1e-12 * noise) / noise)
