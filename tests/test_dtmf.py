"""DTMF detector against ITU-T Q.24 receiver requirements, on synthesized presses and
real recorded prompts / hold music (committed mu-law fixtures)."""
from pathlib import Path

import numpy as np
import pytest

from ivrkit.audio import load
from ivrkit.audio.dtmf import COL_HZ, KEYS, ROW_HZ, detect_dtmf
from ivrkit.audio.io import write_wav

SR = 8000
FIX = Path(__file__).parent / "fixtures" / "audio"
ALL_KEYS = "123A456B789C*0#D"


def key_freqs(key: str) -> tuple[float, float]:
    r = next(i for i, g in enumerate(KEYS) if key in g)
    return ROW_HZ[r], COL_HZ[KEYS[r].index(key)]


def press(key, dur_s=0.08, level_db=-10.0, twist_db=0.0, freq_error=0.0, sr=SR, phase=0.3):
    """Tone pair; ``twist_db`` > 0 makes the row (low) tone louder than the column."""
    fr, fc = key_freqs(key)
    t = np.arange(int(round(dur_s * sr))) / sr
    a = 10 ** (level_db / 20)
    lo = a * np.sin(2 * np.pi * fr * (1 + freq_error) * t)
    hi = a * 10 ** (-twist_db / 20) * np.sin(2 * np.pi * fc * (1 + freq_error) * t + phase)
    if twist_db < 0:  # reverse twist: column louder, column at the nominal level
        lo, hi = lo * 10 ** (twist_db / 20), hi * 10 ** (twist_db / 20)
    return (lo + hi).astype(np.float32)


def sequence(parts, sr=SR):
    """Concatenate (signal or silence seconds); returns samples and the onsets (s)."""
    out, onsets, n = [], [], 0
    for p in parts:
        x = np.zeros(int(round(p * sr)), np.float32) if np.isscalar(p) else p
        if not np.isscalar(p):
            onsets.append(n / sr)
        out.append(x)
        n += len(x)
    return np.concatenate(out), onsets


def keys_of(presses):
    return "".join(p.key for p in presses)


def test_all_16_keys_with_onsets_and_levels():
    y, onsets = sequence(sum(([press(k), 0.1] for k in ALL_KEYS), [0.2]))
    got = detect_dtmf(y, SR)
    assert keys_of(got) == ALL_KEYS
    errors_ms = [abs(p.start_s - t) * 1000 for p, t in zip(got, onsets)]
    assert max(errors_ms) <= 5.0
    assert all(abs((p.end_s - p.start_s) - 0.08) < 0.005 for p in got)
    assert all(abs(p.level_db - (-10.0)) < 0.5 for p in got)
    assert got == sorted(got, key=lambda p: p.start_s)


@pytest.mark.parametrize("err", [-0.015, 0.015])
def test_accepts_frequency_error_within_1_5_percent(err):
    y, _ = sequence(sum(([press(k, freq_error=err), 0.1] for k in ALL_KEYS), [0.1]))
    assert keys_of(detect_dtmf(y, SR)) == ALL_KEYS


@pytest.mark.parametrize("err", [-0.035, 0.035, -0.05, 0.05])
def test_rejects_frequency_error_of_3_5_percent(err):
    y, _ = sequence(sum(([press(k, freq_error=err), 0.1] for k in ALL_KEYS), [0.1]))
    assert detect_dtmf(y, SR) == []


def test_duration_rules_accept_40ms_reject_23ms():
    for k in "159#":
        y, _ = sequence([0.05, press(k, 0.040), 0.05])
        assert keys_of(detect_dtmf(y, SR)) == k
        for short in (0.020, 0.023):
            y, _ = sequence([0.05, press(k, short), 0.05])
            assert detect_dtmf(y, SR) == []


@pytest.mark.parametrize("twist", [8.0, -4.0, 0.0, -8.0])
def test_accepts_q24_twist(twist):
    # Q.24 asks for 8 dB one way and 4 dB the other; sources differ on which way, so
    # 8 dB is accepted either way (see dtmf.NORMAL_TWIST_DB)
    y, _ = sequence(sum(([press(k, twist_db=twist), 0.1] for k in ALL_KEYS), [0.1]))
    assert keys_of(detect_dtmf(y, SR)) == ALL_KEYS


@pytest.mark.parametrize("twist", [12.0, -12.0, 14.0, -14.0])
def test_rejects_excessive_twist(twist):
    y, _ = sequence(sum(([press(k, twist_db=twist), 0.1] for k in ALL_KEYS), [0.1]))
    assert detect_dtmf(y, SR) == []


@pytest.mark.parametrize("level", [-25.0, -3.0])
def test_level_range(level):
    y, _ = sequence(sum(([press(k, level_db=level), 0.1] for k in "0123456789"), [0.1]))
    got = detect_dtmf(y, SR)
    assert keys_of(got) == "0123456789"
    assert all(abs(p.level_db - level) < 0.5 for p in got)


def _noise_at_snr(y, snr_db, rng, shaped=False):
    n = rng.standard_normal(len(y)).astype(np.float32)
    if shaped:  # speech-shaped: most energy below 1 kHz, -6 dB/octave above
        from scipy.signal import lfilter

        n = lfilter([1.0], [1.0, -0.9], n).astype(np.float32)
    sig_power = np.mean(y[np.abs(y) > 0] ** 2)
    return y + n * np.sqrt(sig_power / np.mean(n**2) / 10 ** (snr_db / 10))


@pytest.mark.parametrize("shaped", [False, True])
def test_works_at_15_db_snr(shaped):
    rng = np.random.default_rng(7)
    y, onsets = sequence(sum(([press(k, level_db=-15), 0.1] for k in ALL_KEYS * 2), [0.2]))
    got = detect_dtmf(_noise_at_snr(y, 15.0, rng, shaped), SR)
    assert keys_of(got) == ALL_KEYS * 2
    assert np.mean([abs(p.start_s - t) for p, t in zip(got, onsets)]) * 1000 <= 5.0


@pytest.mark.parametrize("build_ms", [5, 10, 20])
def test_onset_of_a_tone_that_builds_up_is_where_it_starts(build_ms):
    """Low-rate speech coders build a tone up over their first frame(s): the press
    starts where the rise begins, not where it reaches half level (build_ms / 2 later)."""
    rng = np.random.default_rng(3)
    parts = [0.2]
    for k in ALL_KEYS:
        x = press(k, 0.1, level_db=-15)
        n = int(build_ms * SR / 1000)
        x[:n] *= np.linspace(0.0, 1.0, n, endpoint=False)
        parts += [x, 0.1]
    y, onsets = sequence(parts)
    got = detect_dtmf(_noise_at_snr(y, 20.0, rng, False), SR)
    assert keys_of(got) == ALL_KEYS
    errors_ms = [(p.start_s - t) * 1000 for p, t in zip(got, onsets)]
    assert np.mean(np.abs(errors_ms)) <= 1.0 and max(np.abs(errors_ms)) <= 2.5


def test_40ms_pause_separates_presses_of_same_key():
    y, onsets = sequence([0.1, press("7", 0.06), 0.040, press("7", 0.06), 0.040, press("7", 0.06), 0.1])
    got = detect_dtmf(y, SR)
    assert keys_of(got) == "777"
    assert all(abs(p.start_s - t) < 0.005 for p, t in zip(got, onsets))


@pytest.mark.parametrize("dropout_s", [0.005, 0.010, 0.015])
def test_dropout_inside_a_press_is_one_press(dropout_s):
    x = press("3", 0.12)
    i = int(0.05 * SR)
    x[i : i + int(dropout_s * SR)] = 0.0
    y, _ = sequence([0.1, x, 0.1])
    got = detect_dtmf(y, SR)
    assert keys_of(got) == "3"
    assert abs(got[0].end_s - got[0].start_s - 0.12) < 0.005


@pytest.mark.parametrize("codec", ["pcm_mulaw", "pcm_alaw"])
def test_through_g711_codecs(tmp_path, codec):
    y, onsets = sequence(sum(([press(k, level_db=-20), 0.06] for k in ALL_KEYS), [0.2]))
    write_wav(tmp_path / "c.wav", y, SR, codec=codec)
    z, sr = load(tmp_path / "c.wav")
    got = detect_dtmf(z, sr)
    assert keys_of(got) == ALL_KEYS
    assert max(abs(p.start_s - t) for p, t in zip(got, onsets)) * 1000 <= 5.0


def test_through_gsm_codec():
    # fixture: keys "159#*0D", 80 ms tones / 120 ms pauses from 0.25 s (make_fixtures.py)
    y, sr = load(FIX / "keys_gsm.gsm")
    got = detect_dtmf(y, sr)
    assert keys_of(got) == "159#*0D"
    for i, p in enumerate(got):
        assert abs(p.start_s - (0.25 + 0.2 * i)) <= 0.005


@pytest.mark.parametrize("sr", [16000, 44100, 11025])
def test_other_sample_rates(sr):
    y, onsets = sequence(sum(([press(k, sr=sr), 0.07] for k in "2580"), [0.1]), sr=sr)
    got = detect_dtmf(y, sr)
    assert keys_of(got) == "2580"
    assert max(abs(p.start_s - t) for p, t in zip(got, onsets)) * 1000 <= 5.0


def test_press_over_recorded_prompt_speech():
    speech, sr = load(FIX / "prompt_vm_options.wav")
    y = speech.copy()
    found = 0
    starts = [1.0, 3.0, 5.5, 8.0, 10.5, 13.0]
    for t in starts:
        i = int(t * SR)
        y[i : i + 800] += press("6", 0.1, level_db=-9)
    got = detect_dtmf(y, sr)
    for t in starts:
        found += any(p.key == "6" and abs(p.start_s - t) <= 0.005 for p in got)
    assert found == len(starts)
    assert len(got) == len(starts)


@pytest.mark.parametrize("name", ["prompts_mulaw.wav", "moh_mulaw.wav", "tts_espeak.wav",
                                  "tts_flite.wav", "tts_festival.wav"])
def test_no_talk_off_on_prompts_and_hold_music(name):
    y, sr = load(FIX / name)
    assert len(y) / sr > (60 if "mulaw" in name else 8)
    assert detect_dtmf(y, sr) == []


def voice_buzz(dur_s=0.2):
    """A 116.2 Hz buzz whose 6th and 14th harmonics are 697 and 1627 Hz ("A", 0.4 %
    off), boosted, with two more loud harmonics away from the DTMF bins."""
    t = np.arange(int(dur_s * SR)) / SR
    f0 = 697.0 / 6
    amps = {6: 0.3, 14: 0.3, 3: 0.2, 20: 0.2}
    return sum(amps.get(k, 0.02) * np.sin(2 * np.pi * k * f0 * t + k)
               for k in range(1, 30) if k * f0 < 3800).astype(np.float32)


def test_voice_harmonics_posing_as_a_pair_are_not_a_press(monkeypatch):
    y, _ = sequence([0.1, voice_buzz(), 0.1, press("A", 0.1), 0.1])
    got = detect_dtmf(y, SR)
    assert keys_of(got) == "A" and abs(got[0].start_s - 0.4) < 0.005
    # control: the classic block tests alone are fooled by this buzz
    import ivrkit.audio.dtmf as dtmf

    monkeypatch.setattr(dtmf, "is_voice_comb", lambda *a, **k: False)
    assert keys_of(detect_dtmf(y, SR)) == "AA"


def test_bad_inputs_never_crash():
    assert detect_dtmf(np.zeros(0, np.float32), SR) == []
    assert detect_dtmf(np.zeros(50, np.float32), SR) == []   # shorter than one block
    assert detect_dtmf(np.zeros(SR * 5, np.float32), SR) == []
    nan = press("1", 0.1)
    nan[10] = np.nan
    assert keys_of(detect_dtmf(nan, SR)) in ("", "1")
    # clipped: a -3 dBFS press driven 10 dB into the rails
    clipped = np.clip(sequence([0.1, press("4", 0.1, level_db=-3) * 3.0, 0.1])[0], -1, 1)
    got = detect_dtmf(clipped, SR)
    assert keys_of(got) in ("", "4")
    # int16 samples given as float: still sorted, finite output
    loud = sequence([0.1, press("8", 0.1) * 32767, 0.1])[0]
    assert all(np.isfinite(p.level_db) for p in detect_dtmf(loud, SR))


def test_long_file_with_presses_far_apart():
    rng = np.random.default_rng(3)
    y = (rng.standard_normal(SR * 600) * 0.003).astype(np.float32)   # 10 min, -50 dBFS noise
    times = [17.3, 250.01, 599.5]
    for t, k in zip(times, "90*"):
        i = int(t * SR)
        y[i : i + 800] += press(k, 0.1)
    got = detect_dtmf(y, SR)
    assert keys_of(got) == "90*"
    assert all(abs(p.start_s - t) <= 0.005 for p, t in zip(got, times))


def _loud_spots(y, n, dur_s=0.06, apart_s=1.0):
    """Starts (s) of the ``n`` loudest ``dur_s`` stretches of ``y``, ``apart_s`` apart."""
    hop = int(dur_s * SR / 2)
    rms = np.array([np.sqrt(np.mean(y[i : i + 2 * hop] ** 2)) for i in range(0, len(y) - 2 * hop, hop)])
    picks: list[float] = []
    for k in np.argsort(rms)[::-1]:
        if all(abs(k * hop / SR - p) > apart_s for p in picks):
            picks.append(k * hop / SR)
        if len(picks) == n:
            break
    return sorted(picks)


def test_soft_press_buried_under_louder_prompt_speech():
    """A 60 ms key at about 6 dB under the prompt's loudest syllables (a barge-in pressed
    softly: the voice takes most of every block's energy) is still a press, where it
    starts; the first pass alone found 4 of these 8."""
    speech, sr = load(FIX / "prompt_vm_options.wav")
    y = speech.copy()
    starts = _loud_spots(speech, 8)
    for t in starts:
        i = int(t * SR)
        level = 20 * np.log10(np.sqrt(np.mean(speech[i : i + 480] ** 2)))
        y[i : i + 480] += press("1", 0.06, level_db=level - 3)
    got = detect_dtmf(y, sr)
    found = sum(any(p.key == "1" and abs(p.start_s - t) <= 0.01 for p in got) for t in starts)
    assert found >= 6
    assert keys_of(got) == "1" * len(got)


ALLISON = Path("/usr/share/asterisk/sounds/en_US_f_Allison")


@pytest.mark.skipif(not (ALLISON / "screen-callee-options.wav").exists(),
                    reason="asterisk-core-sounds-en-wav not installed")
def test_voice_that_talked_off_the_buried_pass_stays_silent(tmp_path):
    """This prompt's 116 Hz voice passes the buried pass's block tests as an "A" at
    11.77 s (mu-law); it is no step above its own frequencies around it."""
    from ivrkit.audio.io import ffmpeg_exe
    import subprocess

    out = tmp_path / "p.wav"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(ALLISON / "screen-callee-options.wav"),
                    "-ac", "1", "-ar", "8000", "-c:a", "pcm_mulaw", str(out)], check=True)
    y, sr = load(out)
    assert detect_dtmf(y, sr) == []
