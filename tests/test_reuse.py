"""Prompt reuse: a prompt heard the same way in three calls gives its words to a fourth
(other codec, other noise); a prompt that differs in one word does not match; hearings
that disagree are not reused; glued speech decodes as the whole call."""
import numpy as np
import pytest

from ivrkit.audio import load
from ivrkit.audio.io import write_wav
from ivrkit.discovery.reuse import AGREE, HOP_S, Glued, ReuseEngine, fingerprint, match
from pathlib import Path

FIX = Path(__file__).resolve().parent / "fixtures"
SR = 8000


def _through_line(y, tmp_path, codec, snr_db, seed=0):
    """``y`` through a telephone codec (a real encode/decode by ffmpeg) plus noise."""
    p = tmp_path / f"line-{codec}-{seed}.wav"
    write_wav(p, y, SR, codec=codec)
    z, _ = load(p)
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(len(z)).astype(np.float32)
    level = np.sqrt(np.mean(z ** 2)) / (10 ** (snr_db / 20))
    return (z + level * noise).astype(np.float32)


@pytest.fixture(scope="module")
def prompts():
    a, _ = load(FIX / "audio" / "tts_slt_1.wav")
    b, _ = load(FIX / "audio" / "tts_slt_2.wav")
    return a, b


def test_same_prompt_other_line_matches_at_its_offset(prompts, tmp_path):
    a, _ = prompts
    known = fingerprint(a, SR)
    cut = int(0.8 * SR)                 # the new call's region starts 0.8 s into the prompt
    for codec, snr in (("pcm_mulaw", 25), ("pcm_alaw", 22)):
        heard = _through_line(a[cut:], tmp_path, codec, snr)
        m = match(known, fingerprint(heard, SR))
        assert m is not None, codec
        off, f0, f1 = m
        assert abs(off * HOP_S - 0.8) <= 0.011 and f0 * HOP_S < 0.1


def test_other_prompt_or_one_word_changed_does_not_match(prompts, tmp_path):
    a, b = prompts
    known = fingerprint(a, SR)
    assert match(known, fingerprint(_through_line(b, tmp_path, "pcm_mulaw", 25), SR)) is None
    # the same sentence with 0.4 s of its middle replaced by other speech (a word changed)
    mid = len(a) // 2
    changed = a.copy()
    changed[mid:mid + int(0.4 * SR)] = b[mid:mid + int(0.4 * SR)]
    assert match(known, fingerprint(_through_line(changed, tmp_path, "pcm_mulaw", 25), SR)) is None
    # ...while the untouched sentence through the same line does
    assert match(known, fingerprint(_through_line(a, tmp_path, "pcm_mulaw", 25), SR)) is not None


def test_glued_keeps_regions_apart_and_maps_times_back():
    y1, y2 = np.zeros(10 * SR, np.float32), np.zeros(3 * SR, np.float32)
    g = Glued([(y1, SR, [(1.0, 2.0), (2.3, 3.0), (7.0, 9.9)]), (y2, SR, [(0.0, 1.0)])])
    r = g.regions
    assert abs((r[1][0] - r[0][1]) - 0.3) < 1e-6          # a short gap stays exact
    assert r[2][0] - r[1][1] >= 1.2 - 1e-6 and r[3][0] - r[2][1] >= 1.2 - 1e-6
    assert g.locate(r[2][0] + 0.5) == (0, pytest.approx(7.5))
    assert g.locate(r[3][0] + 0.25) == (1, pytest.approx(0.25))
    assert len(g.y) / SR < 10.0                           # the 4 s of nothing in between is gone


@pytest.mark.slow
def test_next_call_reuses_words_the_hearings_agreed_on(tmp_path):
    from ivrkit.audio.analysis import analyse
    from ivrkit.discovery.asr import WhisperEngine

    y, _ = load(FIX / "calls" / "contoso" / "call01.wav")
    pad = lambda z, s: np.concatenate([np.zeros(int(s * SR), np.float32), z])  # noqa: E731
    y1, shift = pad(y, 0.4), 1.3
    y2 = _through_line(pad(y, shift), tmp_path, "pcm_alaw", 22)
    speech = lambda z: [(r.start_s, r.end_s) for r in analyse(z, SR).regions if r.kind == "speech"]  # noqa: E731
    whisper = WhisperEngine()
    eng = ReuseEngine(whisper)
    assert AGREE == 3
    # calls the engine has not heard: all decoded, nothing copied between them while
    # fewer than AGREE hearings agree
    (first,) = eng.transcribe_calls([(y, SR, speech(y))])
    eng.transcribe_calls([(y1, SR, speech(y1))])
    assert eng.stats["reused_s"] == 0
    assert all(p.agreed() is None for p in eng._prompts)   # two hearings are not enough
    y3 = pad(y, 0.9)
    eng.transcribe_calls([(y3, SR, speech(y3))])
    assert eng.stats["reused_s"] == 0
    # the same audio in three calls, each read in its own windows (side by side in one
    # window the decoder read "welcome to kinsou so gas" / "kinsoso gas"): they agree
    assert all(p.agreed() is not None for p in eng._prompts)
    (third,) = eng.transcribe_calls([(y2, SR, speech(y2))])
    assert eng.stats["reused_s"] > 0.8 * sum(e - s for s, e in speech(y2))
    w1 = [w for u in first for w in u.words]
    w3 = [w for u in third for w in u.words]
    assert [w.word for w in w3] == [w.word for w in w1] and w1
    assert all(abs(b.start_s - a.start_s - shift) < 0.03 for a, b in zip(w1, w3))
    # an empty memory changes nothing: the glued speech decodes as the whole call does
    plain = whisper.transcribe(y, SR, speech(y))
    fresh = ReuseEngine(whisper).transcribe(y, SR, speech(y))
    wf, wp = [w for u in fresh for w in u.words], [w for u in plain for w in u.words]
    assert [w.word for w in wf] == [w.word for w in wp]
    assert all(abs(a.start_s - b.start_s) < 0.01 for a, b in zip(wf, wp))


def test_hearings_that_disagree_are_not_reused():
    from ivrkit.discovery.asr import Utterance, Word
    from ivrkit.discovery.reuse import _Prompt

    def heard(text):
        words = tuple(Word(w, 0.3 * i, 0.3 * i + 0.25, 0.9) for i, w in enumerate(text.split()))
        return Utterance(0.0, words[-1].end_s, text, words)

    fp = fingerprint(np.zeros(SR, np.float32), SR)
    p = _Prompt(fp)
    p.hearings.append((("press", "one", "for", "billing"), [heard("Press 1 for billing.")]))
    assert p.agreed() is None                               # one hearing is not enough
    p.hearings.append((("press", "one", "for", "building"), [heard("Press 1 for building.")]))
    assert p.agreed() is None                               # two that differ in a word
    p.hearings.append(((), []))                             # a hearing that heard nothing
    assert p.agreed() is None
    p.hearings.append((("press", "one", "for", "building"), [heard("Press one for building")]))
    assert AGREE == 3 and p.agreed() is None                # two noisy calls can agree on a wrong reading
    p.hearings.append((("press", "one", "for", "building"), [heard("press one for building")]))
    assert p.agreed()[0].text == "Press 1 for building."    # the first of the three that agree
