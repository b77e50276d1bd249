"""Talk-off benchmark: false DTMF presses on real prompts and hold music.

Every Asterisk recorded prompt (en_US_f_Allison with its subfolders; ``en`` links
to the same files) and every music-on-hold
file goes through a G.711 mu-law round trip (ffmpeg) and through ivrkit's detector;
multimon-ng's DTMF decoder gets the same audio (22050 Hz s16 raw) for comparison.

``--codec CHANNEL`` then codes each file through a phone channel as the simulator
does (``recordings/simulate.py`` ``phone_roundtrip``: ``amrnb:0`` .. ``amrnb:7``,
``opus:8k``, ``gsm``, ``g723``, ``band``): talk-off on AMR-coded speech and music.
Each set is then coded as one stream (its files in a row, 0.5 s of silence between
them: one encoder run instead of one per file); a false press is traced back to its
file. ``--dtmf-only`` skips the tone and speech/music figures.

Run:  python benchmarks/talkoff.py [--no-multimon] [--codec amrnb:0] [--dtmf-only]
Needs the Debian packages asterisk-core-sounds-en-wav, asterisk-moh-opsound-wav,
multimon-ng (optional).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ivrkit.audio.dtmf import detect_dtmf
from ivrkit.audio.io import ffmpeg_exe
from ivrkit.audio.segment import segment
from ivrkit.audio.tones import detect_tones

# sounds/en is a symlink to the same en_US_f_Allison set: listed once; subfolders
# (digits, letters, phonetic, silence, ...) included
SETS = {
    "prompts en_US_f_Allison": Path("/usr/share/asterisk/sounds/en_US_f_Allison"),
    "music on hold": Path("/usr/share/asterisk/moh"),
}


def mulaw_roundtrip(path: Path, sr: int = 8000) -> np.ndarray:
    """Decode, encode to mu-law at 8 kHz and decode again, as a phone line would."""
    enc = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(sr),
         "-c:a", "pcm_mulaw", "-f", "mulaw", "-"], capture_output=True, check=True).stdout
    dec = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-v", "error", "-f", "mulaw", "-ar", str(sr), "-ac", "1",
         "-i", "-", "-f", "s16le", "-"], input=enc, capture_output=True, check=True).stdout
    return np.frombuffer(dec, "<i2").astype(np.float32) / 32768.0


def multimon_presses(y: np.ndarray, sr: int = 8000) -> int:
    """Number of DTMF lines multimon-ng prints for ``y`` (it wants 22050 Hz raw s16)."""
    from scipy.signal import resample_poly

    y22 = resample_poly(y, 441, 160)
    raw = (np.clip(y22, -1, 1) * 32767).astype("<i2").tobytes()
    out = subprocess.run(["multimon-ng", "-q", "-t", "raw", "-a", "DTMF", "-"],
                         input=raw, capture_output=True).stdout.decode()
    return sum(1 for line in out.splitlines() if line.startswith("DTMF:"))


def phone_channel(name: str):
    """The simulator's phone-channel round trip for ``name`` (None: none)."""
    if not name:
        return lambda y: y
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recordings"))
    import simulate

    return lambda y: simulate.phone_roundtrip(y, name)


#: Silence between files when a set is coded as one stream (s).
STREAM_GAP_S = 0.5


def coded_stream(files, channel_name: str):
    """The set's mu-law files in a row through the phone channel; yields (file, audio)."""
    parts, names = [], []
    gap = np.zeros(int(STREAM_GAP_S * 8000), np.float32)
    for f in files:
        y = mulaw_roundtrip(f)
        if len(y):
            parts += [y, gap]
            names.append((f, len(y)))
    coded = phone_channel(channel_name)(np.concatenate(parts)) if parts else np.zeros(0, np.float32)
    at = 0
    for f, n in names:
        yield f, coded[at:at + n]
        at += n + len(gap)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-multimon", action="store_true")
    ap.add_argument("--codec", default=None, metavar="CHANNEL", help="phone channel after mu-law, e.g. amrnb:0")
    ap.add_argument("--dtmf-only", action="store_true", help="skip the tone and speech/music figures")
    args = ap.parse_args()
    if args.codec:
        print(f"phone channel: mu-law, then {args.codec}")
    use_mm = not args.no_multimon and shutil.which("multimon-ng") is not None
    total_files = total_s = total_false = total_mm = 0
    detect_s = 0.0
    print(f"{'set':28s} {'files':>6s} {'minutes':>8s} {'ivrkit false':>13s}"
          + (f" {'multimon-ng false':>18s}" if use_mm else "")
          + f" {'tones':>6s} {'speech s':>9s} {'music s':>8s}")
    for name, folder in SETS.items():
        files = sorted(folder.rglob("*.wav"))
        n_false = n_mm = n_tones = 0
        dur = speech_s = music_s = 0.0
        stream = coded_stream(files, args.codec) if args.codec else ((f, mulaw_roundtrip(f)) for f in files)
        for f, y in stream:
            if len(y) == 0:
                continue
            dur += len(y) / 8000
            t0 = time.perf_counter()
            presses = detect_dtmf(y, 8000)
            detect_s += time.perf_counter() - t0
            if presses:
                print(f"  false press in {f.name}: {[(p.key, p.start_s) for p in presses]}")
            n_false += len(presses)
            if use_mm:
                n_mm += multimon_presses(y)
            if args.dtmf_only:
                continue
            tones = detect_tones(y, 8000)
            if tones:
                print(f"  tone in {f.name}: {[(t.name, t.start_s) for t in tones]}")
            n_tones += len(tones)
            for r in segment(y, 8000):
                speech_s += r.duration_s if r.kind == "speech" else 0.0
                music_s += r.duration_s if r.kind == "music" else 0.0
        print(f"{name:28s} {len(files):6d} {dur / 60:8.1f} {n_false:13d}"
              + (f" {n_mm:18d}" if use_mm else "")
              + f" {n_tones:6d} {speech_s:9.1f} {music_s:8.1f}")
        total_files += len(files)
        total_s += dur
        total_false += n_false
        total_mm += n_mm
    print(f"{'total':28s} {total_files:6d} {total_s / 60:8.1f} {total_false:13d}"
          + (f" {total_mm:18d}" if use_mm else ""))
    print("tones: call-progress tones reported (beep.wav is a real beep); speech s / music s:"
          " seconds segment() labels speech / music (hold music must get no speech)")
    print(f"DTMF detector time {detect_s:.1f} s = {total_s / max(detect_s, 1e-9):.0f}x real time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
