"""Speech / music / silence segmentation, greeting onset and the one-pass analysis,
on Asterisk's recorded prompts and hold music and on TTS voices (committed mu-law
fixtures) with known padding, pauses, noise and presses."""
from pathlib import Path

import numpy as np
import pytest

from ivrkit.audio import Region, Tone, load
from ivrkit.audio.analysis import SignalAnalysis, analyse
from ivrkit.audio.segment import greeting_onset, segment

SR = 8000
FIX = Path(__file__).parent / "fixtures" / "audio"


def fixture(name):
    y, sr = load(FIX / name)
    assert sr == SR
    return y


def z(seconds):
    return np.zeros(int(round(seconds * SR)), np.float32)


def total(regions, kind):
    return sum(r.duration_s for r in regions if r.kind == kind)


def assert_cover(regions, dur_s):
    assert regions[0].start_s == 0.0
    assert abs(regions[-1].end_s - dur_s) < 1e-3
    for a, b in zip(regions, regions[1:]):
        assert abs(a.end_s - b.start_s) < 1e-6 and a.kind != b.kind
    assert all(r.kind in ("speech", "music", "silence") for r in regions)


def loud_span(x, floor_dbfs=-45.0):
    """First and last sample (s) where the 10 ms envelope of clean ``x`` passes the floor."""
    env = np.sqrt(np.convolve(x**2, np.ones(80) / 80, mode="same"))
    loud = np.flatnonzero(env > 10 ** (floor_dbfs / 20))
    return loud[0] / SR, (loud[-1] + 1) / SR


def tone(freqs, dur_s, level_db=-18.0):
    t = np.arange(int(round(dur_s * SR))) / SR
    return sum(10 ** (level_db / 20) * np.sin(2 * np.pi * f * t) for f in freqs).astype(np.float32)


def test_hold_music_is_music_never_speech():
    y = fixture("moh_mulaw.wav")
    regions = segment(y, SR)
    assert_cover(regions, len(y) / SR)
    assert total(regions, "speech") == 0.0
    assert total(regions, "music") > 0.9 * len(y) / SR


@pytest.mark.parametrize("name", ["prompt_vm_options.wav", "tts_espeak.wav", "tts_flite.wav", "tts_festival.wav"])
def test_prompt_padded_with_silence_has_tight_speech_edges(name):
    speech = fixture(name)
    if name == "prompt_vm_options.wav":  # trimmed to speech by make_fixtures.py
        a, b = 2.0, 2.0 + len(speech) / SR
    else:  # TTS files have their own lead/tail silence: find it on the clean file
        a, b = (2.0 + t for t in loud_span(speech))
    y = np.concatenate([z(2.0), speech, z(2.0)])
    regions = segment(y, SR)
    assert_cover(regions, len(y) / SR)
    sp = [r for r in regions if r.kind == "speech"]
    assert total(regions, "music") == 0.0
    assert abs(sp[0].start_s - a) <= 0.1
    assert abs(sp[-1].end_s - b) <= 0.1
    assert total(regions, "speech") > 0.8 * (b - a)


SLT_FIXTURES = ["tts_slt_1.wav", "tts_slt_2.wav", "tts_slt_3.wav"]


@pytest.mark.parametrize("name", SLT_FIXTURES)
def test_flite_slt_voice_is_speech(name):
    # flite's slt voice holds its harmonics like a held note; before the peak-count
    # spread feature its greetings came out music (corpus ivy-pharmacy, super-awesome)
    speech = fixture(name)
    speech = (0.3 / np.abs(speech).max() * speech).astype(np.float32)
    a, b = (2.0 + t for t in loud_span(speech))
    y = np.concatenate([z(2.0), speech, z(2.0)])
    regions = segment(y, SR)
    assert_cover(regions, len(y) / SR)
    assert total(regions, "music") == 0.0
    assert total(regions, "speech") > 0.8 * (b - a)


def test_recorded_prompts_are_speech():
    y = fixture("prompts_mulaw.wav")
    regions = segment(y, SR)
    assert_cover(regions, len(y) / SR)
    # the fixture holds a few sound effects (tt-monkeys), all else is speech
    assert total(regions, "speech") > 0.97 * (total(regions, "speech") + total(regions, "music"))


def test_short_pauses_do_not_split_long_pauses_do():
    speech = fixture("prompt_vm_options.wav")
    part1, part2 = speech[: 5 * SR], speech[5 * SR :]
    # a cut inside a word would make its own edges: cut in a quiet spot near 5 s
    env = np.convolve(speech**2, np.ones(400), mode="same")
    cut = int(np.argmin(env[4 * SR : 6 * SR])) + 4 * SR
    part1, part2 = speech[:cut], speech[cut:]
    short = segment(np.concatenate([z(1), part1, z(0.2), part2, z(1)]), SR)
    long_ = segment(np.concatenate([z(1), part1, z(1.0), part2, z(1)]), SR)
    # true gap: from the end of the sound before the cut to the start of the next
    gap_a = 1 + loud_span(part1)[1]
    gap_b = 1 + cut / SR + 1.0 + loud_span(part2)[0]
    assert not any(r.kind == "silence" and r.start_s >= 1 + cut / SR - 0.05 and r.end_s <= 1 + cut / SR + 0.3
                   and r.duration_s >= 0.15 for r in short)
    gaps = [r for r in long_ if r.kind == "silence" and r.start_s < gap_b and r.end_s > gap_a]
    assert len(gaps) == 1
    assert abs(gaps[0].start_s - gap_a) <= 0.1 and abs(gaps[0].end_s - gap_b) <= 0.1


def test_prompt_then_hold_music_without_a_pause():
    speech, music = fixture("prompt_vm_options.wav"), fixture("moh_mulaw.wav")[: 20 * SR]
    y = np.concatenate([z(1), speech, music])
    regions = segment(y, SR)
    boundary = 1 + len(speech) / SR
    sp = [r for r in regions if r.kind == "speech"]
    mu = [r for r in regions if r.kind == "music"]
    assert sp and mu
    assert abs(sp[-1].end_s - boundary) <= 1.0
    assert abs(mu[0].start_s - boundary) <= 1.0
    assert total([r for r in regions if r.start_s >= boundary + 1.0], "speech") == 0.0


def test_music_share_of_a_span_running_from_a_prompt_into_hold_music():
    from ivrkit.audio.segment import music_share

    speech, music = fixture("prompt_vm_options.wav"), fixture("moh_mulaw.wav")[: 20 * SR]
    y = np.concatenate([z(1), speech, music])
    end = 1 + len(speech) / SR
    assert music_share(y, SR, [(1.0, end)]) == 0.0
    assert music_share(y, SR, [(end + 1.0, end + 6.0)]) > 0.9
    # the prompt's last 1.5 s and 3 s of music: the span as a region read as one
    assert music_share(y, SR, [(end - 1.5, end + 3.0)]) > 0.25
    assert music_share(y, SR, [(0.0, 0.01)]) == 0.0  # nothing to score


def test_noisy_line_15db_snr():
    rng = np.random.default_rng(5)
    speech = fixture("prompt_vm_options.wav")
    y = np.concatenate([z(3), speech, z(3)])
    p = np.mean(speech**2)
    y = (y + rng.standard_normal(len(y)) * np.sqrt(p / 10 ** 1.5)).astype(np.float32)
    regions = segment(y, SR)
    sp = [r for r in regions if r.kind == "speech"]
    # truth: where the clean prompt stands above the noise (its soft tail drowns)
    noise_dbfs = 10 * np.log10(p / 10**1.5)
    a, b = (3.0 + t for t in loud_span(speech, noise_dbfs))
    assert sp and abs(sp[0].start_s - a) <= 0.1 and abs(sp[-1].end_s - b) <= 0.1
    # the noise-only lead and tail are neither speech nor music
    assert all(r.kind == "silence" for r in regions if r.end_s <= 2.8 or r.start_s >= 3.2 + len(speech) / SR)


def test_excluded_spans_are_never_speech():
    speech = fixture("prompt_vm_options.wav")
    y = np.concatenate([z(1), speech, z(1)])
    spans = [(3.0, 3.1), (6.5, 6.62), (10.0, 10.09)]
    regions = segment(y, SR, exclude=spans)
    for a, b in spans:
        covering = [r for r in regions if r.start_s < b and r.end_s > a]
        assert all(r.kind == "silence" for r in covering if r.start_s < b - 0.011 and r.end_s > a + 0.011)
    assert total(regions, "speech") > 0.8 * len(speech) / SR


def test_greeting_onset_after_ringback():
    tones = [Tone("ringback", 0.0, 2.0), Tone("ringback", 6.0, 8.0)]
    regions = [Region("silence", 0.0, 8.6), Region("speech", 8.6, 12.0), Region("silence", 12.0, 13.0)]
    assert greeting_onset(regions, tones) == 8.6
    # a breath-length blip right after answer is not the greeting
    regions = [Region("silence", 0.0, 8.2), Region("speech", 8.2, 8.3), Region("silence", 8.3, 9.0),
               Region("speech", 9.0, 11.0)]
    assert greeting_onset(regions, tones) == 9.0
    assert greeting_onset([Region("silence", 0, 5)], tones) is None
    assert greeting_onset([Region("speech", 0.5, 3.0)], []) == 0.5


def test_analyse_a_synthetic_call():
    speech = fixture("prompt_vm_options.wav")
    music = fixture("moh_mulaw.wav")[: 15 * SR]
    ring = tone((440, 480), 2.0, -20)
    t_press = 2 + 4 + 2 + 0.7 + 5.0
    y = np.concatenate([ring, z(4), ring, z(0.7), speech, z(1.0), music])
    i = int(t_press * SR)
    y[i : i + 800] += tone((852, 1477), 0.1, -9)    # "9" pressed over the prompt
    res = analyse(y, SR)
    assert isinstance(res, SignalAnalysis)
    assert [p.key for p in res.presses] == ["9"]
    assert abs(res.presses[0].start_s - t_press) <= 0.005
    assert [t.name for t in res.tones] == ["ringback", "ringback"]
    assert abs(res.answer_s - 8.0) <= 0.03
    assert res.greeting_onset_s is not None and abs(res.greeting_onset_s - 8.7) <= 0.1
    assert_cover(list(res.regions), len(y) / SR)
    # the press is not speech, the hold music is music, the ringback is not speech
    at = lambda t: next(r.kind for r in res.regions if r.start_s <= t < r.end_s)  # noqa: E731
    assert at(t_press + 0.05) == "silence"
    assert at(1.0) == "silence"
    music_from = 8.7 + len(speech) / SR + 1.0
    overlap = sum(max(0.0, r.end_s - max(r.start_s, music_from + 0.5)) for r in res.regions if r.kind == "music")
    assert overlap > 13.5


def test_analyse_resamples_other_rates():
    from scipy.signal import resample_poly

    speech = fixture("prompt_vm_options.wav")
    y16 = resample_poly(np.concatenate([z(1), speech, z(1)]), 2, 1).astype(np.float32)
    res = analyse(y16, 16000)
    assert abs(res.duration_s - (2 + len(speech) / SR)) < 0.01
    assert res.greeting_onset_s is not None and abs(res.greeting_onset_s - 1.0) <= 0.1


def test_bad_inputs_never_crash():
    assert segment(np.zeros(0, np.float32), SR) == []
    r = segment(np.zeros(100, np.float32), SR)
    assert [x.kind for x in r] == ["silence"] and abs(r[0].end_s - 100 / SR) < 1e-3
    r = segment(np.zeros(SR * 10, np.float32), SR)
    assert [x.kind for x in r] == ["silence"]
    clipped = np.clip(fixture("prompt_vm_options.wav") * 8, -1, 1)
    r = segment(clipped, SR)
    assert_cover(r, len(clipped) / SR)
    assert total(r, "speech") > 0.5 * len(clipped) / SR
    bad = fixture("prompt_vm_options.wav").copy()
    bad[1000:1100] = np.nan
    assert_cover(segment(bad, SR), len(bad) / SR)
    res = analyse(np.zeros(10, np.float32), SR)
    assert res.presses == () and res.tones == () and res.greeting_onset_s is None and res.answer_s == 0.0
    res = analyse(np.zeros(0, np.float32), SR)
    assert res.regions == () and res.duration_s == 0.0
