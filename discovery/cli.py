"""The ``discover`` command line (the contract's public interface).

The only module that prints. Errors a user can fix (bad recording, bad tree file,
missing model) are one line on stderr naming the file, exit code 2, and no output
file written; anything else is exit code 1.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
COMMANDS = ("map", "timeline", "export", "diff", "batch")


class UsageError(Exception):
    """A problem the user can fix; str() is the one line shown."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints usage + exits 2; keep it to one line
        raise UsageError(f"usage: {message} (see `{self.prog} --help`)")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="discover", description="Map IVR phone menus from call recordings.")
    sub = p.add_subparsers(dest="cmd", parser_class=_Parser)

    m = sub.add_parser("map", help="analyse calls of one company and merge them into a menu tree")
    m.add_argument("calls", nargs="+", metavar="CALL")
    m.add_argument("--company", default=None)
    m.add_argument("--number", default=None)
    m.add_argument("--out", metavar="TREE.json")
    m.add_argument("--into", metavar="TREE.json", help="merge into this existing tree (written back unless --out)")
    m.add_argument("--engine", choices=("auto", "whisper", "vosk"), default="auto")
    m.add_argument("--model", metavar="PATH", help="Vosk model folder")
    m.add_argument("--diagram", metavar="TREE.svg|TREE.mmd", help="also draw the tree (SVG, or Mermaid text for .mmd/.md)")
    m.add_argument("--margin", type=float, default=None, metavar="S", help="safety margin added to each wait (s)")
    _add_cache_flags(m)

    t = sub.add_parser("timeline", help="show one call's analysis")
    t.add_argument("call", metavar="CALL")
    t.add_argument("--json", action="store_true", help="print the timeline JSON")
    t.add_argument("--engine", choices=("auto", "whisper", "vosk"), default="auto")
    t.add_argument("--model", metavar="PATH")
    t.add_argument("--plot", metavar="OUT.png", help="draw waveform, spectrogram and events")
    _add_cache_flags(t)

    e = sub.add_parser("export", help="directory entries from trees")
    e.add_argument("trees", nargs="+", metavar="TREE.json")
    e.add_argument("--format", choices=("directory", "json", "csv", "dial"), default="directory")
    e.add_argument("--since", metavar="OLD.json", help="only entries that changed since this tree")

    d = sub.add_parser("diff", help="compare two trees of the same company")
    d.add_argument("old", metavar="OLD.json")
    d.add_argument("new", metavar="NEW.json")
    d.add_argument("--json", action="store_true")
    d.add_argument("--diagram", metavar="DIFF.svg|DIFF.mmd")

    b = sub.add_parser("batch", help="map every company folder of a directory (trees + one directory export)")
    b.add_argument("dir", metavar="DIR", help="one folder per company: its calls and company.json")
    w = b.add_mutually_exclusive_group()
    w.add_argument("--jobs", type=int, default=1, metavar="N", help="local worker processes (default 1)")
    w.add_argument("--scheduler", metavar="tcp://HOST:8786", help="run the companies on this Dask scheduler")
    b.add_argument("--out", metavar="DIR", default=None, help="output folder (default: DIR-trees beside DIR)")
    b.add_argument("--since", metavar="OLD_DIR", help="a previous batch's output: export only what changed, "
                                                      "and write SLUG.diff.json for changed menus")
    b.add_argument("--engine", choices=("auto", "whisper", "vosk"), default="auto")
    b.add_argument("--model", metavar="PATH")
    _add_cache_flags(b)
    return p


def _add_cache_flags(p) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--cache", metavar="DIR", default=None,
                   help="folder of cached call analyses (default: $XDG_CACHE_HOME/ivrkit or ~/.cache/ivrkit)")
    g.add_argument("--no-cache", action="store_true", help="analyse every call afresh; read and write no cache")


# -- helpers ---------------------------------------------------------------------

def _cache(args):
    """The analysis cache the flags ask for (None with --no-cache)."""
    from .cache import AnalysisCache

    if getattr(args, "no_cache", False):
        return None
    if args.cache is not None and Path(args.cache).exists() and not Path(args.cache).is_dir():
        raise UsageError(f"{args.cache}: --cache needs a folder, this is a file")
    return AnalysisCache(args.cache)


def _atomic_write_text(path: str | os.PathLike, text: str) -> None:
    p = Path(path)
    tmp = p.with_name(f".{p.name}.part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, p)


def _check_out_dir(path: str | None) -> None:
    if path and not Path(path).resolve().parent.is_dir():
        raise UsageError(f"{path}: folder does not exist")


def _engine(args):
    from .asr import EngineError, make_engine

    try:
        return make_engine(args.engine, args.model)
    except EngineError as exc:
        raise UsageError(str(exc)) from None


def _read_tree(path: str):
    from ivrkit.trees.io import TreeSchemaError, read_tree

    p = Path(path)
    if not p.exists():
        raise UsageError(f"{path}: no such file")
    try:
        return read_tree(p)
    except TreeSchemaError as exc:
        raise UsageError(f"{path}: {exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not a JSON tree file ({exc.__class__.__name__}: {exc})") from None


def _analyse_calls(paths, engine, console, cache=None):
    """Analyse every call first (so a bad file fails before anything is written)."""
    from ivrkit.audio import AudioError

    from .pipeline import analyse_calls
    from .progress import CallProgress

    for c in paths:  # fail fast on missing files, before minutes of work
        if not Path(c).exists():
            raise UsageError(f"{c}: no such file")
    with CallProgress(len(paths)) as prog:
        def stage(f, st):
            if prog.current != Path(f).name:
                prog.start_call(Path(f).name)
            prog.stage(st)
        try:
            timelines = analyse_calls(paths, engine, cache=cache, on_stage=stage)
        except AudioError as exc:
            raise UsageError(str(exc)) from None
        for tl in timelines:
            prog.done_call(tl["duration"])
    return timelines


#: Diagram names written as Mermaid text (anything else is drawn as SVG).
MERMAID_SUFFIXES = (".mmd", ".md", ".mermaid")


def _need_matplotlib(path: str | None, mermaid_ok: bool = False) -> None:
    """Pictures need the optional `plot` extra; say so before any work is done.
    ``mermaid_ok``: a diagram named as Mermaid text needs no drawing."""
    if path is None or (mermaid_ok and path.endswith(MERMAID_SUFFIXES)):
        return
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError(f"{path}: drawing needs matplotlib (pip install 'ivrkit[plot]'), "
                         "or ask for Mermaid text with a .mmd name") from None


def _write_diagram(path: str, svg_fn, mermaid_fn) -> None:
    if path.endswith(MERMAID_SUFFIXES):
        _atomic_write_text(path, mermaid_fn())
    else:
        svg_fn(path)


# -- commands --------------------------------------------------------------------

def cmd_map(args, out, err) -> int:
    from ivrkit.trees.io import write_tree
    from ivrkit.trees.render import render_tree
    from ivrkit.trees.waits import explain_listen

    from .pipeline import map_timelines
    from .progress import summary_line

    for p in (args.out, args.diagram):
        _check_out_dir(p)
    _need_matplotlib(args.diagram, mermaid_ok=True)
    base = _read_tree(args.into) if args.into else None
    engine = _engine(args)
    t0 = time.perf_counter()
    timelines = _analyse_calls(args.calls, engine, err, cache=_cache(args))
    G = map_timelines(timelines, company=args.company, number=args.number, into=base, margin_s=args.margin)
    out.write(render_tree(G) + "\n")
    if "root" in G:
        # the root's wait is the figure people question: say what it rests on
        out.write("\n" + explain_listen(G, "root") + "\n")
    target = args.out or args.into
    if target:
        write_tree(G, target)
    if args.diagram:
        from ivrkit.trees.diagram import tree_to_mermaid, tree_to_svg

        _write_diagram(args.diagram, lambda p: tree_to_svg(G, p), lambda: tree_to_mermaid(G))
    audio_s = sum(t["duration"] for t in timelines)
    if err.isatty():
        err.write(summary_line(len(timelines), audio_s, time.perf_counter() - t0) + "\n")
    return EXIT_OK


def _format_timeline(tl: dict) -> str:
    lines = [f"{tl['file']}  {tl['duration']:.1f} s  answered at {tl['answer']:.2f} s  "
             f"greeting from {tl['greeting_onset'] if tl['greeting_onset'] is not None else '-'} s"]
    if tl.get("stop_latency") is not None:
        lines.append(f"prompt stops {tl['stop_latency']:.2f} s after an accepted key (measured)")
    lines.append("")
    for ev in tl["events"]:
        span = f"{ev['start']:7.2f}-{ev['end']:7.2f}"
        if ev["type"] == "speech":
            lines.append(f"{span}  speech   {ev['text']}")
        elif ev["type"] == "dtmf":
            verdict = "accepted" if ev["accepted"] else "ignored"
            lines.append(f"{span}  key {ev['key']}    {verdict}  ({ev['level_db']:.0f} dBFS)")
        elif ev["type"] == "tone":
            lines.append(f"{span}  tone     {ev['name']}")
        elif ev["type"] == "music":
            lines.append(f"{span}  music")
    lines.append("")
    lines.append("nodes visited:")
    for m in tl["menus"]:
        path = "/".join(m["path"]) or "root"
        la = f"listens from {m['listen_after']:.1f} s" if m["listen_after"] is not None else "listen start unknown"
        extra = f"  entry {m['entry']}" if m.get("entry") else ""
        keyed = f"  keyed {m['keyed']}" if m.get("keyed") else ""
        lines.append(f"  {path:<8} {m['kind']:<7} at {m['start']:.2f} s, {la}{extra}{keyed}")
        for o in m["options"]:
            role = "" if o["role"] == "option" else f" ({o['role']})"
            lines.append(f"           {o['key']}  {o['label']}{role}")
    return "\n".join(lines)


def cmd_timeline(args, out, err) -> int:
    _check_out_dir(args.plot)
    _need_matplotlib(args.plot)
    engine = _engine(args)
    (tl,) = _analyse_calls([args.call], engine, err, cache=_cache(args))
    if args.plot:
        from ivrkit.audio import load

        from .plot import plot_timeline

        y, sr = load(args.call)
        plot_timeline(y, sr, tl, args.plot)
    if args.json:
        out.write(json.dumps(tl, indent=2, ensure_ascii=False) + "\n")
    else:
        out.write(_format_timeline(tl) + "\n")
    return EXIT_OK


def cmd_export(args, out, err) -> int:
    from ivrkit.trees.export import entries_since, export_entries, format_csv, format_dial, format_directory

    entries = []
    for t in args.trees:
        entries.extend(export_entries(_read_tree(t)))
    if args.since:
        entries = entries_since(entries, export_entries(_read_tree(args.since)))
    if args.format == "json":
        out.write(json.dumps(entries, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "csv":
        out.write(format_csv(entries))
    elif args.format == "dial":
        out.write(format_dial(entries))
    else:
        out.write(format_directory(entries))
    return EXIT_OK


def cmd_diff(args, out, err) -> int:
    from ivrkit.trees.diff import diff_trees, format_diff

    _check_out_dir(args.diagram)
    _need_matplotlib(args.diagram, mermaid_ok=True)
    old, new = _read_tree(args.old), _read_tree(args.new)
    d = diff_trees(old, new)
    if args.json:
        out.write(json.dumps(d, indent=2, ensure_ascii=False) + "\n")
    else:
        out.write(format_diff(d) + "\n")
    if args.diagram:
        from ivrkit.trees.diagram import diff_to_mermaid, diff_to_svg

        _write_diagram(args.diagram, lambda p: diff_to_svg(old, new, d, p), lambda: diff_to_mermaid(old, new, d))
    return EXIT_OK


def _batch_inputs(args):
    """Everything the batch reads, checked before any work: companies, --since trees."""
    from .batch import BatchError, read_batch, read_since

    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: needs 1 or more")
    out = Path(args.out) if args.out else Path(args.dir).resolve().parent / f"{Path(args.dir).resolve().name}-trees"
    if not out.resolve().parent.is_dir():
        raise UsageError(f"{out}: folder does not exist")
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: --out needs a folder, this is a file")
    try:
        jobs = read_batch(args.dir)
        since = read_since(args.since, jobs) if args.since else None
    except BatchError as exc:
        raise UsageError(str(exc)) from None
    if args.scheduler:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise UsageError(f"--scheduler {args.scheduler}: needs Dask: pip install 'ivrkit[cluster]'") from None
    return jobs, since, out


def cmd_batch(args, out, err) -> int:
    from ivrkit.audio import AudioError

    from .batch import run_batch, write_batch
    from .progress import CallProgress, summary_line

    jobs, since, out_dir = _batch_inputs(args)
    cache = _cache(args)
    if args.engine != "auto" or args.model:
        _engine(args)  # a missing model is found here, not in every worker
    client = None
    if args.scheduler:
        from .batch import connect

        try:
            client = connect(args.scheduler)
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"{args.scheduler}: cannot reach the Dask scheduler ({exc})") from None
    t0 = time.perf_counter()
    with CallProgress(len(jobs), stream=err, stages=(), unit="companies") as prog:
        def done(r):
            prog.start_call(r["slug"])
            prog.done_call(r["audio_s"])
        try:
            results = run_batch(jobs, n_jobs=args.jobs, scheduler=client, engine=args.engine,
                                model=args.model, cache_dir=str(cache.directory) if cache else None,
                                use_cache=cache is not None, on_done=done)
        except AudioError as exc:
            raise UsageError(str(exc)) from None
        finally:
            if client is not None:
                client.close()
    summary = write_batch(results, out_dir, since=since)
    changed = set(summary["changed"])
    for r in results:
        n = len([n for n in r["tree"]["nodes"] if n["id"] != "root"])
        mark = "  changed" if r["slug"] in changed else ""
        out.write(f"{r['slug']}.json  {r['calls']} call{'s' if r['calls'] != 1 else ''}, {n} nodes{mark}\n")
    what = "changed entries" if since is not None else "entries"
    out.write(f"{out_dir / 'directory.json'}, directory.csv: {summary['entries']} {what}\n")
    if err.isatty():
        err.write(summary_line(sum(r["calls"] for r in results), sum(r["audio_s"] for r in results),
                               time.perf_counter() - t0) + "\n")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in COMMANDS and argv[0] not in ("-h", "--help"):
        argv = ["map", *argv]  # `discover CALL...` is `discover map CALL...`
    out, err = sys.stdout, sys.stderr
    try:
        args = _parser().parse_args(argv)
        if args.cmd is None:
            _parser().print_help(out)
            return EXIT_USAGE
        return {"map": cmd_map, "timeline": cmd_timeline, "export": cmd_export, "diff": cmd_diff,
                "batch": cmd_batch}[args.cmd](args, out, err)
    except UsageError as exc:
        err.write(f"discover: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.write("discover: interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # an unexpected failure is a bug: say so, exit 1
        err.write(f"discover: unexpected error: {exc.__class__.__name__}: {exc}\n")
        if os.environ.get("IVRKIT_DEBUG"):
            raise
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
