"""Call-progress tone detection on synthesized cadences (tone plans of ITU-T E.180 /
ANSI T1.401), and silence on recorded prompts, hold music and DTMF."""
from pathlib import Path

import numpy as np
import pytest

from ivrkit.audio import load
from ivrkit.audio.io import write_wav
from ivrkit.audio.tones import detect_tones

SR = 8000
FIX = Path(__file__).parent / "fixtures" / "audio"


def tone(freqs, dur_s, level_db=-18.0, sr=SR):
    t = np.arange(int(round(dur_s * sr))) / sr
    a = 10 ** (level_db / 20)
    return sum(a * np.sin(2 * np.pi * f * t + i) for i, f in enumerate(freqs)).astype(np.float32)


def cadence(freqs, pattern, repeats, lead_s=0.5, level_db=-18.0):
    """``pattern`` = (on, off, on, off, ...) seconds; returns samples and burst spans."""
    out = [np.zeros(int(lead_s * SR), np.float32)]
    spans, t = [], lead_s
    for _ in range(repeats):
        for k, d in enumerate(pattern):
            if k % 2 == 0:
                out.append(tone(freqs, d, level_db))
                spans.append((t, t + d))
            else:
                out.append(np.zeros(int(round(d * SR)), np.float32))
            t += d
    return np.concatenate(out), spans


def with_noise(y, snr_db=30.0, seed=0):
    rng = np.random.default_rng(seed)
    p = np.mean(y[np.abs(y) > 0] ** 2)
    return (y + rng.standard_normal(len(y)) * np.sqrt(p / 10 ** (snr_db / 10))).astype(np.float32)


CASES = {
    # name: (expected, freqs, pattern, repeats)
    "na_ringback": ("ringback", (440, 480), (2.0, 4.0), 3),
    "il_ringback": ("ringback", (400,), (1.0, 3.0), 3),
    "eu_ringback": ("ringback", (425,), (1.0, 4.0), 3),
    "uk_ringback": ("ringback", (400, 450), (0.4, 0.2, 0.4, 2.0), 2),
    "na_busy": ("busy", (480, 620), (0.5, 0.5), 4),
    "eu_busy": ("busy", (425,), (0.5, 0.5), 4),
    "il_busy": ("busy", (400,), (0.5, 0.5), 4),
    "na_reorder": ("reorder", (480, 620), (0.25, 0.25), 6),
    "eu_reorder": ("reorder", (425,), (0.25, 0.25), 6),
    "na_dial": ("dial", (350, 440), (6.0, 0.5), 1),
    "eu_dial": ("dial", (425,), (6.0, 0.5), 1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_cadences_are_named_per_burst(case):
    expected, freqs, pattern, repeats = CASES[case]
    y, spans = cadence(freqs, pattern, repeats)
    got = detect_tones(with_noise(y), SR)
    assert [t.name for t in got] == [expected] * len(spans)
    for t, (a, b) in zip(got, spans):
        assert abs(t.start_s - a) <= 0.03 and abs(t.end_s - b) <= 0.03


@pytest.mark.parametrize("first,second", [(913.8, 1370.6), (985.2, 1428.5)])
def test_sit_is_one_event(first, second):
    y = np.concatenate([np.zeros(4000, np.float32), tone((first,), 0.274), tone((second,), 0.274),
                        tone((1776.7,), 0.380), np.zeros(4000, np.float32)])
    got = detect_tones(with_noise(y), SR)
    assert [t.name for t in got] == ["sit"]
    assert abs(got[0].start_s - 0.5) <= 0.03 and abs(got[0].end_s - (0.5 + 0.928)) <= 0.03


@pytest.mark.parametrize("freq,dur", [(1000.0, 0.3), (1400.0, 0.5), (850.0, 0.2)])
def test_record_beep(freq, dur):
    y = np.concatenate([np.zeros(8000, np.float32), tone((freq,), dur, -12), np.zeros(8000, np.float32)])
    got = detect_tones(with_noise(y, 35), SR)
    assert [t.name for t in got] == ["beep"]
    assert abs(got[0].start_s - 1.0) <= 0.03 and abs(got[0].end_s - (1.0 + dur)) <= 0.03


def test_ringback_then_prompt_through_mulaw(tmp_path):
    speech, _ = load(FIX / "prompt_vm_options.wav")
    ring, spans = cadence((440, 480), (2.0, 4.0), 2, level_db=-22)
    y = np.concatenate([ring, speech])
    write_wav(tmp_path / "c.wav", y, SR, codec="pcm_mulaw")
    z, sr = load(tmp_path / "c.wav")
    got = detect_tones(z, sr)
    assert [t.name for t in got] == ["ringback", "ringback"]
    assert all(abs(t.start_s - a) <= 0.03 for t, (a, _) in zip(got, spans))


def test_other_sample_rate():
    y, spans = cadence((480, 620), (0.5, 0.5), 3)
    from scipy.signal import resample_poly

    got = detect_tones(resample_poly(y, 2, 1).astype(np.float32), 16000)
    assert [t.name for t in got] == ["busy"] * 3


@pytest.mark.parametrize("name", ["prompts_mulaw.wav", "moh_mulaw.wav", "prompt_vm_options.wav"])
def test_no_tones_in_speech_or_music(name):
    y, sr = load(FIX / name)
    assert detect_tones(y, sr) == []


def test_no_tones_on_dtmf():
    rows, cols = (697, 770, 852, 941), (1209, 1336, 1477, 1633)
    parts = [np.zeros(800, np.float32)]
    for r in rows:
        for c in cols:
            # long presses and heavy twist too: a DTMF pair is never a tone or a beep
            parts += [tone((r, c), 0.3), np.zeros(800, np.float32),
                      tone((r,), 0.3) + tone((c,), 0.3, -26), np.zeros(800, np.float32)]
    assert detect_tones(np.concatenate(parts), SR) == []


def test_bad_inputs_never_crash():
    assert detect_tones(np.zeros(0, np.float32), SR) == []
    assert detect_tones(np.zeros(100, np.float32), SR) == []
    assert detect_tones(np.zeros(SR * 3, np.float32), SR) == []
    clipped = np.clip(cadence((440, 480), (2.0, 4.0), 1, level_db=0)[0] * 4, -1, 1)
    got = detect_tones(clipped, SR)
    assert all(t.name in ("ringback",) for t in got)
    short = tone((440, 480), 0.05)
    assert detect_tones(short, SR) == []
