"""Decode any call recording that ffmpeg reads into a float32 numpy array.

ffmpeg comes from the ``imageio-ffmpeg`` wheel, so users need no system package.
ffmpeg decodes and resamples (its swr resampler is better than pydub's audioop);
pydub reads the resulting PCM WAV stream and splits channels. pydub's own
``from_file`` is not used for decoding because it insists on an ``ffprobe`` binary,
which no pip package ships.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import struct
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydub import AudioSegment

from .vocab import PHONE_SR


class AudioError(ValueError):
    """A recording that cannot be used; ``str()`` is one line naming the file."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped by imageio-ffmpeg (also used by pydub)."""
    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    AudioSegment.converter = exe  # pydub's export() then needs no system ffmpeg
    return exe


def _riff_chunks(f):
    """``(id, length, data offset)`` of each chunk of an open RIFF file, from the
    first one after its 12-byte head, until the file ends; the caller may read a
    chunk's data (the walk seeks past it itself)."""
    pos = 12
    while True:
        f.seek(pos)
        chunk = f.read(8)
        if len(chunk) < 8:
            return
        cid, clen = struct.unpack("<4sI", chunk)
        yield cid, clen, pos + 8
        pos += 8 + clen + (clen & 1)


def _check_riff(path: Path, head: bytes, size: int) -> None:
    """Catch truncated WAV files, which ffmpeg decodes silently up to the cut."""
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return
    with open(path, "rb") as f:
        for cid, clen, at in _riff_chunks(f):
            if cid == b"data":
                have = size - at
                # 0xFFFFFFFF / 0 are written by streaming recorders that never patch the header
                if clen not in (0, 0xFFFFFFFF) and have < clen:
                    raise AudioError(
                        path,
                        f"truncated WAV file: header promises {clen} bytes of audio, "
                        f"file has {have}",
                    )
                return
    raise AudioError(path, "truncated WAV file: no audio data chunk")


#: WAV sample formats whose data ffmpeg cannot find damaged (every byte string is a
#: valid sample): format tag -> allowed bits per sample (PCM, IEEE float, A-law, mu-law).
PLAIN_WAV_FORMATS = {1: (8, 16, 24, 32), 3: (32, 64), 6: (8,), 7: (8,)}


def _wav_header(path: str | os.PathLike) -> dict | None:
    """``fmt`` fields and the ``data`` size of a RIFF WAV file (``tag``, ``channels``,
    ``sr``, ``byte_rate``, ``block_align``, ``bits``, ``data_bytes``), read from its
    header without decoding; None for anything else."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            fmt = None
            for cid, clen, _at in _riff_chunks(f):
                if cid == b"fmt ":
                    raw = f.read(clen + (clen & 1))
                    if len(raw) < 16:
                        return None
                    fmt = dict(zip(("tag", "channels", "sr", "byte_rate", "block_align", "bits"),
                                   struct.unpack("<HHIIHH", raw[:16])))
                elif cid == b"data":
                    return None if fmt is None else dict(fmt, data_bytes=clen)
            return None
    except OSError:
        return None


def wav_duration_s(path: str | os.PathLike) -> float | None:
    """Duration of a RIFF WAV file from its header, without decoding; None for anything
    else or a header that does not say (streaming recorders write 0 or 0xFFFFFFFF)."""
    h = _wav_header(path)
    if h is None or not h["byte_rate"] or h["data_bytes"] in (0, 0xFFFFFFFF):
        return None
    return h["data_bytes"] / h["byte_rate"]


def _plain_wav(path: Path) -> bool:
    """A WAV file of PCM / float / G.711 samples whose header is consistent and whose
    data is all there (``_check_riff`` checked that): ffmpeg would decode it cleanly."""
    h = _wav_header(path)
    if h is None or h["bits"] not in PLAIN_WAV_FORMATS.get(h["tag"], ()):
        return False
    frame = h["channels"] * h["bits"] // 8
    return (0 < h["channels"] <= 8 and h["sr"] > 0 and h["block_align"] == frame
            and h["data_bytes"] not in (0, 0xFFFFFFFF) and h["data_bytes"] % frame == 0)


def _first_error_line(stderr: bytes) -> str:
    for line in stderr.decode("utf-8", "replace").splitlines():
        # ffmpeg prefixes "[demuxer @ 0x...]" and the input name; the caller names the file
        line = re.sub(r"^(\[[^\]]*\]\s*)+", "", line.strip())
        line = line.split(": ", 1)[-1] if line.startswith("/") else line
        line = re.sub(r"^Error opening input( file)?:\s*", "", line)
        if line:
            return line
    return "ffmpeg could not decode it"


def load(
    path: str | os.PathLike,
    sr: int | None = PHONE_SR,
    channels: str = "mix",
) -> tuple[np.ndarray, int]:
    """Decode ``path`` to float32 samples in [-1, 1].

    Parameters
    ----------
    sr : target sample rate in Hz; ``None`` keeps the file's own rate.
    channels : ``"mix"`` averages channels to mono (shape ``(n,)``); ``"split"``
        keeps them apart (shape ``(channels, n)``), for calls recorded one side per
        channel.

    Raises
    ------
    AudioError : missing, empty, truncated or undecodable file.
    """
    p = Path(path)
    if channels not in ("mix", "split"):
        raise ValueError(f"channels must be 'mix' or 'split', not {channels!r}")
    _check_file(p)
    proc = _ffmpeg_decode(["-i", str(p)], sr, channels)
    if (proc.returncode != 0 or proc.stderr.strip()) and _is_amr(p):
        proc = _amr_with_sox(p, sr, channels, proc)
    if proc.returncode != 0 or len(proc.stdout) <= 44:
        _raise_decode_error(p, proc.stderr)
    # ffmpeg writes a streaming WAV header with unknown sizes; pydub reads the raw
    # frames once we tell it the length.
    seg = _segment_from_ffmpeg_wav(proc.stdout)
    if len(seg.raw_data) == 0:
        raise AudioError(p, "no audio samples after decoding")
    rate = seg.frame_rate
    if channels == "mix":
        y = np.frombuffer(seg.raw_data, dtype="<i2").astype(np.float32) / 32768.0
    else:
        y = np.stack(
            [np.frombuffer(m.raw_data, dtype="<i2").astype(np.float32) / 32768.0
             for m in seg.split_to_mono()]
        )
    if err := proc.stderr.strip():
        # decodable but damaged (cut-off mp3 frame, bad packets): refuse rather than
        # analyse a recording with holes, since a hole looks like an accepted key press
        raise AudioError(p, f"damaged or truncated audio ({_first_error_line(err)})")
    return y, rate


def _ffmpeg_decode(source: list[str], sr: int | None, channels: str, data: bytes | None = None):
    """Run ffmpeg from ``source`` (input args) to 16-bit PCM WAV on stdout."""
    cmd = [ffmpeg_exe(), "-nostdin", "-v", "error", *source, "-vn", "-map", "0:a:0"]
    if channels == "mix":
        cmd += ["-ac", "1"]
    if sr is not None:
        cmd += ["-ar", str(int(sr))]
    cmd += ["-c:a", "pcm_s16le", "-f", "wav", "-"]
    return subprocess.run(cmd, input=data, capture_output=True)


def _is_amr(p: Path) -> bool:
    with open(p, "rb") as f:
        return f.read(5) == b"#!AMR"


def _amr_with_sox(p: Path, sr: int | None, channels: str, failed):
    """AMR files with comfort-noise (DTX) frames, as phones and sox write them:
    ffmpeg's AMR decoder has no DTX ("Not yet implemented"), libopencore (sox) has.
    Without sox the ffmpeg failure stands, with a hint."""
    sox = shutil.which("sox")
    if sox is None:
        raise AudioError(p, "AMR with comfort-noise (DTX) frames: ffmpeg cannot decode them; "
                            "install sox (apt install sox libsox-fmt-all) to read this file")
    wav = subprocess.run([sox, "-V1", str(p), "-t", "wav", "-b", "16", "-"], capture_output=True)
    if wav.returncode != 0 or len(wav.stdout) <= 44:
        return failed
    return _ffmpeg_decode(["-f", "wav", "-i", "-"], sr, channels, wav.stdout)


def _check_file(p: Path) -> None:
    """The checks that need no decoding: exists, a file, not empty, WAV not cut short."""
    if not p.exists():
        raise AudioError(p, "no such file")
    if p.is_dir():
        raise AudioError(p, "is a directory, not a recording")
    try:
        size = p.stat().st_size
        with open(p, "rb") as f:
            head = f.read(12)
    except OSError as exc:
        raise AudioError(p, f"cannot read ({exc.strerror or exc})") from None
    if size == 0:
        raise AudioError(p, "empty file (0 bytes)")
    _check_riff(p, head, size)


def _raise_decode_error(p: Path, stderr: bytes):
    err = stderr.decode("utf-8", "replace")
    if "matches no streams" in err or "does not contain any stream" in err:
        raise AudioError(p, "no audio stream in the file")
    why = _first_error_line(stderr)
    if any(k in why.lower() for k in ("end of file", "moov atom not found")):
        raise AudioError(p, f"truncated recording ({why})")
    raise AudioError(p, f"not a recording ffmpeg can decode ({why})")


def check_decodable(path: str | os.PathLike) -> None:
    """Raise AudioError unless ``load(path)`` would succeed, without keeping the samples.

    ffmpeg decodes the whole audio stream to nowhere (``-f null``): the same errors
    ``load`` reports (missing, empty, truncated, undecodable, damaged frames), checked
    before any analysis starts, at a fraction of the memory of a load. A WAV file of
    PCM or G.711 samples with a consistent header is not decoded (``_plain_wav``).
    """
    p = Path(path)
    _check_file(p)
    if _plain_wav(p):  # nothing for ffmpeg to find: spares a decode per call
        return
    cmd = [ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(p), "-vn", "-map", "0:a:0",
           "-ac", "1", "-ar", str(PHONE_SR), "-f", "null", "-"]
    proc = subprocess.run(cmd, capture_output=True)
    if (proc.returncode != 0 or proc.stderr.strip()) and _is_amr(p):
        load(p)  # AMR with comfort-noise frames: decodable through sox, else its error
        return
    if proc.returncode != 0:
        _raise_decode_error(p, proc.stderr)
    if err := proc.stderr.strip():
        raise AudioError(p, f"damaged or truncated audio ({_first_error_line(err)})")


def _segment_from_ffmpeg_wav(data: bytes) -> AudioSegment:
    """Parse ffmpeg's piped WAV (its size fields are placeholders) into pydub."""
    fmt_at = data.find(b"fmt ")
    data_at = data.find(b"data", fmt_at)
    nch, rate = struct.unpack("<HI", data[fmt_at + 10 : fmt_at + 16])
    raw = data[data_at + 8 :]
    raw = raw[: len(raw) - (len(raw) % (2 * nch))]
    return AudioSegment(data=raw, sample_width=2, frame_rate=rate, channels=nch)


#: Frames for the activity measure of a side (20 ms, a codec frame).
SIDE_FRAME_S = 0.02
#: A frame is active when this far above its side's noise floor (the 10th percentile
#: frame level): prompts and music clear it, line and room noise do not.
SIDE_ACTIVE_DB = 12.0
#: Two channels this correlated are one mix written twice (or a mono call in a
#: stereo file): there is no side to choose.
SAME_MIX_CORR = 0.9


def active_fraction(y: np.ndarray, sr: int) -> float:
    """Share of 20 ms frames of ``y`` standing SIDE_ACTIVE_DB above its noise floor."""
    n = int(SIDE_FRAME_S * sr)
    if len(y) < n:
        return 0.0
    e = np.mean(y[: len(y) // n * n].reshape(-1, n).astype(np.float64) ** 2, axis=1)
    db = 10 * np.log10(e + 1e-12)
    return float(np.mean(db > np.percentile(db, 10) + SIDE_ACTIVE_DB))


def ivr_side(y: np.ndarray, sr: int) -> int | None:
    """Which channel of a two-sided call recording (shape ``(2, n)``) is the IVR's.

    The IVR's side plays prompts and music most of the call; the caller's holds key
    tones, a few words and room noise. Returns 0 or 1, or None when ``y`` is mono or
    its channels carry the same mix (nothing to choose)."""
    if y.ndim != 2 or y.shape[0] != 2:
        return None
    a, b = (c.astype(np.float64) for c in y)
    den = np.sqrt(np.dot(a, a) * np.dot(b, b))
    if den == 0 or np.dot(a, b) / den > SAME_MIX_CORR:
        return None
    return int(active_fraction(y[1], sr) > active_fraction(y[0], sr))


def probe_duration(path: str | os.PathLike) -> float:
    """Duration in seconds, by decoding (exact, works for every format)."""
    y, rate = load(path, sr=PHONE_SR)
    return len(y) / rate


def sha256(path: str | os.PathLike) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_wav(path: str | os.PathLike, y: np.ndarray, sr: int, codec: str = "pcm_s16le") -> None:
    """Write mono float samples as WAV; ``codec`` may be pcm_mulaw or pcm_alaw.

    Written to a temporary name and renamed, so no half-written file is left.
    """
    p = Path(path)
    pcm = (np.clip(y, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    seg = AudioSegment(data=pcm, sample_width=2, frame_rate=int(sr), channels=1)
    tmp = p.with_name(f".{p.name}.part")
    ffmpeg_exe()
    buf = io.BytesIO()
    if codec == "pcm_s16le":
        seg.export(buf, format="wav")
    else:
        seg.export(buf, format="wav", codec=codec)
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, p)


#: Samples read from ffmpeg per block when streaming (10 s at 8 kHz, 160 kB).
STREAM_BLOCK_S = 10.0


def _precheck(p: Path) -> None:
    """The checks ``load`` makes before decoding (missing, folder, empty, cut WAV)."""
    if not p.exists():
        raise AudioError(p, "no such file")
    if p.is_dir():
        raise AudioError(p, "is a directory, not a recording")
    size = p.stat().st_size
    if size == 0:
        raise AudioError(p, "empty file (0 bytes)")
    with open(p, "rb") as f:
        head = f.read(12)
    _check_riff(p, head, size)


def stream(path: str | os.PathLike, sr: int = PHONE_SR, block_s: float = STREAM_BLOCK_S):
    """Decode ``path`` to mono float32 blocks of ``block_s`` seconds (the last one
    shorter), without holding the whole recording: what ``load`` returns, in pieces.

    Raises ``AudioError`` as ``load`` does; problems ffmpeg reports only at the end
    (a damaged stretch) are raised after the last block.
    """
    p = Path(path)
    _precheck(p)
    cmd = [ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(p), "-vn", "-map", "0:a:0",
           "-ac", "1", "-ar", str(int(sr)), "-c:a", "pcm_s16le", "-f", "s16le", "-"]
    # stderr goes to a file, not a pipe: a decoder that reports every bad frame (AMR
    # with comfort-noise frames: ~100 KB of messages for a 35 s call) fills a pipe's
    # 64 KB while we only read stdout, and ffmpeg and we then wait on each other forever
    errf = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf)
    n_bytes = 2 * max(1, int(block_s * sr))
    got = 0
    try:
        while True:
            buf = proc.stdout.read(n_bytes)
            if not buf:
                break
            buf = buf[: len(buf) - (len(buf) % 2)]
            got += len(buf)
            yield np.frombuffer(buf, dtype="<i2").astype(np.float32) / 32768.0
        proc.wait()
        errf.seek(0)
        err = errf.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        errf.close()
    if proc.returncode != 0 or got == 0:
        msg = err.decode("utf-8", "replace")
        if "matches no streams" in msg or "does not contain any stream" in msg:
            raise AudioError(p, "no audio stream in the file")
        why = _first_error_line(err)
        if got == 0 and proc.returncode == 0:
            raise AudioError(p, "no audio samples after decoding")
        if any(k in why.lower() for k in ("end of file", "moov atom not found")):
            raise AudioError(p, f"truncated recording ({why})")
        raise AudioError(p, f"not a recording ffmpeg can decode ({why})")
    if err.strip():
        raise AudioError(p, f"damaged or truncated audio ({_first_error_line(err)})")


def read_spans(path: str | os.PathLike, spans, sr: int = PHONE_SR) -> list[np.ndarray]:
    """The samples of each ``(start_s, end_s)`` span (sorted, not overlapping), in one
    streaming pass: a long recording's speech without the hours around it."""
    bounds = [(int(round(a * sr)), int(round(b * sr))) for a, b in spans]
    out = [[] for _ in bounds]
    pos = 0
    for block in stream(path, sr):
        end = pos + len(block)
        for k, (a, b) in enumerate(bounds):
            if a < end and b > pos:
                out[k].append(block[max(a, pos) - pos:min(b, end) - pos])
        pos = end
    return [np.concatenate(o) if o else np.zeros(0, np.float32) for o in out]
