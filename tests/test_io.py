"""Decoding every promised format, channel handling, resampling, and bad input."""
from pathlib import Path

import numpy as np
import pytest

from ivrkit.audio import AudioError, load
from ivrkit.audio.io import write_wav

FX = Path(__file__).parent / "fixtures" / "formats"
FORMATS = ["stereo16k.wav", "mulaw8k.wav", "call.mp3", "call.m4a", "call.amr", "call.gsm", "call.ogg", "call.flac"]


def band_energy(y, sr, f_hz, t0, t1):
    seg = y[int(t0 * sr): int(t1 * sr)]
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    freqs = np.fft.rfftfreq(len(seg), 1 / sr)
    return spec[np.abs(freqs - f_hz) < 15].sum() / spec.sum()


@pytest.mark.parametrize("name", FORMATS)
def test_every_format_decodes_to_8k_mono_with_its_content(name):
    y, sr = load(FX / name)
    assert sr == 8000 and y.ndim == 1 and y.dtype == np.float32
    # 1.5 s of signal; codecs add a few ms of priming delay / padding
    assert abs(len(y) / sr - 1.5) < 0.08
    # the DTMF "1" pair sits in the first second, and nothing after 1.0 s + codec tail
    e697 = band_energy(y, sr, 697, 0.55, 0.95)
    e1209 = band_energy(y, sr, 1209, 0.55, 0.95)
    assert e697 > 0.15 and e1209 > 0.15, (e697, e1209)
    assert np.sqrt(np.mean(y[int(1.15 * sr): int(1.45 * sr)] ** 2)) < 0.02


def test_native_rate_and_split_channels():
    y, sr = load(FX / "stereo16k.wav", sr=None, channels="split")
    assert sr == 16000 and y.shape == (2, 24000)
    left, right = y
    assert band_energy(left, sr, 1209, 0.1, 0.4) > 0.3
    assert band_energy(right, sr, 1000, 0.1, 0.4) > 0.8
    assert np.abs(right[int(0.6 * sr):]).max() < 1e-3  # right side is silent after 0.5 s
    mixed, _ = load(FX / "stereo16k.wav", sr=None)
    np.testing.assert_allclose(mixed, (left + right) / 2, atol=2e-4)


def test_resampling_keeps_frequency():
    y, sr = load(FX / "call.flac", sr=16000)  # stored at 44.1 kHz
    assert sr == 16000 and band_energy(y, sr, 697, 0.55, 0.95) > 0.15


@pytest.mark.parametrize("name, words", [
    ("missing.wav", "no such file"),
    ("empty.wav", "empty file"),
    ("truncated.wav", "truncated"),
    ("text.wav", "not a recording"),
])
def test_bad_input_is_one_line_naming_the_file(name, words):
    with pytest.raises(AudioError) as exc:
        load(FX / name)
    msg = str(exc.value)
    assert name in msg and words in msg and "\n" not in msg


def test_write_wav_mulaw_round_trip(tmp_path):
    sr = 8000
    t = np.arange(sr) / sr
    y = 0.3 * np.sin(2 * np.pi * 440 * t).astype(np.float32)
    out = tmp_path / "x.wav"
    write_wav(out, y, sr, codec="pcm_mulaw")
    assert out.read_bytes()[20:22] == b"\x07\x00"  # WAVE_FORMAT_MULAW
    back, _ = load(out)
    assert not list(tmp_path.glob(".*part"))
    snr = 10 * np.log10(np.sum(y ** 2) / np.sum((back[: len(y)] - y) ** 2))
    assert snr > 30  # G.711 gives ~38 dB on a sine at this level
