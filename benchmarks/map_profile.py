"""Where the CPU of `discover map` goes, per company of the simulated corpus.

    python benchmarks/map_profile.py [--corpus /work/corpus] [--only COMPANY ...] [--json out.json]

Each company's calls go through ``pipeline.analyse_calls`` (what `discover map
--no-cache` runs, merging left out: milliseconds), one process, the model loaded
before the clock starts. Process CPU seconds (all threads, ``time.process_time``) are
counted around faster-whisper's encoder (``WhisperModel.encode``), its word alignment
(``add_word_timestamps``) and ``asr.decode_window`` as a whole; the decoder's share is
``decode_window`` minus those two (greedy generation, plus feature extraction: 0.01 s
a window). Everything outside ``decode_window`` is "rest" (decoding the files, the
signal analysis, resampling, building the timeline).

Per company it prints CPU-s per audio-s, the split, and the Whisper windows: packed
windows read first, windows read again one piece at a time (a packed window's decoder
lost a piece: ``asr.MIN_COVERAGE``), read-on passes from a window's last word
(``asr.MIN_CONTINUE_S``), and decoder runs that wrote more than
``10 + 6 tokens/s`` of window audio (a loop: "press 3. press 3. ..." to Whisper's 448
tokens).
"""
from __future__ import annotations

import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

#: A decoder run writing more tokens than this per second of window audio (plus the
#: base) was caught in a loop: menu speech comes out at 3-5 tokens/s on the corpus.
LOOP_TOKENS_PER_S, LOOP_TOKENS_BASE = 6.0, 10

FIELDS = ("audio_s", "cpu_s", "whisper_s", "encoder_s", "decoder_s", "align_s", "rest_s",
          "passes", "first", "alone", "read_on", "loops", "loop_s", "tokens")


class Counter:
    """Wraps faster-whisper's and ivrkit's Whisper calls with CPU counters (the same
    calls run; nothing is replaced)."""

    def __init__(self, model):
        from ivrkit.discovery import asr

        self.now = {k: 0 for k in FIELDS}
        m_cls = type(model)
        enc, align, decode = m_cls.encode, m_cls.add_word_timestamps, asr.decode_window
        tw = asr.WhisperEngine._transcribe_window

        def timed(fn, key):
            def run(*a, **k):
                t = time.process_time()
                try:
                    return fn(*a, **k)
                finally:
                    self.now[key] += time.process_time() - t
            return run

        m_cls.encode = timed(enc, "encoder_s")
        m_cls.add_word_timestamps = timed(align, "align_s")

        def decode_window(model, audio, language, prompt, *a, **k):
            t = time.process_time()
            segs = decode(model, audio, language, prompt, *a, **k)
            cpu = time.process_time() - t
            n = sum(len(s["tokens"]) for s in segs)
            self.now["whisper_s"] += cpu
            self.now["passes"] += 1
            self.now["tokens"] += n
            if n > LOOP_TOKENS_BASE + LOOP_TOKENS_PER_S * len(audio) / asr.WHISPER_SR:
                self.now["loops"] += 1
                self.now["loop_s"] += cpu
            return segs

        def transcribe_window(engine, y16, window):
            before = self.now["passes"]
            found = tw(engine, y16, window)
            self.now["read_on"] += self.now["passes"] - before - 1
            return found

        asr.decode_window = decode_window
        asr.WhisperEngine._transcribe_window = transcribe_window

    def reset(self) -> None:
        self.now = {k: 0 for k in FIELDS}


def profile_company(calls: list[str], engine, counter: Counter, reuse: bool = False) -> dict:
    from ivrkit.audio.io import wav_duration_s
    from ivrkit.discovery import asr, pipeline

    counter.reset()
    first = {"n": 0}
    pack = asr.pack_windows

    def packed(*a, **k):
        out = pack(*a, **k)
        first["n"] += len(out)
        return out

    asr.pack_windows = packed
    try:
        t = time.process_time()
        eng = pipeline.with_reuse(engine) if reuse else engine
        pipeline.analyse_calls(calls, engine=eng)
        cpu = time.process_time() - t
    finally:
        asr.pack_windows = pack
    r = dict(counter.now)
    r.update(audio_s=sum(wav_duration_s(c) for c in calls), cpu_s=cpu, first=first["n"])
    st = getattr(eng, "stats", None)
    r["reused"] = st["reused_s"] / max(1e-9, st["reused_s"] + st["decoded_s"]) if st else 0.0
    r["alone"] = r["passes"] - r["first"] - r["read_on"]
    r["decoder_s"] = r["whisper_s"] - r["encoder_s"] - r["align_s"]
    r["rest_s"] = cpu - r["whisper_s"]
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default="/work/corpus")
    ap.add_argument("--only", nargs="*", help="company folders")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--reuse", action="store_true",
                    help="with prompt reuse (discovery/reuse.py, experimental): also prints the share of speech reused")
    a = ap.parse_args()
    from ivrkit.discovery import asr

    comps = sorted(p.name for p in Path(a.corpus).iterdir() if p.is_dir() and any(p.glob("*.wav")))
    comps = [c for c in comps if not a.only or c in a.only]
    engine = asr.WhisperEngine()
    counter = Counter(engine.model)
    # scipy and the signal-analysis modules are imported once per process: not a company's cost
    profile_company(sorted(str(p) for p in (Path(a.corpus) / comps[0]).glob("*.wav"))[:1], engine, counter)
    print(f"{'company':20s} {'audio s':>7s} {'CPU/s':>6s} | {'Whisper':>7s} {'enc':>5s} {'dec':>5s} "
          f"{'align':>5s} {'rest':>5s} | {'passes':>6s} {'first':>5s} {'alone':>5s} {'readon':>6s} {'loops':>5s} "
          f"{'loop s':>6s} {'tokens':>6s}")
    rows = {}
    for c in comps:
        r = rows[c] = profile_company(sorted(str(p) for p in (Path(a.corpus) / c).glob("*.wav")), engine, counter,
                                      a.reuse)
        _row(c, r)
        if a.reuse:
            print(f"{'':20s} speech reused {r['reused']:.0%}")
    t = {k: sum(r[k] for r in rows.values()) for k in FIELDS}
    _row("TOTAL", t)
    print(f"shares of the CPU: Whisper {t['whisper_s'] / t['cpu_s']:.0%} (encoder {t['encoder_s'] / t['cpu_s']:.0%}, "
          f"decoder {t['decoder_s'] / t['cpu_s']:.0%}, alignment {t['align_s'] / t['cpu_s']:.0%}), "
          f"rest {t['rest_s'] / t['cpu_s']:.0%}; per Whisper pass {t['whisper_s'] / t['passes']:.2f} CPU-s "
          f"(encoder {t['encoder_s'] / t['passes']:.2f}); windows read again piece by piece "
          f"{t['alone']}/{t['passes']} passes, {t['alone'] * t['whisper_s'] / t['passes']:.0f} CPU-s")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))


def _row(name: str, r: dict) -> None:
    print(f"{name:20s} {r['audio_s']:7.1f} {r['cpu_s'] / r['audio_s']:6.4f} | {r['whisper_s']:7.1f} "
          f"{r['encoder_s']:5.1f} {r['decoder_s']:5.1f} {r['align_s']:5.1f} {r['rest_s']:5.1f} | {r['passes']:6d} "
          f"{r['first']:5d} {r['alone']:5d} {r['read_on']:6d} {r['loops']:5d} {r['loop_s']:6.1f} {r['tokens']:6d}",
          flush=True)


if __name__ == "__main__":
    main()
