"""Speech recognition of calls recorded on a phone: the line's steady noise taken out
of Whisper's mel power (``audio.noisefloor``, ``asr.log_mel``), on noisy windows only
(``WhisperEngine(denoise="auto")``, the default). Real audio: Asterisk's
recorded prompts through the simulator's phone codecs, and calls of the phone
corpus rendered again by the simulator (its TTS voices, codec, noise and caller)."""
import json
import shutil
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from rapidfuzz import fuzz
from scipy.signal import butter, sosfilt

from ivrkit.audio import load
from ivrkit.audio.noisefloor import subtract_noise_floor
from ivrkit.discovery import asr

REC = Path(__file__).parents[1] / "recordings"
sys.path.insert(0, str(REC))
import simulate  # noqa: E402

SR = 8000
PROMPTS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
need_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="sox (GSM / AMR-NB encoder) not installed")
need_prompts = pytest.mark.skipif(not PROMPTS.is_dir(), reason="asterisk-core-sounds-en-wav not installed")
need_flite = pytest.mark.skipif(shutil.which("flite") is None, reason="flite (the corpus voices) not installed")


@pytest.fixture(scope="module")
def model():
    return asr.WhisperEngine().model


def line_noise(n: int, rms: float, seed: int) -> np.ndarray:
    """The simulator's line noise: white noise band-passed to 150-3700 Hz."""
    sos = butter(2, [150, 3700], btype="bandpass", fs=SR, output="sos")
    x = sosfilt(sos, np.random.default_rng(seed).standard_normal(n)).astype(np.float32)
    return x * rms / np.sqrt(np.mean(x ** 2))


def test_log_mel_is_whispers_features_when_there_is_no_floor_to_take(model):
    """Too little audio for a floor (under MIN_FRAMES frames): exactly the features
    faster-whisper's extractor computes, so the rest of log_mel is its own code."""
    y = np.random.default_rng(0).standard_normal(1600).astype(np.float32) * 0.1  # 0.1 s at 16 kHz
    assert np.array_equal(asr.log_mel(model.feature_extractor, y), model.feature_extractor(y))


@need_prompts
@need_sox
def test_noise_floor_goes_and_speech_stays_through_a_phone_codec(model):
    """A recorded prompt at 13 dB over line noise, through GSM: in the mel power the
    recognizer sees, the noise-only frames come down by more than 3 dB (4.1 measured)
    while the loud speech frames' power moves by less than 0.5 dB."""
    speech, _ = load(PROMPTS / "vm-options.wav")
    pad = np.zeros(SR, np.float32)
    y = np.concatenate([pad, speech, pad])
    y = y + line_noise(len(y), np.sqrt(np.mean(speech ** 2)) * 10 ** (-13 / 20), 5)
    y16 = asr._resample(simulate.phone_roundtrip(y, "gsm"), SR, asr.WHISPER_SR)
    fe = model.feature_extractor
    x = np.pad(y16, (0, 160))
    stft = fe.stft(x, fe.n_fft, fe.hop_length, window=np.hanning(fe.n_fft + 1)[:-1].astype("float32"),
                   return_complex=True)
    mel = fe.mel_filters @ (np.abs(stft[..., :-1]) ** 2)
    out = subtract_noise_floor(mel)
    band = slice(5, 55)  # 200-3500 Hz, the phone band
    noise = np.r_[10:90, mel.shape[1] - 90:mel.shape[1] - 10]  # the padding's frames
    drop_db = 10 * np.log10(mel[band][:, noise].sum() / out[band][:, noise].sum())
    loud = np.argsort(mel[band].sum(axis=0))[-50:]
    moved_db = 10 * np.log10(mel[band][:, loud].sum() / out[band][:, loud].sum())
    assert drop_db > 3, drop_db
    assert moved_db < 0.5, moved_db


def corpus_call(spec_name: str, i: int, out: Path) -> dict:
    """Call ``i`` (from 0) of ``spec_name`` exactly as ``simulate.py corpus --channel
    phone`` renders it (the same seeds); returns its truth."""
    spec_path = REC / "specs" / f"{spec_name}.json"
    spec = simulate.load_spec(spec_path)
    seed = 1 * 100_000 + zlib.crc32(spec_name.encode()) % 100_000
    lv = simulate.leaves(spec)
    s = seed * 1000 + i
    leaf = lv[i % len(lv)] if i < len(lv) else lv[int(np.random.default_rng(s).integers(len(lv)))]
    plan = simulate.phone_plan(spec, leaf, f"call{i + 1:02d}", s)
    return simulate.render_phone_call(spec, plan, simulate.Renderer(), out)


need_amrwb = pytest.mark.skipif(simulate.amrwb_library() is None,
                                reason="libvo-amrwbenc (AMR-WB encoder) not installed")


@pytest.mark.slow
@need_sox
@need_flite
@pytest.mark.parametrize("spec_name,i,codec,min_right", [
    ("acme-bank", 6, "gsm", 3),
    pytest.param("ivy-pharmacy", 7, "amrwb:7", 3, marks=need_amrwb),
    ("falcon-mobile", 5, "g723", 2),
])
def test_menu_labels_heard_through_phone_codecs_at_12_to_18_db(tmp_path, spec_name, i, codec, min_right):
    """The default engine (``denoise="auto"``) on three phone-corpus calls with line
    noise and the caller talking hears ``min_right`` of the labels of the options
    they played (at the menu's true path, by key): acme-bank call07 (GSM, 14.6 dB;
    with the features as faster-whisper computes them, ``denoise=False``: 1 of 4),
    ivy-pharmacy call08 (AMR-WB 23.05, 17.9 dB: 0 of 4), falcon-mobile call06
    (G.723.1, 13.6 dB: with the noise floor out of every window, ``denoise=True``, 1
    of 5, "testing the full support"; as computed 2 of 5) (phone corpus runs and this
    call rendered again, docs/benchmarks-phone.md)."""
    from ivrkit.discovery.pipeline import analyse_call

    truth = corpus_call(spec_name, i, tmp_path)
    assert truth["codec"] == codec and truth["snr_db"] < 18
    tl = analyse_call(tmp_path / truth["file"], asr.WhisperEngine())
    want = {(tuple(v["path"]), o["key"]): o["label"] for v in truth["visits"] for o in v["options"]}
    heard = {(tuple(m["path"]), o["key"]): o["label"] for m in tl["menus"] for o in m["options"]}
    right = [k for k, lab in want.items() if fuzz.token_set_ratio(lab.lower(), (heard.get(k) or "").lower()) >= 75]
    assert len(right) >= min_right, (want, heard, json.dumps([m.get("prompt") for m in tl["menus"]]))

def window_power(model, y8: np.ndarray) -> np.ndarray:
    """Whisper's mel power of 8 kHz audio, as the engine computes it for a window."""
    return asr.mel_power(model.feature_extractor, asr._resample(y8, SR, asr.WHISPER_SR))


def prompt_over_noise(name: str, snr_db: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """An Asterisk prompt with 0.3 s pads (a packed window's shape) over the simulator's
    line noise at ``snr_db``; returns (noisy, the prompt alone)."""
    speech, _ = load(PROMPTS / f"{name}.wav")
    y = np.concatenate([np.zeros(int(0.3 * SR), np.float32), speech, np.zeros(int(0.3 * SR), np.float32)])
    return y + line_noise(len(y), np.sqrt(np.mean(speech ** 2)) * 10 ** (-snr_db / 20), seed), y


@need_prompts
@need_sox
def test_a_window_is_noisy_on_a_phone_line_and_not_on_a_clean_one(model):
    """``noisefloor.snr_db`` of a prompt at 13 dB line SNR through GSM stands under
    NOISY_SNR_DB (the engine reads it both ways); the same prompt at 35 dB through
    mu-law (the clean corpus's best calls) stands above it. Through GSM it rises with
    the line's SNR; through G.723.1 at the same line SNR it stands higher than through
    GSM (measured 28.9 vs 24.8 dB at 15 dB): the low-rate coder quiets the noise in
    pauses, which is why G.723.1 windows are read as computed more often."""
    from ivrkit.audio.noisefloor import NOISY_SNR_DB, snr_db

    def through(snr: float, channel: str) -> float:
        noisy, _ = prompt_over_noise("vm-options", snr, 3)
        coded = simulate.roundtrip(noisy, "mulaw") if channel == "mulaw" else simulate.phone_roundtrip(noisy, channel)
        return snr_db(window_power(model, coded))

    gsm = [through(snr, "gsm") for snr in (13, 18, 26)]
    assert gsm[0] < NOISY_SNR_DB - 3, gsm
    assert gsm[0] < gsm[1] < gsm[2], gsm
    high = through(35, "mulaw")
    assert high > NOISY_SNR_DB + 3, high
    assert through(15, "g723") > through(15, "gsm") + 2


@need_prompts
def test_auto_denoise_leaves_a_clean_window_as_it_was_read(model):
    """The default engine (``denoise="auto"``) on a prompt at 35 dB through mu-law reads
    it word for word as the engine without the noise floor does: a window that is not
    noisy is read once, with faster-whisper's own features (the clean corpus's calls
    are mostly such windows)."""
    quiet, _ = prompt_over_noise("vm-options", 35, 7)
    y = simulate.roundtrip(quiet, "mulaw")
    region = [(0.25, len(y) / SR - 0.25)]
    auto = asr.WhisperEngine().transcribe(y, SR, region)
    plain = asr.WhisperEngine(denoise=False).transcribe(y, SR, region)
    assert [u.text for u in auto] == [u.text for u in plain] and auto
