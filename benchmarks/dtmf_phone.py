"""DTMF on calls recorded through phone channels: ivrkit vs spandsp vs multimon-ng.

    python recordings/simulate.py corpus --channel phone --out corpus-phone/
    python benchmarks/dtmf_phone.py --corpus corpus-phone/ [--jobs 2] [--misses] [--no-multimon]

Every call is decoded as ivrkit reads it (``ivrkit.audio.load``). ivrkit's presses
are the timeline's (``audio.analysis.analyse_sides``: a two-sided recording's keys
from both sides); the peers get the mono mix. Printed per codec family (AMR-NB, Opus, GSM-FR, G.723.1, band
limit) and in total: precision / recall (same key; ivrkit: onset within 60 ms; the
peers report a digit once confirmed, so theirs count between the tone's start and
0.25 s after its end), ivrkit's mean / max onset error, the peers' mean report
latency, and calls whose whole key sequence is exact.

Times are scored in file time: a mono call is written by the simulator straight into
its codec's file (``phone_encode``), so decoding it gives the tones the decoder's
delay later than the truth's send times (AMR-NB 5 ms, G.723.1 7.5 ms:
``simulate.CODEC_DELAY_S``); a two-sided call went through ``phone_roundtrip``, which
removes it. Truth is moved by that delay before scoring; "sent" is ivrkit's onset
error against the unmoved truth (the figure this benchmark printed before).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recordings"))
import multimon  # noqa: E402
import scoring  # noqa: E402
import spandsp  # noqa: E402


def _peer_window(p):
    return p["start"], p["end"] + 0.25


def decoder_lag_s(truth: dict) -> float:
    """How much later than the truth's send times the call's tones are in its decoded
    file (see the module docstring)."""
    from simulate import CODEC_DELAY_S

    if "phone" not in truth or truth.get("channels") != 1:
        return 0.0
    return CODEC_DELAY_S.get(truth["codec"].partition(":")[0], 0.0)


def in_file_time(presses: list[dict], lag_s: float) -> list[dict]:
    return [dict(p, start=p["start"] + lag_s, end=p["end"] + lag_s) for p in presses]


def run_call(args) -> dict:
    truth_path, use_multimon = args
    from ivrkit.audio import load
    from ivrkit.audio.analysis import analyse_sides

    truth = json.loads(Path(truth_path).read_text())
    y2, sr = load(Path(truth_path).parent / truth["file"], sr=8000, channels="split")
    found = {"ivrkit": [{"key": p.key, "start": p.start_s, "end": p.end_s}
                        for p in analyse_sides(y2, sr).presses]}
    y = y2.mean(axis=0)
    if spandsp.available():
        found["spandsp"] = spandsp.decode(y, sr)
    if use_multimon and multimon.available():
        found["multimon-ng"] = multimon.decode(y, sr)
    return {"truth": truth, "file": str(truth_path), "found": found}


def score(res: dict, name: str) -> dict:
    sent, found = res["truth"]["presses"], res["found"][name]
    truth = in_file_time(sent, decoder_lag_s(res["truth"]))
    if name == "ivrkit":
        pairs = scoring.match_presses(truth, found)
    else:
        pairs = scoring.match_presses(truth, found, window=_peer_window)
    errs = [found[j]["start"] - truth[i]["start"] for i, j in pairs]
    errs_sent = [found[j]["start"] - sent[i]["start"] for i, j in pairs]
    seq_ok = [p["key"] for p in truth] == [p["key"] for p in found]
    missed = [truth[i] for i in range(len(truth)) if i not in {a for a, _ in pairs}]
    extra = [found[j] for j in range(len(found)) if j not in {b for _, b in pairs}]
    return {"tp": len(pairs), "fn": len(truth) - len(pairs), "fp": len(found) - len(pairs),
            "errs": errs, "errs_sent": errs_sent, "seq_ok": int(seq_ok), "missed": missed, "extra": extra}


def family(res: dict) -> str:
    return res["truth"]["codec"].partition(":")[0] + (" stereo" if res["truth"].get("channels") == 2 else "")


def report(results: list[dict], show_misses: bool) -> None:
    names = [n for n in ("ivrkit", "spandsp", "multimon-ng") if all(n in r["found"] for r in results)]
    groups = defaultdict(list)
    for r in results:
        groups[r["truth"]["codec"].partition(":")[0]].append(r)
    groups["TOTAL"] = results
    width = {n: 36 if n == "ivrkit" else 30 for n in names}
    print(f"{'codec':<8} {'calls':>5} {'keys':>5} | " + " | ".join(f"{n:^{width[n]}}" for n in names))
    print(f"{'':<8} {'':>5} {'':>5} | " + " | ".join(
        f"{'P':>6} {'R':>6} {'ms':>5} {'max':>4} " + (f"{'sent':>5} " if n == "ivrkit" else "") + f"{'seq':>5}"
        for n in names))
    for g in sorted(groups, key=lambda k: (k == "TOTAL", k)):
        rs = groups[g]
        cells = []
        for n in names:
            s = [score(r, n) for r in rs]
            tp, fp, fn = (sum(x[k] for x in s) for k in ("tp", "fp", "fn"))
            errs = [abs(e) * 1000 for x in s for e in x["errs"]]
            m = prf = scoring.prf(tp, fp, fn)
            ms = sum(errs) / len(errs) if errs else float("nan")
            mx = max(errs) if errs else float("nan")
            sent = [abs(e) * 1000 for x in s for e in x["errs_sent"]]
            sent_ms = f"{sum(sent) / len(sent):5.1f} " if n == "ivrkit" and sent else ("" if n != "ivrkit" else "  nan ")
            cells.append(f"{m['precision']:6.3f} {prf['recall']:6.3f} {ms:5.1f} {mx:4.0f} {sent_ms}"
                         f"{sum(x['seq_ok'] for x in s):>2}/{len(s):<2}")
        nkeys = sum(len(r["truth"]["presses"]) for r in rs)
        print(f"{g:<8} {len(rs):>5} {nkeys:>5} | " + " | ".join(cells))
    print("P/R: precision / recall; ms / max: ivrkit |onset error|, the peers' report latency (file time); "
          "sent: ivrkit |onset error| against the send times; seq: calls whose key sequence is exact")
    if show_misses:
        for r in results:
            s = score(r, "ivrkit")
            for p in s["missed"]:
                print(f"  missed {Path(r['file']).parent.name}/{r['truth']['file']} {r['truth']['codec']} "
                      f"key {p['key']} at {p['start']:.3f} dur {p['end'] - p['start']:.3f} "
                      f"level {p['level_db']} twist {p['twist_db']} ferr {p['freq_error']}")
            for p in s["extra"]:
                print(f"  extra  {Path(r['file']).parent.name}/{r['truth']['file']} key {p['key']} at {p['start']:.3f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--misses", action="store_true", help="list ivrkit's missed and extra keys")
    ap.add_argument("--no-multimon", action="store_true")
    a = ap.parse_args(argv)
    tasks = [(str(p), not a.no_multimon) for p in sorted(a.corpus.rglob("*.truth.json"))]
    if not tasks:
        print(f"{a.corpus}: no *.truth.json calls", file=sys.stderr)
        return 2
    if a.jobs > 1:
        from multiprocessing import Pool

        with Pool(a.jobs) as pool:
            results = pool.map(run_call, tasks)
    else:
        results = [run_call(t) for t in tasks]
    report(results, a.misses)
    return 0


if __name__ == "__main__":
    sys.exit(main())
