"""Calls as phones record them: DTMF through mobile / VoIP codecs (the simulator's
phone channels, sox / ffmpeg), two-sided recordings (the IVR's side found), AMR with
comfort-noise frames. Skips cleanly without sox (AMR-NB) or libvo-amrwbenc (AMR-WB)."""
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import chirp, correlate

from ivrkit.audio import load
from ivrkit.audio.analysis import analyse_sides, ivr_audio
from ivrkit.audio.dtmf import detect_dtmf
from ivrkit.audio.io import ivr_side

REC = Path(__file__).parents[1] / "recordings"
sys.path.insert(0, str(REC))
import simulate  # noqa: E402

SR = 8000
PROMPTS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
need_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="sox (AMR-NB encoder) not installed")
need_prompts = pytest.mark.skipif(not PROMPTS.is_dir(), reason="asterisk-core-sounds-en-wav not installed")
need_amrwb = pytest.mark.skipif(simulate.amrwb_library() is None,
                                reason="libvo-amrwbenc (AMR-WB encoder, apt install libvo-amrwbenc0) not installed")
AMRWB = [pytest.param("amrwb:0", marks=need_amrwb), pytest.param("amrwb:8", marks=need_amrwb)]
CHANNELS = ["amrnb:0", "amrnb:7", *AMRWB, "opus:8k", "gsm", "g723", "band"]


def chirp_at(t0_s: float, n_s: float = 2.0) -> np.ndarray:
    t = np.arange(int(0.3 * SR)) / SR
    y = np.zeros(int(n_s * SR), np.float32)
    y[int(t0_s * SR): int(t0_s * SR) + len(t)] = 0.2 * chirp(t, 300, 0.3, 3000) * np.hanning(len(t))
    return y


def lag_samples(out: np.ndarray, y: np.ndarray) -> int:
    out = np.pad(out, (0, max(0, len(y) - len(out))))[: len(y)]
    return int(np.argmax(correlate(out, y, mode="full"))) - (len(y) - 1)


def prompt_audio(names, gap_s=0.4) -> np.ndarray:
    parts = []
    for n in names:
        y, _ = load(PROMPTS / f"{n}.wav")
        parts += [y, np.zeros(int(gap_s * SR), np.float32)]
    return np.concatenate(parts)


def keys_over(y: np.ndarray, keys: str, t0: float, gap_s: float, rng, twist=(-5, 5), level=(-16, -6)):
    """``y`` with ``keys`` (100 ms each) added from ``t0``; returns (audio, onsets)."""
    y = y.copy()
    onsets = []
    for i, k in enumerate(keys):
        t = t0 + i * gap_s
        a = simulate.dtmf_tone(k, 0.1, rng.uniform(*level), rng.uniform(*twist), rng.uniform(-0.012, 0.012))
        j = int(t * SR)
        y[j:j + len(a)] += a
        onsets.append(t)
    return y, onsets


def noisy(y, snr_db, rng):
    n = rng.standard_normal(len(y)).astype(np.float32)
    return y + n * np.sqrt(np.mean(y ** 2)) * 10 ** (-snr_db / 20)


@need_sox
@pytest.mark.parametrize("channel", CHANNELS)
def test_phone_channels_are_aligned_round_trips(channel):
    y = chirp_at(0.5)
    out = simulate.phone_roundtrip(y, channel)
    assert out.shape == y.shape and np.sqrt(np.mean(out ** 2)) > 0.3 * np.sqrt(np.mean(y ** 2))
    if not channel.startswith("opus"):  # Opus keeps no waveform phase at low rates
        assert abs(lag_samples(out, y)) <= 8  # 1 ms: the truth times stay the tones' times


@need_sox
@pytest.mark.parametrize("channel", ["amrnb:0", *AMRWB, "g723", "gsm"])
def test_mono_phone_files_line_up_with_the_truth(tmp_path, channel):
    """A mono call is written straight into its codec's file: decoded as ivrkit reads
    it, the file's audio sits where the truth says (the decoder's delay, 5-7.5 ms,
    taken out when writing), as a two-sided call's does."""
    y = chirp_at(0.5)
    p = tmp_path / ("call" + simulate.phone_ext(channel))
    simulate.phone_encode(y, p, channel)
    raw, _ = load(p, sr=SR)
    assert abs(lag_samples(raw, y) - simulate.codec_delay_samples(channel)) <= 1  # the delay is what was measured
    simulate.phone_write(y, p, channel)
    back, sr = load(p, sr=SR)
    assert sr == SR and abs(len(back) - len(y)) < 400
    assert abs(lag_samples(back, y)) <= 8


@need_sox
def test_amr_with_comfort_noise_frames_decodes(tmp_path):
    """sox writes DTX (comfort-noise) frames in silence, as phones do; ffmpeg's AMR
    decoder has none, so ivrkit decodes such files through sox."""
    y = np.zeros(3 * SR, np.float32)
    y[SR: SR + 800] = simulate.dtmf_tone("5", 0.1, -10)
    p = tmp_path / "call.amr"
    simulate.phone_encode(y, p, "amrnb:7")
    back, sr = load(p)
    assert sr == SR and abs(len(back) - len(y)) < 200
    assert [q.key for q in detect_dtmf(back, sr)] == ["5"]


@need_sox
def test_streaming_an_amr_call_full_of_comfort_noise_frames_does_not_hang(tmp_path):
    """A 60 s AMR call that is mostly silence (DTX frames) makes ffmpeg report every
    frame it cannot decode: over 64 KB of messages. Streaming it must end (with the
    error the pipeline falls back on, then decode through sox), not wait forever on a
    full stderr pipe (the phone-corpus benchmark hung on such a call)."""
    import subprocess

    y = np.zeros(60 * SR, np.float32)
    y[SR: SR + 800] = simulate.dtmf_tone("5", 0.1, -10)
    p = tmp_path / "call.amr"
    simulate.phone_encode(y, p, "amrnb:7")
    code = ("import sys\nfrom ivrkit.audio import io\ntry:\n    sum(len(b) for b in io.stream(sys.argv[1]))\n"
            "except io.AudioError as e:\n    print('AudioError', e)\n")
    out = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "AudioError" in out.stdout and "comfort-noise" not in out.stderr
    back, sr = load(p)  # what the pipeline does next
    assert abs(len(back) - len(y)) < 200


@need_sox
@need_prompts
@pytest.mark.parametrize("channel", ["amrnb:0", "amrnb:4", *AMRWB, "gsm", "g723", "opus:8k"])
def test_keys_over_prompts_through_codecs_at_15_db(channel):
    """Every key over running prompt speech (the hardest case: the codec spends its
    bits on the voice): no wrong key, at most two lost, onsets within 6 ms on average
    and 20 ms each (AMR-NB 4.75 kbit/s and G.723.1 build a tone up over their first
    frames; read at half level, these onsets were 10-12 ms late on average, up to 39)."""
    rng = np.random.default_rng(7)
    ivr = prompt_audio(["vm-intro", "vm-options", "pbx-invalid"])
    keys = "1472580369*#"
    y, onsets = keys_over(ivr, keys, 0.5, (len(ivr) / SR - 1.0) / len(keys), rng)
    out = simulate.phone_roundtrip(noisy(y, 15, rng), channel)
    got = detect_dtmf(out, SR)
    hits = [min(range(len(keys)), key=lambda i: abs(onsets[i] - p.start_s)) for p in got]
    assert all(p.key == keys[i] for p, i in zip(got, hits))
    assert len(set(hits)) == len(got) >= len(keys) - 2
    err_ms = [abs(p.start_s - onsets[i]) * 1000 for p, i in zip(got, hits)]
    assert np.mean(err_ms) <= 6 and max(err_ms) <= 20


@need_sox
@need_prompts
@pytest.mark.parametrize("channel", ["amrnb:0", "amrnb:7", *AMRWB, "gsm", "g723"])
def test_no_talk_off_on_coded_prompts(channel):
    names = sorted(p.stem for p in PROMPTS.glob("vm-*.wav"))[:60]
    y = simulate.phone_roundtrip(prompt_audio(names, gap_s=0.2), channel)
    assert detect_dtmf(y, SR) == []


@need_prompts
@pytest.mark.parametrize("ivr_first", [True, False])
def test_two_sided_call_ivr_side_found_and_keys_from_the_caller_side(ivr_first):
    rng = np.random.default_rng(3)
    ivr = noisy(prompt_audio(["vm-intro", "vm-options", "vm-instructions"]), 30, rng)
    caller = np.zeros_like(ivr)
    caller, onsets = keys_over(caller, "2580", 2.0, 3.0, rng)
    voice, _ = load(PROMPTS / "hello.wav")  # a word said on the caller's side
    caller[int(9.5 * SR): int(9.5 * SR) + len(voice)] += voice
    caller = noisy(caller, 40, rng) + 1e-3 * rng.standard_normal(len(caller)).astype(np.float32)
    y = np.stack([ivr, caller] if ivr_first else [caller, ivr])
    assert ivr_side(y, SR) == (0 if ivr_first else 1)
    assert np.array_equal(ivr_audio(y, SR), ivr)
    sig = analyse_sides(y, SR)
    assert [p.key for p in sig.presses] == list("2580")
    assert all(abs(p.start_s - t) < 0.005 for p, t in zip(sig.presses, onsets))


def test_one_mix_written_twice_is_mono():
    rng = np.random.default_rng(1)
    y = rng.standard_normal(SR).astype(np.float32)
    assert ivr_side(np.stack([y, 0.9 * y]), SR) is None
    assert ivr_side(y, SR) is None


@pytest.mark.parametrize("channel", ["opus:12k", "gsm", "amrnb:7"])
def test_a_coded_call_rendered_twice_is_the_same_file(tmp_path, channel):
    """Same audio in, same bytes out: a re-rendered corpus keeps its files' sha256 (the
    analysis cache's key), Opus's random Ogg serial number included."""
    if channel.startswith("amrnb") and not shutil.which("sox"):
        pytest.skip("sox not installed")
    y = 0.3 * np.sin(2 * np.pi * 440 * np.arange(SR) / SR)
    ext = simulate.phone_ext(channel)
    a, b = tmp_path / f"a{ext}", tmp_path / f"b{ext}"
    simulate.phone_encode(y, a, channel)
    simulate.phone_encode(y, b, channel)
    assert a.read_bytes() == b.read_bytes()
