"""Render simulated calls to company phone menus (IVRs), with their exact truth.

A *spec* (JSON, or TOML with the same structure) describes one company's IVR: its
greeting (which parts ignore keys), menus with options (key, label, phrasing), and
leaves (agent with hold music, recorded info, data-entry input, back / repeat).
A *plan* describes what a caller pressed and when (after a prompt ended, barging in
at an offset, early presses during parts that ignore keys, data entry). The
simulator plays the IVR against the plan and writes the call recording and its
truth file (``ivrkit.truth/1``, docs/DESIGN.md), plus the company's true menu tree
(``ivrkit.tree/1``, CONTRACT.md).

Command line::

    python recordings/simulate.py render SPEC.json --out DIR [--random-calls N] [--seed S]
    python recordings/simulate.py samples            # recordings/northwind*, committed
    python recordings/simulate.py corpus --out corpus/ [--calls-per-company 8]
    python recordings/simulate.py corpus --channel phone --out corpus-phone/
    python recordings/simulate.py corpus --no-tones-share 0.33 --out corpus-oob/   # a third without tones

Every random choice comes from one ``numpy.random.Generator`` seeded per call, so the
same spec + plan + seed gives the same audio (speech synthesis is deterministic and
cached by text + voice).

Speech: ``espeak-ng:<voice>[:<wpm>]``, ``flite:<voice>``, ``festival:<voice>``
(Debian packages), ``asterisk:<prompt>`` (Allison Smith's recorded prompts from
asterisk-core-sounds-en-wav, CC BY-SA 3.0) and ``synthetic`` (a numpy-only speech-like
babble for tests that must not need apt packages).
"""
from __future__ import annotations

import argparse
import copy
import ctypes
import ctypes.util
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.signal import butter, resample_poly, sosfilt

SR = 8000
HERE = Path(__file__).resolve().parent
ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
#: Other languages' recorded prompts (asterisk-core-sounds-{es,fr,ru}-wav: es_MX
#: Allison, fr_CA June, ru_RU): a sound named ``es/vm-next`` is read from here.
ASTERISK_ROOT = Path("/usr/share/asterisk/sounds")
SOUND_LANGS = ("es", "fr", "ru")
#: Silence between prompts spliced into one sentence ("Marque" + "2" + "para ..."):
#: Asterisk's Playback() of consecutive files leaves about this much.
SPLICE_GAP_S = 0.12
ASTERISK_MOH = Path("/usr/share/asterisk/moh")

# ITU-T Q.23 DTMF frequencies
DTMF_ROWS = (697.0, 770.0, 852.0, 941.0)
DTMF_COLS = (1209.0, 1336.0, 1477.0, 1633.0)
DTMF_KEYS = ("123A", "456B", "789C", "*0#D")

# Call progress cadences: (frequencies Hz, on s, off s). US values from ATIS-0300011
# (ringback 440+480 2/4, busy 480+620 0.5/0.5, reorder 0.25/0.25); 425 Hz 1/3 is the
# ITU-T E.180 ringing tone used in Israel and much of Europe.
RINGBACK = {"us": ((440.0, 480.0), 2.0, 4.0), "eu": ((425.0,), 1.0, 3.0)}
BUSY = ((480.0, 620.0), 0.5, 0.5)
REORDER = ((480.0, 620.0), 0.25, 0.25)
# SIT (ITU-T E.180 / Telcordia): three rising segments ~330 ms (first two may be 276 ms)
SIT = ((913.8, 0.330), (1370.6, 0.330), (1776.7, 0.330))

KEY_WORDS = {"*": "star", "#": "pound"}
ENTRY_DIGITS = {"ID": 9, "Tel": 10, "4D": 4, "Pass": 6}


class SpecError(ValueError):
    """A spec or plan the simulator cannot play."""


# --------------------------------------------------------------------------- audio


def db_to_amp(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def rms_db(y: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(y, dtype=np.float64))) + 1e-12))


def tone(freqs_hz, dur_s: float, level_db: float = -16.0, sr: int = SR, ramp_s: float = 0.005):
    """Sum of sines with ``level_db`` RMS per component and raised-cosine edges."""
    n = int(round(dur_s * sr))
    t = np.arange(n) / sr
    y = sum(np.sin(2 * np.pi * f * t) for f in freqs_hz) * db_to_amp(level_db) * np.sqrt(2)
    return _ramp(y.astype(np.float32), ramp_s, sr)


def _ramp(y: np.ndarray, ramp_s: float, sr: int = SR) -> np.ndarray:
    k = min(int(ramp_s * sr), len(y) // 2)
    if k > 0:
        w = 0.5 - 0.5 * np.cos(np.pi * np.arange(k) / k)
        y = y.copy()
        y[:k] *= w
        y[-k:] *= w[::-1]
    return y


def dtmf_tone(key: str, dur_s: float, level_db: float, twist_db: float = 0.0,
              freq_error: float = 0.0, sr: int = SR) -> np.ndarray:
    """One key press. ``level_db``: RMS of the pair in dBFS; ``twist_db``: high group
    minus low group level; ``freq_error``: relative offset applied to both tones."""
    r = next(i for i, row in enumerate(DTMF_KEYS) if key in row)
    c = DTMF_KEYS[r].index(key)
    fl, fh = DTMF_ROWS[r] * (1 + freq_error), DTMF_COLS[c] * (1 + freq_error)
    n = int(round(dur_s * sr))
    t = np.arange(n) / sr
    al = 1.0
    ah = db_to_amp(twist_db)
    y = al * np.sin(2 * np.pi * fl * t) + ah * np.sin(2 * np.pi * fh * t)
    y *= db_to_amp(level_db) / np.sqrt((al**2 + ah**2) / 2)
    return _ramp(y.astype(np.float32), 0.002, sr)


def cadence(freqs_hz, on_s, off_s, total_s, level_db=-16.0, sr=SR):
    """Tone cadence as (audio, [(start_s, end_s) of each burst])."""
    n = int(round(total_s * sr))
    y = np.zeros(n, np.float32)
    bursts = []
    t = 0.0
    while t < total_s - 0.05:
        on = min(on_s, total_s - t)
        seg = tone(freqs_hz, on, level_db, sr)
        i = int(round(t * sr))
        y[i:i + len(seg)] += seg[: n - i]
        bursts.append((t, t + on))
        t += on_s + off_s
    return y, bursts


def sit_tone(level_db=-16.0, sr=SR):
    return np.concatenate([tone((f,), d, level_db, sr) for f, d in SIT])


def telephone_band(y: np.ndarray, sr: int = SR) -> np.ndarray:
    """300-3400 Hz channel, the band every IVR prompt passes through."""
    sos = butter(4, [300.0, 3400.0], btype="bandpass", fs=sr, output="sos")
    return sosfilt(sos, y).astype(np.float32)


def _ffmpeg() -> str:
    """Debian's ffmpeg when present (it has the GSM and AMR encoders); else the pip
    one, enough for PCM / mu-law / A-law (what the tests need)."""
    sysff = shutil.which("ffmpeg")
    if sysff:
        return sysff
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _load(path: Path) -> np.ndarray:
    from ivrkit.audio import load

    y, _ = load(path, sr=SR)
    return y


CODECS = {  # name -> (ffmpeg encoder args, file extension)
    "pcm16": (["-c:a", "pcm_s16le"], ".wav"),
    "mulaw": (["-c:a", "pcm_mulaw"], ".wav"),
    "alaw": (["-c:a", "pcm_alaw"], ".wav"),
    "gsm": (["-c:a", "libgsm_ms"], ".wav"),
    "amr": (["-c:a", "libopencore_amrnb", "-b:a", "12.2k"], ".amr"),
}


def encode(y: np.ndarray, path: Path, codec: str, file_sr: int = SR) -> None:
    """Write ``y`` (8 kHz float; shape ``(n,)`` or ``(2, n)`` for one side per channel)
    in ``codec`` at ``file_sr``; decoding the file is the round trip."""
    args, _ = CODECS[codec]
    channels = 1 if y.ndim == 1 else y.shape[0]
    raw = np.clip(y.T if channels > 1 else y, -1.0, 1.0).astype("<f4").tobytes()
    cmd = [_ffmpeg(), "-nostdin", "-v", "error", "-y", "-f", "f32le", "-ar", str(SR), "-ac", str(channels),
           "-i", "-", *args, "-ar", str(file_sr),
           # no encoder-version tag: the same call gives the same bytes with any ffmpeg
           "-fflags", "+bitexact", "-flags:a", "+bitexact", str(path)]
    subprocess.run(cmd, input=raw, check=True)


def roundtrip(y: np.ndarray, codec: str) -> np.ndarray:
    """Pass audio through a codec (a leg of the call coded differently from the file)."""
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / ("x" + CODECS[codec][1])
        encode(y, p, codec)
        out = _load(p)
    n = len(y)
    return np.pad(out, (0, max(0, n - len(out))))[:n]


# ------------------------------------------------------------------------ speech


def _trim(y: np.ndarray, thresh_db: float = -45.0, sr: int = SR) -> np.ndarray:
    """Cut leading/trailing silence so the spec's gaps are the real gaps."""
    frame = int(0.01 * sr)
    if len(y) < frame:
        return y
    e = np.sqrt(np.mean(y[: len(y) // frame * frame].reshape(-1, frame) ** 2, axis=1) + 1e-12)
    on = np.nonzero(20 * np.log10(e) > thresh_db)[0]
    if not len(on):
        return y[:0]
    a, b = max(0, (on[0] - 1) * frame), min(len(y), (on[-1] + 2) * frame)
    return y[a:b]


def _synthetic_speech(text: str, seed: int, sr: int = SR) -> np.ndarray:
    """Speech-like babble without any apt package: voiced syllables (harmonics of a
    drifting pitch, formant-shaped) at ~4 syllables/s, one per ~1.4 letters."""
    rng = np.random.default_rng(seed)
    n_syl = max(2, int(len(re.sub(r"\W", "", text)) / 3.2))
    out = []
    for _ in range(n_syl):
        d = rng.uniform(0.14, 0.26)
        t = np.arange(int(d * sr)) / sr
        f0 = rng.uniform(150, 220) * (1 - 0.15 * t / d)
        ph = 2 * np.pi * np.cumsum(f0) / sr
        y = sum(np.sin(h * ph) / h for h in range(1, 18))
        f1, f2 = rng.uniform(400, 800), rng.uniform(1000, 2200)
        for fc, bw in ((f1, 120), (f2, 180)):
            sos = butter(2, [fc - bw, fc + bw], btype="bandpass", fs=sr, output="sos")
            y = y + 3 * sosfilt(sos, y)
        env = np.sin(np.pi * t / d) ** 0.7
        out += [y * env, np.zeros(int(rng.uniform(0.03, 0.09) * sr))]
    y = np.concatenate(out).astype(np.float32)
    return y / (np.sqrt(np.mean(y**2)) + 1e-9) * db_to_amp(-20)


@dataclass
class Renderer:
    """Turns (text, voice) into 8 kHz float32 speech, caching each rendering."""

    cache_dir: Path | None = None

    def speech(self, text: str, voice: str) -> np.ndarray:
        key = hashlib.sha256(f"{voice}\n{text}".encode()).hexdigest()[:20]
        if self.cache_dir is not None:
            p = Path(self.cache_dir) / f"{key}.npy"
            if p.exists():
                return np.load(p)
        y = self._render(text, voice, int(key[:8], 16))
        y = _trim(y)
        # every voice at the same loudness; per-call level changes come later
        y = (y / (np.sqrt(np.mean(y**2)) + 1e-9) * db_to_amp(-20)).astype(np.float32)
        if self.cache_dir is not None:
            Path(self.cache_dir).mkdir(parents=True, exist_ok=True)
            np.save(p, y)
        return y

    def _render(self, text: str, voice: str, seed: int) -> np.ndarray:
        engine, _, name = voice.partition(":")
        if engine == "synthetic":
            return _synthetic_speech(text, seed)
        if engine == "asterisk":
            # [lang/]name[@start-end] (a stretch of a recorded prompt, in seconds),
            # several joined by "+" are spliced into one sentence
            gap = np.zeros(int(SPLICE_GAP_S * SR), np.float32)
            pieces = [_trim(_asterisk_prompt(n)) for n in name.split("+")]
            return np.concatenate([x for p in pieces for x in (p, gap)][:-1])
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "s.wav"
            if engine == "espeak-ng":
                vname, _, wpm = name.partition(":")
                cmd = ["espeak-ng", "-v", vname or "en-us", "-s", wpm or "165", "-w", str(out), text]
                subprocess.run(cmd, check=True, capture_output=True)
            elif engine == "flite":
                cmd = ["flite", "-voice", name or "slt", "-t", text, "-o", str(out)]
                subprocess.run(cmd, check=True, capture_output=True)
            elif engine == "festival":
                cmd = ["text2wave", "-eval", f"(voice_{name or 'kal_diphone'})", "-o", str(out)]
                subprocess.run(cmd, input=text.encode(), check=True, capture_output=True)
            else:
                raise SpecError(f"unknown voice {voice!r}")
            return _load(out)


def _asterisk_prompt(name: str) -> np.ndarray:
    """One recorded prompt: ``name`` (Allison, English) or ``es/name`` (another
    language's voice), with an optional ``@start-end`` stretch in seconds."""
    name, _, span = name.partition("@")
    lang, _, rest = name.partition("/")
    folder = ASTERISK_ROOT / lang if lang in SOUND_LANGS else ASTERISK_SOUNDS
    f = folder / f"{rest if lang in SOUND_LANGS else name}.wav"
    if not f.exists():
        raise SpecError(f"no Asterisk prompt {name!r} ({f})")
    y = _load(f)
    if span:
        a, b = (float(x) for x in span.split("-"))
        y = y[int(a * SR): int(b * SR)]
    return y


def moh_clip(name: str, dur_s: float, rng: np.random.Generator) -> np.ndarray:
    """``dur_s`` of hold music (an Asterisk opsound track, or numpy chords if absent)."""
    n = int(round(dur_s * SR))
    f = ASTERISK_MOH / f"{name}.wav"
    if name != "synthetic" and f.exists():
        y = _load(f)
        a = int(rng.integers(0, max(1, len(y) - n)))
        y = y[a:a + n]
    else:  # slow chord changes, enough to look like music to a detector
        t = np.arange(n) / SR
        y = np.zeros(n)
        for i, s in enumerate(range(0, n, SR)):
            root = 220 * 2 ** (rng.integers(0, 12) / 12)
            seg = slice(s, min(n, s + SR))
            for r in (1, 1.26, 1.5, 2):
                y[seg] += np.sin(2 * np.pi * root * r * t[seg])
    y = np.pad(y, (0, n - len(y)))
    return (y / (np.sqrt(np.mean(y**2)) + 1e-9) * db_to_amp(-24)).astype(np.float32)


# -------------------------------------------------------------------------- spec


def load_spec(path: str | os.PathLike) -> dict:
    """Read a company spec (``.json`` or ``.toml``) and check its structure."""
    p = Path(path)
    if p.suffix == ".toml":
        import tomllib

        spec = tomllib.loads(p.read_text())
    else:
        spec = json.loads(p.read_text())
    return prepare_spec(spec, str(p))


def prepare_spec(spec: dict, where: str = "spec") -> dict:
    """Fill a company spec's defaults (voice, ringback, platform timings) and index its
    nodes, in place; ``where`` names it in errors. ``load_spec`` reads one from a file."""
    spec.setdefault("voice", "flite:slt")
    spec.setdefault("ringback", "us")
    plat = {"barge_latency_s": [0.15, 0.3], "transition_s": [0.5, 1.2], "gap_s": 0.4,
            "listen_offset_s": 0.0, "greeting_gap_s": 0.5}
    plat.update(spec.get("platform", {}))
    spec["platform"] = plat
    if "menu" not in spec:
        raise SpecError(f"{where}: spec has no 'menu'")
    index_nodes(spec)
    return spec


def _parts(parts, barge_default: bool) -> list[dict]:
    out = []
    for x in parts or []:
        d = {"text": x} if isinstance(x, str) else dict(x)
        d.setdefault("barge", barge_default)
        out.append(d)
    return out


def index_nodes(spec: dict) -> dict[tuple, dict]:
    """Map key path (tuple) -> node, filling defaults; stored in ``spec['_nodes']``."""
    nodes: dict[tuple, dict] = {}

    def walk(node, path, lang):
        node.setdefault("kind", "menu")
        node.setdefault("lang", lang)  # a branch speaks its parent's language unless told
        nodes[tuple(path)] = node
        for opt in node.get("options", []):
            opt["key"] = str(opt["key"])
            opt.setdefault("role", "option")
            if opt["role"] == "option":
                if "node" not in opt:
                    raise SpecError(f"option {path + [opt['key']]} has no 'node'")
                walk(opt["node"], path + [opt["key"]], node["lang"])
        then = node.get("then")
        if then:
            then.setdefault("kind", "agent")
            then.setdefault("lang", node["lang"])

    walk(spec["menu"], [], spec.get("lang", "en"))
    spec["_nodes"] = nodes
    return nodes


def option_text(opt: dict) -> str:
    key = KEY_WORDS.get(opt["key"], opt["key"])
    say = opt.get("say", "For {label}, press {key}.")
    text = say.format(label=opt.get("label", ""), key=key)
    return text[0].upper() + text[1:]


def node_parts(node: dict, greeting: list | None = None) -> list[dict]:
    """The parts a node plays, in order; options carry their key and label."""
    parts = _parts(greeting, False) if greeting else []
    parts += _parts(node.get("prompt") or node.get("intro"), True)
    for opt in node.get("options", []):
        d = {"text": option_text(opt), "barge": opt.get("barge", True), "option": opt}
        for k in ("voice", "sound", "span_s"):
            if k in opt:
                d[k] = opt[k]
        parts.append(d)
    parts += _parts(node.get("outro"), True)
    return parts


def _invalid_option_sound(lang: str) -> str:
    """"That is not a valid option" in the node's language where Asterisk has it."""
    if lang in SOUND_LANGS and (ASTERISK_ROOT / lang / "pm-invalid-option.wav").exists():
        return f"{lang}/pm-invalid-option"
    return "pm-invalid-option"


def leaves(spec: dict) -> list[list[str]]:
    """Key paths of every node that ends a call (agent / info / input)."""
    return [list(p) for p, n in spec["_nodes"].items() if n["kind"] in ("agent", "info", "input")]


def entry_digits(entry: str, rng: np.random.Generator) -> str:
    tok = entry.rstrip("#*")
    n = ENTRY_DIGITS.get(tok, 6)
    digits = "".join(str(d) for d in rng.integers(0, 10, n))
    if tok == "Tel":
        digits = "0" + digits[1:]
    return digits + entry[len(tok):]


# ------------------------------------------------------------------------ engine


@dataclass
class _Layout:
    start: float
    items: list  # (start_s, audio, part)
    prompt_end: float
    listen: float | None


@dataclass
class _Walk:
    """Where a simulated call is between node visits."""

    steps: list              # plan steps not yet played
    visit_start: float       # the next node's start
    path: list = field(default_factory=list)
    prefix: list = field(default_factory=list)  # parts played before the node ("invalid option")
    pending: list = field(default_factory=list)  # presses of a rapid sequence not yet judged
    via: dict | None = None  # the press that led here
    last_end: float = 0.0    # the last press's end
    first: bool = True       # the greeting is still to play


def _entry_complete(want: str, keyed: str, key: str) -> bool:
    """An entry ``want`` (``ID#``, ``4D``...) is complete: its terminator pressed, or
    (no terminator) its digit count keyed."""
    tok = want.rstrip("#*")
    return (want != tok and key in "#*") or (want == tok and len(keyed) >= ENTRY_DIGITS.get(tok, 6))


def _next_node(node: dict, path: list, key: str) -> tuple[list, list]:
    """(next path, parts played first) after ``key`` at ``node``: an unknown key
    replays the node after the platform's invalid-option prompt."""
    opt = next((o for o in node.get("options", []) if o["key"] == key), None)
    if opt is None:
        return list(path), [{"sound": _invalid_option_sound(node.get("lang", "en")), "barge": False}]
    if opt["role"] == "repeat":
        return list(path), []
    if opt["role"] == "back":
        return [str(x) for x in opt.get("to", [])], []
    return path + [key], []


@dataclass
class Simulation:
    """Plays one plan against one spec; ``run()`` returns (audio, truth)."""

    spec: dict
    plan: dict
    renderer: Renderer
    rng: np.random.Generator = field(init=False)

    def __post_init__(self):
        self.rng = np.random.default_rng(self.plan.get("seed", 0))
        self.plat = self.spec["platform"]
        self.voice = self.plan.get("voice") or self.spec["voice"]
        self.speech: list = []   # (start_s, audio, gain_db, cut_s)
        self.other: list = []    # (start_s, audio) music / tones, same channel as speech
        self.keys: list = []     # (start_s, audio)
        self.presses: list = []
        self.visits: list = []
        self.tones: list = []
        self.music: list = []
        self.holds: list = []    # agent legs: hold start, answer (hold.py truth)
        self.gain_db = float(self.plan.get("level_db", self.rng.uniform(-4, 2)))
        dt = {"dur_s": [0.06, 0.15], "level_db": [-16, -6], "twist_db": [-3, 3], "freq_error": [-0.01, 0.01]}
        dt.update(self.plan.get("dtmf", {}))
        self.dtmf_ranges = dt

    # -- helpers
    def _u(self, r):
        return float(self.rng.uniform(*r)) if isinstance(r, (list, tuple)) else float(r)

    def _audio(self, part: dict) -> np.ndarray:
        if "sound" in part:
            span = part.get("span_s")
            where = f"@{span[0]}-{span[1]}" if span else ""
            sound = "+".join(part["sound"]) if isinstance(part["sound"], list) else part["sound"]
            return self.renderer.speech(sound + where, f"asterisk:{sound}{where}")
        return self.renderer.speech(part["text"], part.get("voice", self.voice))

    def _layout(self, parts: list[dict], t0: float, n_greeting: int = 0) -> _Layout:
        items, t = [], t0
        for i, p in enumerate(parts):
            a = self._audio(p)
            items.append((t, a, p))
            gap = self.plat["greeting_gap_s"] if i < n_greeting else self.plat["gap_s"]
            t += len(a) / SR + gap
        end = items[-1][0] + len(items[-1][1]) / SR if items else t0
        first = next((s for s, _, p in items if p["barge"]), None)
        # a platform may open its key buffer a little before the menu (negative offset),
        # but never before the node's own audio starts: presses in transitions are lost
        listen = None if first is None else max(t0, first + self.plat["listen_offset_s"])
        return _Layout(t0, items, end, listen)

    def _press(self, key, t, node, accepted, phase, dur=None):
        r = self.dtmf_ranges
        dur = self._u(r["dur_s"]) if dur is None else dur
        level, twist, ferr = self._u(r["level_db"]), self._u(r["twist_db"]), self._u(r["freq_error"])
        self.keys.append((t, dtmf_tone(key, dur, level, twist, ferr)))
        self.presses.append({"key": key, "start": round(t, 4), "end": round(t + dur, 4),
                             "accepted": accepted, "node": list(node), "level_db": round(level, 2),
                             "twist_db": round(twist, 2), "freq_error": round(ferr, 4), "phase": phase})
        return t + dur

    def _place(self, layout: _Layout, cut: float | None, gain_db: float):
        played = []
        for s, a, p in layout.items:
            if cut is not None and s >= cut:
                break
            self.speech.append((s, a, gain_db, cut))
            if "option" in p:
                o = p["option"]
                played.append({"key": o["key"], "label": o.get("label", ""), "role": o["role"],
                               "start": round(s, 3), "end": round(min(s + len(a) / SR, cut or 1e9), 3)})
        return played

    def _steps_presses(self, step, layout):
        """Absolute (key, time, dur) presses of one plan step at a node."""
        anchor = {"start": layout.start, "listen": layout.listen if layout.listen is not None
                  else layout.prompt_end, "end": layout.prompt_end}[step.get("at", "end")]
        if "frac" in step:  # a fraction of a stretch: to the prompt's end, or to listen-start
            stop = layout.listen if step.get("span") == "listen" and layout.listen else layout.prompt_end
            span = stop - anchor
            t = anchor + step["frac"] * span
        else:
            t = anchor + float(step.get("t", 1.0))
        keys = step.get("keys") or step["key"]
        out = []
        for i, k in enumerate(keys):
            dur = self._u(step["dur"]) if "dur" in step else self._u(self.dtmf_ranges["dur_s"])
            out.append((k, t, dur))
            t += dur + self._u(step.get("gap", [0.12, 0.3]))
        return out

    # -- the call
    def run(self):
        answer = self._ringback()
        onset = answer + self._u(self.plan.get("answer_to_greeting_s", [0.3, 0.9]))
        if self.plan.get("after_hours"):
            return self._after_hours_call(answer, onset)
        walk = _Walk(steps=list(self.plan.get("steps", [])), visit_start=onset)
        call_end = None
        while call_end is None:
            call_end = self._visit(walk)
        return self._mix(answer, onset, call_end)

    def _ringback(self) -> float:
        """Ringback cycles until the answer; returns the answer time (0: no ringback)."""
        rb = self.plan.get("ringback", self.spec["ringback"])
        cycles = int(self.plan.get("ring_cycles", 2))
        if not rb or cycles <= 0:
            return 0.0
        freqs, on, off = RINGBACK[rb]
        total = cycles * (on + off) - off
        y, bursts = cadence(freqs, on, off, total, level_db=-19 + self.gain_db)
        self.other.append((0.0, y))
        self.tones += [{"name": "ringback", "start": round(a, 3), "end": round(b, 3)} for a, b in bursts]
        return total + self._u([0.3, min(off - 0.3, 2.0)])

    def _visit(self, w: _Walk) -> float | None:
        """Play the node at ``w.path`` and the caller's presses at it; returns the
        call's end time, or None when a press took the call on (``w`` moved on)."""
        node = self.spec["_nodes"][tuple(w.path)]
        greeting = self.spec.get("greeting") if w.first else None
        parts = w.prefix + node_parts(node, greeting)
        lay = self._layout(parts, w.visit_start, len(_parts(greeting, False)) if greeting else 0)
        gain = self.gain_db + (self._u([-3, 3]) if self.plan.get("level_changes") else 0.0)
        listen = None if lay.listen is None or node["kind"] in ("agent", "info") else round(lay.listen - w.visit_start, 3)
        visit = {"path": list(w.path), "kind": node["kind"], "lang": node.get("lang", "en"),
                 "start": round(w.visit_start, 3), "listen_after": listen,
                 "prompt_end": round(lay.prompt_end, 3), "via": w.via}
        w.first, w.prefix = False, []
        # presses carried over from a rapid sequence: lost before the node starts
        cur_pending, w.pending = w.pending, []
        leave, keyed, entry_done, cur_pending = self._presses_at(node, lay, w, cur_pending)
        if node["kind"] == "input" and keyed:
            return self._end_entry(node, lay, visit, w, (keyed, entry_done, cur_pending), gain)
        if leave is None:  # caller stops pressing: the node plays out
            return self._play_out(node, lay, visit, w, gain)
        self._leave(leave, lay, visit, w, gain)
        return None

    def _presses_at(self, node: dict, lay: _Layout, w: _Walk, cur_pending: list):
        """The caller's presses at one visit, judged as the platform hears them: lost
        in the transition, ignored, an entry digit, or the key that leaves the node.
        Returns ``(leave, keyed, entry_done, cur_pending)``; ``leave`` is
        ``(press_start, press_end, next_path, prefix_parts)`` or None."""
        path, kind = w.path, node["kind"]
        leave, keyed, entry_done = None, "", False
        while leave is None and (cur_pending or w.steps):
            if cur_pending:
                batch, cur_pending = cur_pending, []
            else:
                batch = self._steps_presses(w.steps.pop(0), lay)
            for j, (k, tp, dur) in enumerate(batch):
                tp = max(tp, w.last_end + 0.06)  # Q.24 needs >= 40 ms between presses
                if tp < w.visit_start:
                    w.last_end = self._press(k, tp, path, False, "transition", dur)
                    continue
                listening = lay.listen is not None and tp >= lay.listen and kind in ("menu", "input")
                if entry_done or not listening:
                    w.last_end = self._press(k, tp, path, False, "ignored", dur)
                    continue
                if kind == "input":
                    w.last_end = self._press(k, tp, path, True, "entry", dur)
                    keyed += k
                    if _entry_complete(node.get("entry", "Pass#"), keyed, k):
                        entry_done, leave, cur_pending = True, (tp, w.last_end, None, None), batch[j + 1:]
                        break
                    continue
                w.last_end = self._press(k, tp, path, True, "barge" if tp < lay.prompt_end else "after", dur)
                leave = (tp, w.last_end) + _next_node(node, path, k)
                w.pending = batch[j + 1:]
                break
        return leave, keyed, entry_done, cur_pending

    def _end_entry(self, node: dict, lay: _Layout, visit: dict, w: _Walk, entry: tuple, gain: float) -> float:
        """An input node the caller keyed into: the prompt cut at the first digit,
        then the node's ``then`` leaf (entry complete) or a hang-up; later presses are
        ignored. Returns the call's end time."""
        keyed, entry_done, cur_pending = entry
        first_tp = next(p["start"] for p in self.presses if p["accepted"] and p["node"] == w.path
                        and p["start"] >= w.visit_start)
        cut = first_tp + self._u(self.plat["barge_latency_s"])
        visit["options"] = self._place(lay, cut if cut < lay.prompt_end else None, gain)
        visit["keyed"] = keyed
        visit["end"] = None
        if entry_done:
            t_then = max(w.last_end, cut) + self._u(self.plat["transition_s"])
            call_end = self._leaf(node.get("then") or {"kind": "agent"}, t_then, gain)
        else:
            call_end = max(w.last_end, lay.prompt_end) + self._u([1.5, 3.0])
        visit["end"] = round(call_end, 3)
        self.visits.append(visit)
        # presses after the entry are ignored by the leaf after it
        for k, tp, dur in cur_pending + [p for s in w.steps for p in self._steps_presses(s, lay)]:
            w.last_end = self._press(k, max(tp, w.last_end + 0.06), w.path, False, "ignored", dur)
        return call_end

    def _play_out(self, node: dict, lay: _Layout, visit: dict, w: _Walk, gain: float) -> float:
        """The node plays to its end (no press left it): a leaf's hold or end tone, or
        the caller hangs up after a menu. Returns the call's end time."""
        self._place(lay, None, gain)
        visit["options"] = [dict(key=p["option"]["key"], label=p["option"].get("label", ""),
                                 role=p["option"]["role"], start=round(s, 3), end=round(s + len(a) / SR, 3))
                            for s, a, p in lay.items if "option" in p]
        if node["kind"] in ("agent", "info"):
            call_end = self._leaf(node, lay.prompt_end, gain, placed=True)
        else:
            call_end = max(lay.prompt_end, w.last_end) + self._u([1.5, 3.0])
        visit["end"] = round(call_end, 3)
        self.visits.append(visit)
        return call_end

    def _leave(self, leave: tuple, lay: _Layout, visit: dict, w: _Walk, gain: float) -> None:
        """A press took the call on: the prompt cut after the platform's barge-in
        latency, the next node starts after the transition (``w`` moves there)."""
        tp, tend, nxt, pre = leave
        cut = tp + self._u(self.plat["barge_latency_s"])
        visit["options"] = self._place(lay, cut if cut < lay.prompt_end else None, gain)
        visit["end"] = round(tp, 3)
        self.visits.append(visit)
        nstart = max(tend, cut) + self._u(self.plat["transition_s"])
        w.via = {"key": self.presses[-1]["key"], "time": round(tp, 3), "latency": round(nstart - tend, 3)}
        w.path, w.prefix, w.visit_start = nxt, pre, nstart

    def _leaf(self, node: dict, t0: float, gain: float, placed: bool = False) -> float:
        """Play an agent / info leaf from ``t0`` (or, ``placed``, its prompt ended at
        ``t0``); returns the call's end time."""
        t = t0
        if not placed:
            lay = self._layout(_parts(node.get("prompt"), True), t0)
            self._place(lay, None, gain)
            t = lay.prompt_end
        plan = self.plan
        if node["kind"] == "agent" and self.spec.get("hold"):
            return self._hold_leg(node, t, gain)
        if node["kind"] == "agent":
            hold = self._u(plan.get("hold_s", [8, 14]))
            ms = t + self._u([0.4, 1.0])
            clip = moh_clip(node.get("music", plan.get("music", "macroform-cold_day")), hold, self.rng)
            self.other.append((ms, clip * db_to_amp(gain)))
            self.music.append({"start": round(ms, 3), "end": round(ms + hold, 3)})
            return ms + hold
        end = plan.get("end_tone", node.get("end", "hangup"))
        t += self._u([0.5, 1.2])
        if end in ("busy", "reorder"):
            freqs, on, off = BUSY if end == "busy" else REORDER
            y, bursts = cadence(freqs, on, off, 3.0 if end == "busy" else 2.0, level_db=-19 + gain)
            self.other.append((t, y))
            self.tones += [{"name": end, "start": round(t + a, 3), "end": round(t + b, 3)} for a, b in bursts]
            return t + len(y) / SR + 0.3
        if end == "sit":
            y = sit_tone(-19 + gain)
            self.other.append((t, y))
            self.tones.append({"name": "sit", "start": round(t, 3), "end": round(t + len(y) / SR, 3)})
            return t + len(y) / SR + 0.5
        return t + self._u([0.5, 1.5])

    def _mix(self, answer, onset, call_end):
        plan, rng = self.plan, self.rng
        n = int(np.ceil(call_end * SR)) + 1
        ivr = np.zeros(n, np.float32)
        speech_mask = np.zeros(n, bool)
        for s, a, g, cut in self.speech:
            a = a * db_to_amp(g)
            i = int(round(s * SR))
            if cut is not None and s + len(a) / SR > cut:
                k = max(0, int(round((cut - s) * SR)))
                a = a[:k].copy()
                f = min(80, len(a))  # 10 ms fade: platforms stop at a buffer boundary
                if f:
                    a[-f:] *= np.linspace(1, 0, f)
            a = a[: n - i]
            ivr[i:i + len(a)] += a
            speech_mask[i:i + len(a)] = True
        for s, a in self.other:
            i = int(round(s * SR))
            a = a[: n - i]
            ivr[i:i + len(a)] += a
        ivr = telephone_band(ivr)
        # the far leg may be coded differently from the recording (e.g. GSM mobile leg)
        if plan.get("far_codec"):
            ivr = roundtrip(ivr, plan["far_codec"])
        y = ivr.copy()
        # keys sent out of band (RFC 4733 / SIP INFO): the truth keeps them, the audio not
        for s, a in [] if plan.get("keys_out_of_band") else self.keys:
            i = int(round(s * SR))
            a = a[: n - i]
            y[i:i + len(a)] += a
        snr = float(plan.get("snr_db", 30))
        sp = ivr[speech_mask] if speech_mask.any() else ivr
        noise_rms = np.sqrt(np.mean(sp.astype(np.float64) ** 2)) * db_to_amp(-snr)
        noise = rng.standard_normal(n).astype(np.float32)
        sos = butter(2, [150, 3700], btype="bandpass", fs=SR, output="sos")
        noise = sosfilt(sos, noise).astype(np.float32)
        noise *= noise_rms / (np.sqrt(np.mean(noise**2)) + 1e-12)
        y = y + noise
        if plan.get("stereo"):
            # one side per channel, as call recorders write it: the IVR on the left, the
            # caller's phone (its key tones and room noise) on the right
            keys = y - ivr - noise
            mic = sosfilt(sos, rng.standard_normal(n)).astype(np.float32)
            mic *= noise_rms / (np.sqrt(np.mean(mic**2)) + 1e-12)
            y = np.stack([ivr + noise, keys + mic])
        peak = np.max(np.abs(y))
        if peak > 0.98:  # keep the recording unclipped; truth levels shift by the same gain
            g = float(0.98 / peak)
            y *= g
            for p in self.presses:
                p["level_db"] = round(p["level_db"] + 20 * np.log10(g), 2)
        truth = {
            "schema": "ivrkit.truth/1", "company": self.spec["company"], "number": self.spec.get("number"),
            "file": None, "duration": round(n / SR, 3), "answer": round(answer, 3),
            "greeting_onset": round(onset, 3), "voice": self.voice, "codec": plan.get("codec", "mulaw"),
            "far_codec": plan.get("far_codec"), "snr_db": snr, "seed": plan.get("seed", 0),
            "channels": 2 if plan.get("stereo") else 1, "sample_rate": int(plan.get("file_sr", SR)),
            "presses": sorted(self.presses, key=lambda p: p["start"]),
            "visits": self.visits, "tones": self.tones, "music": self.music,
            "holds": self.holds, "after_hours": bool(plan.get("after_hours")),
        }
        if plan.get("keys_out_of_band"):
            truth["keys_out_of_band"] = True
            for p in truth["presses"]:
                p["in_band"] = False
        return y.astype(np.float32), truth



# ------------------------------------------------------------- hours and holds


def _hold_leg(self, node: dict, t0: float, gain: float) -> float:
    """An agent leg as call centres play it (the spec's ``hold``): music from the end
    of the transfer prompt (``t0``), a hold announcement every ``every_s`` seconds
    of music (the music pauses for it), then a person answering in another voice
    after a random hold, or the caller hanging up still on hold (``answer_p``).
    Records the truth in ``self.holds``; returns the call's end time."""
    cfg, rng = self.spec["hold"], self.rng
    hold_s = self._u(self.plan.get("hold_total_s", cfg.get("hold_s", [15, 75])))
    answered = bool(rng.random() < float(cfg.get("answer_p", 0.8)))
    music = node.get("music", self.plan.get("music", "macroform-cold_day"))
    anns = cfg.get("announcements") or ["Your call is important to us. Please stay on the line."]
    t, end_hold = t0 + self._u([0.4, 1.0]), t0 + hold_s
    k = int(rng.integers(len(anns)))
    while t < end_hold - 0.5:
        seg = min(self._u(cfg.get("every_s", [20, 40])), end_hold - t)
        self.other.append((t, moh_clip(music, seg, rng) * db_to_amp(gain)))
        self.music.append({"start": round(t, 3), "end": round(t + seg, 3)})
        t += seg
        if t >= end_hold - 0.5:
            break
        a = self.renderer.speech(anns[k % len(anns)], self.voice)
        k += 1
        t += 0.3
        self.speech.append((t, a, gain, None))
        t += len(a) / SR + 0.3
    # the leg is the call's last node: its visit is the truth's last one
    rec = {"start": round(t0, 3),
           "answered": None, "hold_s": round(t - t0, 3), "at_least": True}
    if answered:
        says = cfg.get("agent_says") or ["Hi, thanks for holding, this is Dana. How can I help you today?"]
        voice = cfg.get("agent_voice", "festival:kal_diphone")
        a = self.renderer.speech(says[int(rng.integers(len(says)))], voice)
        t += self._u([0.2, 0.8])
        self.speech.append((t, a, gain + self._u([-4, 4]), None))
        rec.update(answered=round(t, 3), hold_s=round(t - t0, 3), at_least=False)
        t += len(a) / SR
    self.holds.append(rec)
    return t + self._u([0.5, 1.5])


def _after_hours_call(self, answer: float, onset: float):
    """A call made while the company is closed: the spec's ``after_hours`` greeting
    (no keys taken), then the line hangs up."""
    parts = _parts(self.spec["after_hours"]["greeting"], False)
    lay = self._layout(parts, onset, len(parts))
    gain = self.gain_db
    self._place(lay, None, gain)
    self.visits.append({"path": [], "kind": "info", "start": round(onset, 3), "listen_after": None,
                        "prompt_end": round(lay.prompt_end, 3), "via": None, "options": [],
                        "after_hours": True, "end": round(lay.prompt_end, 3)})
    for step in self.plan.get("steps", []):  # presses into a closed line: all ignored
        for k, tp, dur in self._steps_presses(step, lay):
            self._press(k, tp, [], False, "ignored", dur)
    return self._mix(answer, onset, lay.prompt_end + self._u([0.8, 1.5]))


# methods of Simulation, kept here beside the hours / hold data they play
Simulation._hold_leg = _hold_leg
Simulation._after_hours_call = _after_hours_call


def after_hours_plan(name: str, seed: int) -> dict:
    """A call to a closed line: ringing, the closed greeting, perhaps an ignored key."""
    rng = np.random.default_rng(seed)
    steps = [{"key": str(rng.integers(0, 10)), "at": "start", "t": round(float(rng.uniform(2, 5)), 3)}] \
        if rng.random() < 0.5 else []
    return {"name": name, "seed": int(seed), "after_hours": True, "steps": steps,
            "ring_cycles": int(rng.integers(1, 4)), "codec": str(rng.choice(["mulaw", "alaw", "pcm16"])),
            "snr_db": round(float(rng.uniform(20, 35)), 1)}


# ------------------------------------------------------------------------ output


def _part_text(p: dict) -> str:
    return p.get("text") or p.get("sound", "")


def true_tree(spec: dict, renderer: Renderer, margin_s: float = 0.5) -> dict:
    """The company's true menu tree in contract form (``ivrkit.tree/1``).

    ``listen_after`` is exact (the platform starts listening at the first
    interruptible part); ``wait`` adds ``margin_s``, the slack a directory would give.
    """
    sim = Simulation(spec, {"seed": 0}, renderer)
    nodes_out, edges = [], []
    for path, node in spec["_nodes"].items():
        parts = node_parts(node, spec.get("greeting") if not path else None)
        n_greet = len(spec.get("greeting") or []) if not path else 0
        lay = sim._layout(parts, 0.0, n_greet) if parts else _Layout(0.0, [], 0.0, None)
        kind = node["kind"]
        la = None if kind in ("agent", "info") or lay.listen is None else round(lay.listen, 3)
        nid = "/".join(path) or "root"
        d = {"id": nid, "path": list(path), "kind": kind, "lang": node.get("lang", "en"),
             "prompt": " ".join(_part_text(p) for p in parts),
             "listen_after": la, "wait": None if la is None else round(la + margin_s, 3)}
        if kind == "input":
            d["entry"] = node.get("entry")
        if not path and spec.get("hours"):
            d["hours"] = spec["hours"]
        nodes_out.append(d)
        for opt in node.get("options", []):
            if opt["role"] == "option":
                continue
            tid = "/".join(list(path) + [opt["key"]])
            nodes_out.append({"id": tid, "path": list(path) + [opt["key"]], "kind": "back",
                              "role": opt["role"], "returns_to": list(path) if opt["role"] == "repeat"
                              else [str(x) for x in opt.get("to", [])],
                              "prompt": None, "listen_after": None, "wait": None})
        for opt in node.get("options", []):
            tid = "/".join(list(path) + [opt["key"]])
            edges.append({"source": nid, "target": tid, "key": opt["key"], "label": opt.get("label", ""),
                          "role": opt["role"], "confidence": 1.0, "evidence": []})
    graph = {"schema": "ivrkit.tree/1", "company": spec["company"], "number": spec.get("number"),
             "created": "simulated", "sources": [], "truth": True}
    return {"directed": True, "multigraph": False, "graph": graph, "nodes": nodes_out, "edges": edges}


def render_call(spec: dict, plan: dict, renderer: Renderer, out_dir: Path) -> dict:
    """Simulate one call; writes ``<name><ext>`` and ``<name>.truth.json``."""
    y, truth = Simulation(spec, plan, renderer).run()
    codec = plan.get("codec", "mulaw")
    name = plan["name"] + CODECS[codec][1]
    out_dir.mkdir(parents=True, exist_ok=True)
    encode(y, out_dir / name, codec, int(plan.get("file_sr", SR)))
    truth["file"] = name
    truth["plan"] = {k: v for k, v in plan.items() if k != "name"}
    (out_dir / f"{plan['name']}.truth.json").write_text(json.dumps(truth, indent=1, ensure_ascii=False) + "\n")
    return truth


def write_tree(spec: dict, renderer: Renderer, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tree.json").write_text(json.dumps(true_tree(spec, renderer), indent=1, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------- random plans


def random_plan(spec: dict, leaf: list[str], name: str, seed: int, harsh: bool = True) -> dict:
    """A plausible caller walking to ``leaf``: early ignored presses in the greeting,
    barge-ins and presses after prompts, repeats, wrong keys, rapid sequences whose
    second key is lost in the transition, data entry, presses while on hold."""
    rng = np.random.default_rng(seed)
    nodes = spec["_nodes"]
    steps: list[dict] = []
    keys = "0123456789*#"
    if spec.get("greeting") and rng.random() < 0.5:
        steps.append({"key": str(rng.choice(list(keys[:10]))), "at": "start", "span": "listen",
                      "frac": round(float(rng.uniform(0.15, 0.85)), 3)})
    for i, k in enumerate(leaf):
        node = nodes[tuple(leaf[:i])]
        opts = {o["key"]: o for o in node.get("options", [])}
        r = rng.random()
        rep = next((o["key"] for o in opts.values() if o["role"] == "repeat"), None)
        if r < 0.08 and rep:
            steps.append({"key": rep, "at": "end", "t": round(float(rng.uniform(0.3, 2.0)), 3)})
        elif r < 0.14:
            bad = [c for c in "0123456789" if c not in opts]
            if bad:
                steps.append({"key": str(rng.choice(bad)), "at": "end", "t": round(float(rng.uniform(0.3, 2.0)), 3)})
        if i + 1 < len(leaf) and rng.random() < 0.1:
            # the whole rest at once, as the directory warns against: the next key is lost
            steps.append({"keys": k + leaf[i + 1], "at": "end", "t": round(float(rng.uniform(0.3, 1.5)), 3),
                          "gap": [0.1, 0.18]})
        if rng.random() < 0.5:
            steps.append({"key": k, "at": "listen", "frac": round(float(rng.uniform(0.1, 0.85)), 3)})
        else:
            steps.append({"key": k, "at": "end", "t": round(float(rng.uniform(0.3, 3.0)), 3)})
    leafnode = nodes[tuple(leaf)]
    if leafnode["kind"] == "input":
        digits = entry_digits(leafnode.get("entry", "Pass#"), rng)
        if rng.random() < 0.5:
            steps.append({"keys": digits, "at": "listen", "frac": round(float(rng.uniform(0.3, 0.9)), 3),
                          "gap": [0.12, 0.4]})
        else:
            steps.append({"keys": digits, "at": "end", "t": round(float(rng.uniform(0.4, 2.0)), 3),
                          "gap": [0.12, 0.4]})
    if leafnode["kind"] == "agent" and rng.random() < 0.15:
        steps.append({"key": "0", "at": "end", "t": round(float(rng.uniform(2.0, 5.0)), 3)})
    plan = {"name": name, "seed": int(seed), "steps": steps,
            "ring_cycles": int(rng.integers(1, 4)), "hold_s": [6, 12],
            "end_tone": str(rng.choice(["busy", "hangup", "hangup", "reorder", "sit"]))}
    if harsh:
        plan.update({
            "codec": str(rng.choice(["mulaw", "mulaw", "alaw", "gsm", "pcm16"])),
            "far_codec": "gsm" if rng.random() < 0.2 else None,
            "snr_db": round(float(rng.uniform(15, 35)), 1),
            "level_changes": bool(rng.random() < 0.5),
            "level_db": round(float(rng.uniform(-8, 3)), 1),
            "dtmf": {"dur_s": [0.04, 0.2], "level_db": [-25, -3], "twist_db": [-6, 6],
                     "freq_error": [-0.015, 0.015]},
        })
        # drawn last, so the draws above (and the calls made before these existed) stay
        if rng.random() < 0.12 and plan["codec"] != "gsm":  # GSM files are mono only
            plan["stereo"] = True
        if rng.random() < 0.25 and plan["codec"] == "pcm16":
            plan["file_sr"] = 16000
    return plan


# ------------------------------------------------------- phone channels (issue 15)

#: Audio muted either side of a key when its tone is taken out of a call: the truth
#: times are the tone's own; the margin covers a codec's ringing around it.
ERASE_MARGIN_S = 0.02


def erase_key_tones(y: np.ndarray, presses, sr: int = SR, margin_s: float = ERASE_MARGIN_S) -> np.ndarray:
    """``y`` with every press's span muted (5 ms fades), as a phone sending keys out of
    band (RFC 4733) mutes its in-band audio while a key is down.

    Parameters: ``y`` audio, shape ``(n,)`` or ``(channels, n)``; ``presses`` truth
    presses (``start`` / ``end`` in seconds). Returns a copy.
    """
    out = np.array(y, dtype=np.float32, copy=True)
    n, f = out.shape[-1], max(1, int(0.005 * sr))
    for p in presses:
        a = max(0, int((p["start"] - margin_s) * sr))
        b = min(n, int(np.ceil((p["end"] + margin_s) * sr)))
        if b <= a:
            continue
        g = np.zeros(b - a, np.float32)
        k = min(f, (b - a) // 2)
        g[:k], g[len(g) - k:] = np.linspace(1, 0, k), np.linspace(0, 1, k)
        out[..., a:b] *= g
    return out


def keys_sidecar(truth: dict, method: str = "rfc4733") -> list[dict]:
    """The crawler's key list (contract, ``crawl``) for a simulated call's presses."""
    return [{"key": p["key"], "time": round(float(p["start"]), 3), "method": method}
            for p in truth["presses"]]


#: AMR-NB's eight modes (3GPP TS 26.071), sox ``-C 0`` .. ``-C 7``, kbit/s.
AMR_NB_MODES_KBPS = (4.75, 5.15, 5.9, 6.7, 7.4, 7.95, 10.2, 12.2)
#: AMR-WB's nine modes (3GPP TS 26.171, ``amrwb:0`` .. ``amrwb:8``), kbit/s.
AMR_WB_MODES_KBPS = (6.6, 8.85, 12.65, 14.25, 15.85, 18.25, 19.85, 23.05, 23.85)
#: AMR-WB codes 20 ms frames of 16 kHz speech (3GPP TS 26.171).
AMR_WB_SR, AMR_WB_FRAME = 16000, 320
#: Phone channels the simulator codes a call through (``phone_encode``): AMR-NB
#: ``amrnb:MODE`` (sox; ffmpeg here decodes AMR but cannot encode it), AMR-WB
#: ``amrwb:MODE`` (VisualOn's encoder, Debian ``libvo-amrwbenc0``, through ctypes:
#: neither sox nor ffmpeg here encodes it; offered only when the library is
#: installed), Opus ``opus:BITRATE`` (ffmpeg libopus, VoIP mode), GSM-FR ``gsm``
#: (libgsm), ``g723`` (G.723.1 6.3 kbit/s CELP: ffmpeg encodes no G.729, and G.723.1
#: is the nearest low-rate CELP coder it has) and ``band`` (a steep 300-3400 Hz
#: limit, the channel G.729 / G.711 calls pass through).
ALL_PHONE_CHANNELS = ("amrnb", "amrwb", "opus", "gsm", "g723", "band")


@functools.lru_cache(maxsize=1)
def amrwb_library():
    """VisualOn's AMR-WB encoder (``libvo-amrwbenc``) loaded through ctypes, or None
    when it is not installed. Cached: the library is loaded once per process."""
    name = ctypes.util.find_library("vo-amrwbenc")
    if name is None:
        return None
    lib = ctypes.CDLL(name)
    lib.E_IF_init.restype = ctypes.c_void_p
    lib.E_IF_encode.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_short),
                                ctypes.POINTER(ctypes.c_ubyte), ctypes.c_int]
    lib.E_IF_encode.restype = ctypes.c_int
    lib.E_IF_exit.argtypes = [ctypes.c_void_p]
    return lib


def phone_channels() -> tuple[str, ...]:
    """The phone channels this machine can code (AMR-WB only with its library)."""
    return tuple(c for c in ALL_PHONE_CHANNELS if c != "amrwb" or amrwb_library() is not None)

#: Caller phrases said over prompts (issue 15), in a voice unlike the IVR's.
CALLER_PHRASES = ("representative", "agent please", "operator", "uh, billing", "hello?",
                  "talk to a person", "what was that", "okay")
CALLER_VOICES = ("espeak-ng:en-us+m3:170", "espeak-ng:en-gb+m1:160", "flite:rms", "flite:awb")
#: Shortest network-generated DTMF tone (3GPP TS 23.014 §3: 70 ms), so phone calls draw
#: key durations from here up; the rest of the key ranges are the corpus's harsh ones.
PHONE_DTMF = {"dur_s": [0.07, 0.2], "level_db": [-25, -3], "twist_db": [-6, 6], "freq_error": [-0.015, 0.015]}


def _run_codec(cmd: list[str], raw: bytes) -> None:
    subprocess.run(cmd, input=raw, check=True, capture_output=True)


def amrwb_encode(y: np.ndarray, path: Path, mode: int) -> None:
    """Write mono 8 kHz ``y`` to ``path`` as an AMR-WB file (RFC 4867 storage format:
    the magic ``#!AMR-WB\\n``, then one frame per 20 ms) in ``mode`` 0-8, upsampled to
    16 kHz first. DTX is off: ffmpeg's AMR-WB decoder has no comfort-noise frames."""
    lib = amrwb_library()
    if lib is None:
        raise SpecError("the amrwb phone channel needs VisualOn's AMR-WB encoder (apt install libvo-amrwbenc0)")
    if not 0 <= mode < len(AMR_WB_MODES_KBPS):
        raise SpecError(f"AMR-WB mode {mode} is not one of 0-{len(AMR_WB_MODES_KBPS) - 1}")
    x = resample_poly(y.astype(np.float64), AMR_WB_SR // SR, 1)
    x = np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)
    x = np.pad(x, (0, -len(x) % AMR_WB_FRAME))
    out, buf = bytearray(b"#!AMR-WB\n"), (ctypes.c_ubyte * 128)()
    state = lib.E_IF_init()
    try:
        for i in range(0, len(x), AMR_WB_FRAME):
            frame = np.ascontiguousarray(x[i:i + AMR_WB_FRAME])
            n = lib.E_IF_encode(state, mode, frame.ctypes.data_as(ctypes.POINTER(ctypes.c_short)), buf, 0)
            out += bytes(buf[:n])
    finally:
        lib.E_IF_exit(state)
    Path(path).write_bytes(bytes(out))


def phone_encode(y: np.ndarray, path: Path, channel: str) -> None:
    """Write mono 8 kHz ``y`` to ``path`` coded by ``channel`` (``ALL_PHONE_CHANNELS``).
    The decoded file lags ``y`` by the decoder's delay (``CODEC_DELAY_S``);
    ``phone_write`` writes one that lines up."""
    name, _, arg = channel.partition(":")
    y = np.clip(y, -1.0, 1.0).astype("<f4")
    pcm_in = ["-f", "f32le", "-ar", str(SR), "-ac", "1", "-i", "-"]
    ff = [_ffmpeg(), "-nostdin", "-v", "error", "-y", *pcm_in]
    if name == "amrnb":
        mode = int(arg or 7)
        _run_codec(["sox", "-D", "-t", "raw", "-r", str(SR), "-e", "floating-point", "-b", "32", "-c", "1", "-",
                    "-t", "amr-nb", "-C", str(mode), str(path)], y.tobytes())
    elif name == "amrwb":
        amrwb_encode(y, path, int(arg or 8))
    elif name == "opus":
        # bitexact: the Ogg stream's serial number is otherwise random, so two renders
        # of one call differed in bytes (sha256, cache key) though they decode alike
        _run_codec([*ff, "-c:a", "libopus", "-b:a", arg or "12k", "-application", "voip",
                    "-fflags", "+bitexact", "-flags:a", "+bitexact", str(path)], y.tobytes())
    elif name == "gsm":
        _run_codec([*ff, "-c:a", "libgsm_ms", str(path)], y.tobytes())
    elif name == "g723":
        _run_codec([*ff, "-c:a", "g723_1", "-b:a", "6300", str(path)], y.tobytes())
    elif name == "band":
        sos = butter(8, [300.0, 3400.0], btype="bandpass", fs=SR, output="sos")
        _run_codec([*ff, "-c:a", "pcm_s16le", str(path)], sosfilt(sos, y).astype("<f4").tobytes())
    else:
        raise SpecError(f"unknown phone channel {channel!r} (one of {', '.join(ALL_PHONE_CHANNELS)})")


def phone_ext(channel: str) -> str:
    return {"amrnb": ".amr", "amrwb": ".awb", "opus": ".opus"}.get(channel.partition(":")[0], ".wav")


def codec_delay_samples(channel: str, sr: int = SR) -> int:
    """The decoder's output delay of ``channel`` (``CODEC_DELAY_S``) in samples at ``sr``."""
    return int(round(CODEC_DELAY_S.get(channel.partition(":")[0], 0.0) * sr))


def phone_write(y: np.ndarray, path: Path, channel: str) -> None:
    """Write mono ``y`` coded by ``channel`` so that the decoded file lines up with
    ``y``: the audio goes in the decoder's delay early (its first few ms dropped, the
    same length padded at the end), so the truth's send times are the file's times,
    as in a two-sided call (``phone_roundtrip``)."""
    lag = codec_delay_samples(channel)
    phone_encode(np.pad(y[lag:], (0, lag)), path, channel)


def phone_roundtrip(y: np.ndarray, channel: str) -> np.ndarray:
    """``y`` (mono, or ``(2, n)`` one side per channel) through a phone channel, aligned
    to the input (the decoder's delay removed) and the same length."""
    if y.ndim == 2:
        return np.stack([phone_roundtrip(side, channel) for side in y])
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / ("x" + phone_ext(channel))
        phone_write(y, p, channel)
        out = _load(p)
    return np.pad(out, (0, max(0, len(y) - len(out))))[: len(y)].astype(np.float32)


#: Decoder output delay (s) of each phone channel as this sox / ffmpeg writes and
#: reads it, measured by cross-correlating a chirp in and out (AMR-NB 40 samples at
#: 8 kHz in every mode, AMR-WB 95 at 16 kHz in every mode, G.723.1 60; Opus decodes
#: with its pre-skip removed, GSM-FR has none). ``phone_write`` and ``phone_roundtrip``
#: take it out, so truth times are the times the tones were sent and the file's.
CODEC_DELAY_S = {"amrnb": 0.005, "amrwb": 95 / AMR_WB_SR, "opus": 0.0, "gsm": 0.0, "g723": 0.0075,
                 "band": 0.0}


def caller_voice(y: np.ndarray, truth: dict, renderer: "Renderer", rng: np.random.Generator,
                 n: int, side: int | None = None) -> tuple[np.ndarray, list[dict]]:
    """Mix ``n`` caller utterances over the IVR's prompts (the near end: a different
    voice, its own level). ``side``: the channel that is the caller's in a stereo
    recording (None: mono mix). Returns the new audio and the utterances' truth."""
    visits = [v for v in truth["visits"] if (v.get("end") or 0) - v["start"] > 2.0]
    out, said = np.array(y, copy=True), []
    voice = str(rng.choice(CALLER_VOICES))
    ivr = y if side is None else y[1 - side]
    speech_db = float(np.median([rms_db(ivr[int(v["start"] * SR): int(v["start"] * SR) + SR])
                                 for v in visits] or [-30.0]))
    for _ in range(n if visits else 0):
        v = visits[int(rng.integers(len(visits)))]
        text = str(rng.choice(CALLER_PHRASES))
        a = telephone_band(renderer.speech(text, voice))
        t = float(rng.uniform(v["start"] + 0.3, max(v["start"] + 0.4, v["end"] - len(a) / SR - 0.2)))
        level = speech_db + float(rng.uniform(-8, 4))  # handset mic vs the far end: either louder
        a = a * db_to_amp(level - rms_db(a))
        i = int(round(t * SR))
        a = a[: out.shape[-1] - i]
        if side is None:
            out[i:i + len(a)] += a
        else:
            out[side, i:i + len(a)] += a
        said.append({"text": text, "voice": voice, "start": round(t, 3), "end": round(t + len(a) / SR, 3),
                     "level_db": round(level, 1)})
    return out.astype(np.float32), said


def phone_plan(spec: dict, leaf: list[str], name: str, seed: int) -> dict:
    """A random caller (``random_plan``) on a phone channel: a codec drawn from
    ``phone_channels()`` (AMR-NB in any mode, half of those AMR-WB in any mode when its
    encoder is installed, Opus 8-16 kbit/s, GSM-FR, G.723.1, band limit), 12-18 dB SNR, 1-3 caller utterances over prompts, a quarter in stereo
    with the IVR on a random side."""
    plan = random_plan(spec, leaf, name, seed, harsh=True)
    rng = np.random.default_rng(seed + 7_777_777)  # its own stream: random_plan's draws stay
    kind = str(rng.choice(["amrnb", "amrnb", "opus", "gsm", "g723", "band"]))
    arg = {"amrnb": str(int(rng.integers(0, 8))), "opus": str(rng.choice(["8k", "12k", "16k"]))}.get(kind)
    wb = np.random.default_rng(seed + 5_555_555)  # its own stream: the draws above stay
    if kind == "amrnb" and wb.random() < 0.5 and amrwb_library() is not None:
        kind, arg = "amrwb", str(int(wb.integers(0, len(AMR_WB_MODES_KBPS))))  # an HD-voice (VoLTE) call
    plan.update({"codec": "pcm16", "far_codec": None, "snr_db": round(float(rng.uniform(12, 18)), 1),
                 "dtmf": dict(PHONE_DTMF), "file_sr": SR})
    plan.pop("stereo", None)
    plan["phone"] = {"channel": f"{kind}:{arg}" if arg else kind, "caller_utterances": int(rng.integers(1, 4)),
                     "stereo": bool(rng.random() < 0.25), "ivr_channel": int(rng.integers(0, 2))}
    return plan


#: Seed offset of the draw that picks the calls whose keys go out of band (its own
#: stream: the plans' draws, and so the calls' audio, stay as without the option).
OUT_OF_BAND_SEED = 4_242_421


def out_of_band_calls(n: int, share: float, seed: int) -> set[int]:
    """Indices of the ``round(share * n)`` calls (of ``n``) whose keys are sent out of
    band (``--no-tones-share``): the recording holds no tone, the truth keeps the keys."""
    k = int(round(max(0.0, min(1.0, share)) * n))
    return set(np.random.default_rng(seed + OUT_OF_BAND_SEED).permutation(n)[:k].tolist())


def render_phone_call(spec: dict, plan: dict, renderer: Renderer, out_dir: Path) -> dict:
    """Simulate one call recorded on a phone (``plan["phone"]``, see ``phone_plan``):
    the caller's voice mixed in, coded by the phone channel. Writes the recording
    (native container when mono: ``.amr``, ``.awb``, ``.opus``, ``.wav``, lined up with
    the truth by ``phone_write``; stereo: both sides coded, 16-bit WAV) and its truth with a ``phone`` section."""
    ph = plan["phone"]
    sim_plan = dict(plan, stereo=bool(ph.get("stereo")))
    y, truth = Simulation(spec, sim_plan, renderer).run()
    rng = np.random.default_rng(int(plan.get("seed", 0)) + 99_991)
    side = None
    if y.ndim == 2:
        ivr_ch = int(ph.get("ivr_channel", 0))
        y = y if ivr_ch == 0 else y[::-1].copy()
        side = 1 - ivr_ch
    y, said = caller_voice(y, truth, renderer, rng, int(ph.get("caller_utterances", 0)), side)
    peak = float(np.max(np.abs(y)))
    if peak > 0.98:  # the caller's voice may push the mix over full scale
        g = 0.98 / peak
        y = y * g
        for p in truth["presses"]:
            p["level_db"] = round(p["level_db"] + 20 * np.log10(g), 2)
    out_dir.mkdir(parents=True, exist_ok=True)
    if y.ndim == 1:
        name = plan["name"] + phone_ext(ph["channel"])
        phone_write(y, out_dir / name, ph["channel"])
    else:
        name = plan["name"] + ".wav"
        encode(phone_roundtrip(y, ph["channel"]), out_dir / name, "pcm16")
    truth.update(file=name, codec=ph["channel"], phone={**ph, "caller_speech": said, "aligned": True,
                                                        "ivr_channel": None if side is None else 1 - side})
    truth["plan"] = {k: v for k, v in plan.items() if k != "name"}
    (out_dir / f"{plan['name']}.truth.json").write_text(json.dumps(truth, indent=1, ensure_ascii=False) + "\n")
    return truth


def render_phone_spec(spec_path: Path, out_dir: Path, renderer: Renderer, calls: int, seed: int,
                      no_tones_share: float = 0.0) -> list[dict]:
    """``calls`` random phone calls (``phone_plan``) of one spec, and its true tree;
    ``no_tones_share`` of them with their keys sent out of band (no tone in the audio)."""
    spec = load_spec(spec_path)
    write_tree(spec, renderer, out_dir)
    lv = leaves(spec)
    oob = out_of_band_calls(calls, no_tones_share, seed)
    out = []
    for i in range(calls):
        s = seed * 1000 + i
        leaf = lv[i % len(lv)] if i < len(lv) else lv[int(np.random.default_rng(s).integers(len(lv)))]
        plan = phone_plan(spec, leaf, f"call{i + 1:02d}", s)
        if i in oob:
            plan["keys_out_of_band"] = True
        out.append(render_phone_call(spec, plan, renderer, out_dir))
    return out


# --------------------------------------------------------------------------- CLI


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "ivrkit-sim"


def render_spec(spec_path: Path, out_dir: Path, renderer: Renderer, random_calls: int = 0,
                seed: int = 0, harsh: bool = True, no_tones_share: float = 0.0) -> list[dict]:
    """Render a spec's own calls (``calls`` list) or ``random_calls`` random ones;
    ``no_tones_share`` of them with their keys sent out of band (no tone in the audio)."""
    spec = load_spec(spec_path)
    write_tree(spec, renderer, out_dir)
    plans = copy.deepcopy(spec.get("calls", [])) if not random_calls else []
    if random_calls:
        lv = leaves(spec)
        for i in range(random_calls):
            s = seed * 1000 + i
            leaf = lv[i % len(lv)] if i < len(lv) else lv[int(np.random.default_rng(s).integers(len(lv)))]
            plans.append(random_plan(spec, leaf, f"call{i + 1:02d}", s, harsh))
    for i in out_of_band_calls(len(plans), no_tones_share, seed):
        plans[i]["keys_out_of_band"] = True
    return [render_call(spec, p, renderer, out_dir) for p in plans]


def _corpus_job(args):
    spec_path, out, n, seed, cache, channel, share = args
    if channel == "phone":
        render_phone_spec(Path(spec_path), Path(out), Renderer(Path(cache)), n, seed, share)
    else:
        render_spec(Path(spec_path), Path(out), Renderer(Path(cache)), random_calls=n, seed=seed,
                    no_tones_share=share)
    return spec_path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="simulate.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, default=default_cache(), help="speech cache folder")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render", help="render one spec's calls (or random ones)")
    r.add_argument("spec", type=Path)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--random-calls", type=int, default=0)
    r.add_argument("--seed", type=int, default=0)
    sub.add_parser("samples", help="regenerate the bundled recordings/northwind* calls")
    c = sub.add_parser("corpus", help="render the benchmark corpus from recordings/specs/")
    c.add_argument("--out", type=Path, default=Path("corpus"))
    c.add_argument("--specs", type=Path, default=None, help="spec folder (default: the --set's)")
    c.add_argument("--set", choices=("english", "multilingual"), default="english",
                   help="english: recordings/specs/; multilingual: recordings/specs/multilingual/ (English "
                        "menus with Spanish, French and Russian branches, Spanish- and Russian-root companies)")
    c.add_argument("--calls-per-company", type=int, default=8)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--jobs", type=int, default=2)
    c.add_argument("--channel", choices=("default", "phone"), default="default",
                   help="phone: calls recorded on mobile / VoIP phones (AMR-NB, AMR-WB, Opus, GSM-FR, "
                        "G.723.1, 12-18 dB SNR, the caller talking)")
    c.add_argument("--no-tones-share", type=float, default=0.0, metavar="SHARE",
                   help="share of each company's calls (0-1) whose keys are sent out of band (RFC 4733): "
                        "no tone in the audio; the truth keeps the keys, marked in_band: false")
    a = ap.parse_args(argv)
    if a.cmd == "corpus" and not 0.0 <= a.no_tones_share <= 1.0:
        ap.error(f"--no-tones-share {a.no_tones_share}: a share between 0 and 1")
    renderer = Renderer(a.cache)
    if a.cmd == "render":
        for t in render_spec(a.spec, a.out, renderer, a.random_calls, a.seed):
            print(f"{a.out / t['file']}: {t['duration']:.1f} s, {len(t['presses'])} presses")
    elif a.cmd == "samples":
        for d in ("northwind", "northwind-v2"):
            for t in render_spec(HERE / d / "spec.json", HERE / d, renderer, harsh=False):
                print(f"recordings/{d}/{t['file']}: {t['duration']:.1f} s, {len(t['presses'])} presses")
    elif a.cmd == "corpus":
        if a.channel == "phone" and "amrwb" not in phone_channels():
            print("simulate.py: warning: libvo-amrwbenc not installed: the phone corpus has no AMR-WB calls "
                  "(those stay AMR-NB; apt install libvo-amrwbenc0)", file=sys.stderr)
        if a.specs is None:
            a.specs = HERE / "specs" / ("multilingual" if a.set == "multilingual" else "")
        specs = sorted(a.specs.glob("*.json")) + sorted(a.specs.glob("*.toml"))
        # each company's seed comes from its file name: adding a company changes no other
        jobs = [(str(p), str(a.out / p.stem), a.calls_per_company,
                 a.seed * 100_000 + zlib.crc32(p.stem.encode()) % 100_000, str(a.cache), a.channel,
                 a.no_tones_share) for p in specs]
        if a.jobs > 1:
            from multiprocessing import Pool

            with Pool(a.jobs) as pool:
                for done in pool.imap_unordered(_corpus_job, jobs):
                    print(f"rendered {done}")
        else:
            for j in jobs:
                print(f"rendered {_corpus_job(j)}")
        total = sum(1 for _ in a.out.glob("*/*.truth.json"))
        print(f"{a.out}: {len(specs)} companies, {total} calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
