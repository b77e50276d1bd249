"""Refit segment.py's speech/music rule (SPREAD_W, FLUX_W, PERSIST_W, PERSIST_LONG_W, PEAKS_SD_W, BIAS).

Features (segment.py's module docstring): energy spread, spectral flux, peak
persistence at 50 and 100 ms, spread of the number of spectral peaks per frame.

Labelled set of 1.5 s windows, computed with segment.py's own ``frame_features``,
``sound_spans`` and ``window_features`` (only windows segment() would score: centres
inside a sound stretch; a stretch shorter than a window is one window):

* speech: Asterisk's recorded prompts (/usr/share/asterisk/sounds/en and its
  subfolders, package asterisk-core-sounds-en-wav; silence/, beeps, 2-tone chimes and
  tt-monkeys left out) and IVR-style sentences spoken by espeak-ng (en-us, en-gb,
  +f3 / +m3, rates 150 and 175), flite (kal, awb, rms, slt) and festival
  (kal_diphone, cmu_us_slt_arctic_hts);
* music: Asterisk's hold music (/usr/share/asterisk/moh, package
  asterisk-moh-opsound-wav).

Every source goes through a mu-law 8 kHz round trip; speech gets one more copy with
GSM (ffmpeg libgsm round trip), white noise at 15-30 dB SNR, or both; music gets all
three; each source first gets a random level (-36 to -14 dBFS) and, half the time, the
300-3400 Hz telephone band. The logistic rule is fitted with scipy.optimize on the
weighted log-loss (music weighs twice speech; inside speech, Asterisk's prompts weigh
a third and the TTS voices share the rest equally), then its intercept is moved 1.0
towards music (--music-weight, --music-shift). Held out: a quarter of the Asterisk files, a
quarter of the sentences (for every voice) and a quarter of the music (20 s chunks).
Also reported: leave-one-voice-out (the voice's windows scored by a rule fitted
without that voice) and leave-one-piece-out for the music.

Run:  python benchmarks/fit_speech_music.py [--cache DIR]
Prints per-voice / music error rates on single windows and the lines to paste into
ivrkit/audio/segment.py. Single process, about 2 minutes (TTS cached in --cache).
"""
from __future__ import annotations

import argparse
import audioop  # noqa: deprecated in 3.13; the mu-law round trip here is exact G.711
import functools
import hashlib
import shutil
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.signal import butter, sosfilt

from ivrkit.audio.dtmf import to_phone_rate
from ivrkit.audio.io import ffmpeg_exe
from ivrkit.audio.segment import (HOP, SR, WINDOW_HOP_S, WINDOW_S, frame_features,
                                  sound_spans, window_features)
from ivrkit.audio import segment as seg

ASTERISK = Path("/usr/share/asterisk/sounds/en")
MOH = Path("/usr/share/asterisk/moh")
#: files in the prompt set that are not speech
NOT_SPEECH = {"beep", "beeperr", "ascending-2tone", "descending-2tone", "tt-monkeys"}

SENTENCES = [
    "Thank you for calling. Please listen carefully, as our menu options have changed.",
    "For billing questions, press one. For technical support, press two.",
    "To speak with a representative, press zero at any time.",
    "Please enter your account number, followed by the pound key.",
    "Your call is important to us. Please stay on the line and the next available agent will be with you shortly.",
    "If you know your party's extension, you may dial it now.",
    "To hear these options again, press the star key.",
    "Welcome to the pharmacy. To refill a prescription, press one.",
    "Our offices are open Monday through Friday, from eight a m to six p m.",
    "I'm sorry, I didn't understand your selection. Please try again.",
    "For store hours and directions, press three. For all other inquiries, press four.",
    "Please say or enter your ten digit phone number.",
    "You have selected account services. To check your balance, press one.",
    "All of our agents are currently assisting other callers. Your estimated wait time is five minutes.",
    "To report a lost or stolen card, press five. To return to the main menu, press nine.",
    "Thank you. Your payment of forty two dollars has been received.",
    "Para espanol, oprima el dos. For English, stay on the line.",
    "Please hold while we transfer your call.",
    "To leave a message for the doctor, press two, then record your message after the tone.",
    "Goodbye, and thank you for choosing our company.",
    "For new orders, press one. To track an existing order, press two. For returns, press three.",
    "Please enter your date of birth as two digit month, two digit day and four digit year.",
    "This call may be monitored or recorded for quality assurance.",
    "We are experiencing higher than normal call volumes. Please call back later or visit our website.",
]

#: voice name -> (command template, output sample rate handled by to_phone_rate)
ESPEAK = ["en-us", "en-gb", "en-us+f3", "en-us+m3", "en-gb+f3"]
FLITE = ["kal", "awb", "rms", "slt"]
FESTIVAL = {"kal_diphone": "(voice_kal_diphone)",
            "cmu_us_slt_arctic_hts": "(voice_cmu_us_slt_arctic_hts)"}
FEATURES = ("spread_db", "flux", "persistence", "persistence_long", "peaks_sd")
NAMES = ("SPREAD_W", "FLUX_W", "PERSIST_W", "PERSIST_LONG_W", "PEAKS_SD_W", "BIAS")
HELD_OUT = 4  # one part in four is held out
#: level of the sounding part, dBFS: prompts and music reach recordings this loud
#: (the window features are not level-free: frames under -50 dBFS never count)
LEVEL_DBFS = (-36.0, -14.0)
TELEPHONE_BAND = butter(4, [300.0, 3400.0], btype="bandpass", fs=SR, output="sos")


def h(s: str) -> int:
    return int(hashlib.md5(s.encode()).hexdigest()[:8], 16)


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        sr, ch, sw = w.getframerate(), w.getnchannels(), w.getsampwidth()
        raw = w.readframes(w.getnframes())
    assert sw == 2, path
    y = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    if ch > 1:
        y = y.reshape(-1, ch).mean(axis=1)
    return to_phone_rate(y, sr)


def synth(voice: str, text: str, out: Path) -> None:
    if out.exists() and out.stat().st_size > 100:
        return
    if voice.startswith("espeak:"):
        v, rate = voice.split(":")[1:]
        cmd = ["espeak-ng", "-v", v, "-s", rate, "-w", str(out), text]
        subprocess.run(cmd, check=True, capture_output=True)
    elif voice.startswith("flite:"):
        subprocess.run(["flite", "-voice", voice.split(":")[1], "-t", text, "-o", str(out)],
                       check=True, capture_output=True)
    else:
        ev = FESTIVAL[voice.split(":")[1]]
        subprocess.run(["text2wave", "-eval", ev, "-o", str(out)], input=text.encode(),
                       check=True, capture_output=True)


def mulaw(y: np.ndarray) -> np.ndarray:
    pcm = (np.clip(y, -1, 32767 / 32768) * 32768).astype("<i2").tobytes()
    back = audioop.ulaw2lin(audioop.lin2ulaw(pcm, 2), 2)
    return np.frombuffer(back, "<i2").astype(np.float32) / 32768.0


@functools.lru_cache(maxsize=1)
def gsm_ffmpeg() -> str:
    """An ffmpeg built with libgsm (the system one; imageio's bundled build lacks it)."""
    for exe in (shutil.which("ffmpeg"), ffmpeg_exe()):
        if exe and "libgsm" in subprocess.run([exe, "-hide_banner", "-encoders"],
                                              capture_output=True, text=True).stdout:
            return exe
    raise SystemExit("no ffmpeg with libgsm: apt-get install -y ffmpeg")


def gsm(y: np.ndarray) -> np.ndarray:
    exe = gsm_ffmpeg()
    pcm = (np.clip(y, -1, 32767 / 32768) * 32768).astype("<i2").tobytes()
    enc = subprocess.run([exe, "-nostdin", "-v", "error", "-f", "s16le", "-ar", "8000",
                          "-ac", "1", "-i", "-", "-c:a", "libgsm", "-ar", "8000", "-ac", "1",
                          "-f", "gsm", "-"], input=pcm, capture_output=True, check=True).stdout
    dec = subprocess.run([exe, "-nostdin", "-v", "error", "-f", "gsm", "-ar", "8000",
                          "-i", "-", "-f", "s16le", "-ar", "8000", "-ac", "1", "-"],
                         input=enc, capture_output=True, check=True).stdout
    out = np.frombuffer(dec, "<i2").astype(np.float32) / 32768.0
    return out[: len(y)]


def add_noise(y: np.ndarray, snr_db: float, rng) -> np.ndarray:
    """White noise ``snr_db`` below the power of the active (sounding) 20 ms blocks."""
    n = len(y) // 160 * 160
    if n == 0:
        return y
    p = (y[:n].reshape(-1, 160) ** 2).mean(axis=1)
    act = p[p > p.max() * 10 ** -3.5]
    noise = rng.standard_normal(len(y)).astype(np.float32) * np.float32(np.sqrt(act.mean() / 10 ** (snr_db / 10)))
    return (y + noise).astype(np.float32)


def active_db(y: np.ndarray) -> float:
    """Level (dBFS, full-scale sine = 0 dB as in segment.py) of the sounding 20 ms blocks."""
    n = len(y) // 160 * 160
    if n == 0:
        return -120.0
    p = (y[:n].reshape(-1, 160) ** 2).mean(axis=1)
    return float(10 * np.log10(2 * p[p > p.max() * 10 ** -3.5].mean() + 1e-20))


def channel(y: np.ndarray, cond: str, seed: int) -> np.ndarray:
    """A phone line: random level, (half the time) the 300-3400 Hz band, then
    ``cond``'s noise / GSM, then mu-law."""
    rng = np.random.default_rng(seed)
    y = y * np.float32(10 ** ((rng.uniform(*LEVEL_DBFS) - active_db(y)) / 20))
    if rng.random() < 0.5:
        y = sosfilt(TELEPHONE_BAND, y).astype(np.float32)
    if "noise" in cond:
        y = add_noise(y, float(rng.uniform(15, 30)), rng)
    if "gsm" in cond:
        y = gsm(y)
    return mulaw(y)


def windows(y: np.ndarray) -> np.ndarray:
    """The window_features rows segment() would score for ``y`` (8 kHz)."""
    e_db, flat, flux, persist, persist_long, n_peaks = frame_features(y)
    usable = np.ones(len(e_db), bool)
    w = int(round(WINDOW_S * SR / HOP))
    hp = int(round(WINDOW_HOP_S * SR / HOP))
    rows = []
    for s, e in sound_spans(e_db, flat, usable):
        k0 = max(0, -(-(s - w // 2) // hp))  # first window whose centre >= s
        ks = [k for k in range(k0, (e - w // 2 - 1) // hp + 1) if k * hp + w <= len(e_db)]
        if not ks or e - s < w:
            sl = slice(s, e)
        else:
            sl = slice(ks[0] * hp, ks[-1] * hp + w)
        f = window_features(*(a[sl] for a in (e_db, flux, persist, persist_long, n_peaks, usable)))
        if e - s < w or not ks:
            f = f[:1]
        rows.append(f)
    if not rows:
        return np.empty((0, len(FEATURES)))
    X = np.concatenate(rows)
    return X[~np.isnan(X).any(axis=1)]


def build(cache: Path) -> dict:
    """Rows with label, group (voice / 'asterisk' / 'music'), item id, held-out flag."""
    X, lab, grp, item, test = [], [], [], [], []

    def add(rows, label, group, it, held):
        X.append(rows)
        lab.extend([label] * len(rows))
        grp.extend([group] * len(rows))
        item.extend([it] * len(rows))
        test.extend([held] * len(rows))

    conds = ["gsm", "noise", "gsm+noise"]
    t0 = time.perf_counter()
    files = sorted(p for p in ASTERISK.rglob("*.wav")
                   if p.parent.name != "silence" and p.stem not in NOT_SPEECH)
    for p in files:
        y = read_wav(p)
        held = h(str(p)) % HELD_OUT == 0
        extra = conds[h(p.name) % 3]
        for cond in ("mulaw", extra):
            add(windows(channel(y, cond, h(p.name + cond))), 1, "asterisk", p.name, held)
    print(f"asterisk prompts: {len(files)} files ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)

    voices = ([f"espeak:{v}:{r}" for v in ESPEAK for r in ("150", "175")]
              + [f"flite:{v}" for v in FLITE] + [f"festival:{v}" for v in FESTIVAL])
    cache.mkdir(parents=True, exist_ok=True)
    for v in voices:
        t0 = time.perf_counter()
        group = v.rsplit(":", 1)[0] if v.startswith("espeak") else v
        for i, text in enumerate(SENTENCES):
            if v.startswith("espeak") and i % 2 != (v.endswith("175")):
                continue  # espeak: each sentence at one of the two rates
            out = cache / f"{v.replace(':', '_').replace('+', '_')}_{i:02d}.wav"
            synth(v, text, out)
            y = read_wav(out)
            held = i % HELD_OUT == 0
            extra = conds[h(v + str(i)) % 3]
            for cond in ("mulaw", extra):
                add(windows(channel(y, cond, h(v + str(i) + cond))), 1, group, f"{v}#{i}", held)
        print(f"{v}: ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)

    t0 = time.perf_counter()
    chunk = 20 * SR
    for p in sorted(MOH.glob("*.wav")):
        y = read_wav(p)
        for j, c0 in enumerate(range(0, len(y), chunk)):
            part = y[c0: c0 + chunk]
            if len(part) < SR:
                continue
            for cond in ("mulaw", "gsm", "noise"):
                add(windows(channel(part, cond, h(f"{p.name}{j}{cond}"))), 0, "music",
                    f"{p.stem}#{j}", (j + h(p.name)) % HELD_OUT == 0)
    print(f"music: ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return dict(X=np.concatenate(X), y=np.array(lab), group=np.array(grp), item=np.array(item),
                test=np.array(test))


def weights(y, group, music_weight: float = 1.0) -> np.ndarray:
    """Music weighs ``music_weight`` times speech; Asterisk 1/3 of speech, the voices
    share 2/3."""
    w = np.zeros(len(y))
    w[y == 0] = 0.5 * music_weight / max((y == 0).sum(), 1)
    voices = sorted(set(group[y == 1]) - {"asterisk"})
    for g in set(group[y == 1]):
        m = (group == g) & (y == 1)
        share = (1 / 3 if g == "asterisk" else 2 / 3 / len(voices)) if voices else 1.0
        w[m] = 0.5 * share / m.sum()
    return w / w.sum() * len(w)


def fit(X, y, w, l2=1e-3) -> np.ndarray:
    """Weights (per raw feature) and bias of the logistic rule minimising the log-loss."""
    mu, sd = X.mean(axis=0), X.std(axis=0) + 1e-12
    Z = (X - mu) / sd

    def loss(theta):
        s = Z @ theta[:-1] + theta[-1]
        sgn = 2 * y - 1
        m = -sgn * s
        ll = np.logaddexp(0, m)
        p = 1 / (1 + np.exp(-m))  # d ll / d m
        g = -(w * p * sgn)
        grad = np.concatenate([Z.T @ g, [g.sum()]]) / len(y)
        grad[:-1] += 2 * l2 * theta[:-1]
        return (w * ll).mean() + l2 * (theta[:-1] ** 2).sum(), grad

    res = minimize(loss, np.zeros(X.shape[1] + 1), jac=True, method="L-BFGS-B")
    coef = res.x[:-1] / sd
    return np.concatenate([coef, [res.x[-1] - coef @ mu]])


def score(X, theta) -> np.ndarray:
    return X @ theta[:-1] + theta[-1]


def report(name, theta, d, mask, bias_shift=0.0) -> dict:
    s = score(d["X"], theta) + bias_shift
    out = {}
    print(f"\n{name}")
    print(f"  {'group':30s} {'windows':>8s} {'wrong %':>8s} {'median score':>13s}")
    for g in ["asterisk"] + sorted(set(d["group"]) - {"asterisk", "music"}) + ["music"]:
        m = mask & (d["group"] == g)
        if not m.any():
            continue
        wrong = (s[m] > 0) != (d["y"][m] == 1)
        out[g] = 100 * wrong.mean()
        print(f"  {g:30s} {m.sum():8d} {out[g]:8.2f} {np.median(s[m]):13.2f}")
    sp = mask & (d["y"] == 1)
    mu = mask & (d["y"] == 0)
    out["speech (all)"] = 100 * (s[sp] <= 0).mean()
    out["music (all)"] = 100 * (s[mu] > 0).mean()
    print(f"  speech windows wrong {out['speech (all)']:.2f} %, music windows wrong {out['music (all)']:.2f} %")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/ivrkit_fit_speech_music"),
                    help="folder for the synthesised TTS sentences (default %(default)s)")
    ap.add_argument("--save", type=Path, help="also save the window set (.npz)")
    ap.add_argument("--music-weight", type=float, default=2.0,
                    help="weight of the music class against speech in the log-loss (default "
                         "%(default)s: hold music taken for a prompt costs more than the reverse)")
    ap.add_argument("--music-shift", type=float, default=1.0,
                    help="then move the intercept this much towards music (default %(default)s)")
    args = ap.parse_args()
    mw, shift = args.music_weight, args.music_shift
    d = build(args.cache)
    X, y, group, test = d["X"], d["y"], d["group"], d["test"]
    if args.save:
        np.savez(args.save, **d)
    print(f"windows: {len(y)} ({(y == 1).sum()} speech, {(y == 0).sum()} music), "
          f"held out {test.sum()}")
    old = np.array([getattr(seg, n) for n in NAMES])
    report("current segment.py rule, held-out windows", old, d, test)

    tr = ~test
    theta = fit(X[tr], y[tr], weights(y[tr], group[tr], mw))
    theta[-1] -= shift
    report(f"new rule fitted on the training part (music weight {mw:g}, intercept "
           f"-{shift:g}), held-out windows", theta, d, test)

    print("\nleave one voice out (rule fitted without that voice / music piece; all its windows)")
    for g in sorted(set(group) - {"music"}):
        m = group == g
        th = fit(X[~m], y[~m], weights(y[~m], group[~m], mw))
        s = score(X[m], th) - shift
        print(f"  {g:30s} {100 * (s <= 0).mean():7.2f} % wrong  median score {np.median(s):6.2f}")
    piece = np.array([it.split("#")[0] for it in d["item"]])
    for pc in sorted(set(piece[y == 0])):
        m = piece == pc
        th = fit(X[~m], y[~m], weights(y[~m], group[~m], mw))
        s = score(X[m], th) - shift
        print(f"  music {pc:24s} {100 * (s > 0).mean():7.2f} % wrong  median score {np.median(s):6.2f}")

    final = fit(X, y, weights(y, group, mw))
    final[-1] -= shift
    report("final rule (fitted on everything), training windows", final, d, np.ones(len(y), bool))
    print("\nPaste into ivrkit/audio/segment.py:")
    for n, v in zip(NAMES, final):
        print(f"{n} = {v:.4g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
