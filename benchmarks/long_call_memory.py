"""Peak memory and time of `discover timeline` on long calls (mostly hold music),
side by side with an older checkout.

    python benchmarks/long_call_memory.py [--minutes 47 120] [--baseline /work/baseline]

Builds each call from the committed fixtures: ringback, a menu prompt, a key press,
then hold music with a "please hold" prompt every 3 minutes (mu-law WAV, 8 kHz), and
runs ``discover timeline CALL --json`` of this tree and of ``--baseline`` (its own
``.venv``) one after the other under ``/usr/bin/time -v``. Prints wall time, peak RSS
and whether both heard the same key presses and speech regions.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures" / "audio"
SR = 8000
sys.path.insert(0, str(ROOT / "recordings"))
import simulate as sim  # noqa: E402


def long_call(minutes: float, path: Path) -> None:
    from ivrkit.audio import load
    from ivrkit.audio.io import write_wav

    prompts, _ = load(FIX / "prompts_mulaw.wav")
    moh, _ = load(FIX / "moh_mulaw.wav")
    n = int(minutes * 60 * SR)
    y = np.zeros(n, np.float32)
    # sine amplitudes 0.05 (ringback) and 0.2 (the key) as RMS per component, no edge ramps
    ring = sim.tone(sim.RINGBACK["us"][0], 2.0, 20 * np.log10(0.05 / np.sqrt(2)), SR, ramp_s=0.0)
    y[:2 * SR], y[6 * SR:8 * SR] = ring, ring
    menu = prompts[:20 * SR]
    y[9 * SR:9 * SR + len(menu)] = menu
    key = sim.tone((697, 1209), 0.12, 20 * np.log10(0.2 / np.sqrt(2)), SR, ramp_s=0.0)  # "1"
    k0 = 9 * SR + len(menu) + SR
    y[k0:k0 + len(key)] = key
    pos, hold = k0 + 2 * SR, prompts[25 * SR:30 * SR]
    while pos < n:
        seg = np.tile(moh, 1 + (3 * 60 * SR) // len(moh))[:3 * 60 * SR]
        k = min(len(seg), n - pos)
        y[pos:pos + k] = 0.5 * seg[:k]
        pos += k
        k = min(len(hold), n - pos)
        y[pos:pos + k] = hold[:k]
        pos += k + SR // 2
    y += 0.002 * np.random.default_rng(0).standard_normal(n).astype(np.float32)
    write_wav(path, y, SR, codec="pcm_mulaw")


def run(discover: str, call: Path, cache_flag: bool) -> dict:
    cmd = ["/usr/bin/time", "-v", discover, "timeline", str(call), "--json"] + (["--no-cache"] if cache_flag else [])
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    wall = time.perf_counter() - t0
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    if p.returncode != 0:
        sys.exit(f"{discover} failed: {p.stderr[-500:]}")
    tl = json.loads(p.stdout)
    return {"wall_s": wall, "peak_mb": int(rss.group(1)) / 1024 if rss else None,
            "keys": [e["key"] for e in tl["events"] if e["type"] == "dtmf"],
            "speech": [(round(e["start"], 1), round(e["end"], 1)) for e in tl["events"] if e["type"] == "speech"],
            "text": " ".join(e.get("text", "") for e in tl["events"] if e["type"] == "speech")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[47, 120])
    ap.add_argument("--baseline", default="/work/baseline")
    a = ap.parse_args()
    new = str(Path(sys.executable).with_name("discover"))
    old = str(Path(a.baseline) / ".venv" / "bin" / "discover")
    with tempfile.TemporaryDirectory(prefix="ivrkit-long-") as d:
        for m in a.minutes:
            call = Path(d) / f"long-{m:g}min.wav"
            long_call(m, call)
            ro, rn = run(old, call, False), run(new, call, True)
            same = ro["keys"] == rn["keys"]
            n_o, n_n = len(ro["speech"]), len(rn["speech"])
            print(f"{m:5g} min: old {ro['wall_s']:6.1f} s {ro['peak_mb']:5.0f} MB | new {rn['wall_s']:6.1f} s "
                  f"{rn['peak_mb']:5.0f} MB | keys same: {same} | speech regions old {n_o}, new {n_n}, "
                  f"same spans: {ro['speech'] == rn['speech']}", flush=True)


if __name__ == "__main__":
    main()
