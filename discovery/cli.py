"""The ``discover`` command line (the contract's public interface).

The only module that prints; the work is the library's (``discovery.pipeline``,
``ivrkit.trees``). Errors a user can fix (bad recording, bad tree file, an output path
that cannot be written, a tree of another company, missing model) are one line on
stderr naming the user's path, exit code 2, found before the analysis starts when they
can be, and no output file written; anything else is exit code 1.

Layout: one ``_add_<command>`` (its flags) and one ``cmd_<command>`` (its work) per
command, registered in ``COMMANDS``; checks shared by commands are the ``_check_*`` /
``_read_*`` helpers.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

#: A safety margin beyond this is not a margin: the caller would sit through the options
#: (the corpus's longest menu transition is ~2 s; waits target need + 1.5 s).
MAX_MARGIN_S = 10.0
#: Diagram names written as Mermaid text (anything else is drawn by matplotlib).
MERMAID_SUFFIXES = (".mmd", ".md", ".mermaid")
#: Picture formats matplotlib writes (``--plot``, ``--diagram``).
PICTURE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")
#: What the map printout's waits count from, and how export's differ (people compare them).
WAITS_NOTE = ("waits: seconds from the start of each node's prompt (root: from the greeting's onset); "
              "`discover export` counts the first from the answer, each next from the previous key")


class UsageError(Exception):
    """A problem the user can fix; str() is the one line shown."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints usage + exits 2; keep it to one line
        raise UsageError(f"usage: {message} (see `{self.prog} --help`)")


# -- flags -------------------------------------------------------------------------

def _margin(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.0 <= v <= MAX_MARGIN_S:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} is outside 0..{MAX_MARGIN_S:g} s")
    return v


def _jobs(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{v}: needs 1 or more")
    return v


def _add_engine(p) -> None:
    p.add_argument("--engine", choices=("auto", "whisper", "vosk"), default="auto",
                   help="speech recognizer: auto = Vosk when a Vosk model is given (--model) or "
                        "configured (VOSK_MODEL_PATH), else the bundled faster-whisper tiny.en "
                        "(default: %(default)s)")
    p.add_argument("--model", metavar="PATH",
                   help="a faster-whisper (CTranslate2) or Vosk model folder "
                        "(default: the bundled faster-whisper tiny.en)")


def _add_map(sub) -> None:
    from ivrkit.trees.waits import DEFAULT_MARGIN_S

    m = sub.add_parser("map", help="analyse calls of one company and merge them into a menu tree",
                       description="Analyse calls of one company and merge them into a menu tree. "
                                   "`discover CALL...` is the same as `discover map CALL...`.")
    m.add_argument("calls", nargs="+", metavar="CALL", help="recordings (any format ffmpeg reads)")
    m.add_argument("--company", help="company name written into the tree (default: the --into tree's, else none)")
    m.add_argument("--number", help="the phone number called (default: the --into tree's, else none)")
    m.add_argument("--out", metavar="TREE.json", help="write the tree JSON here (default: not written, "
                                                      "or back into --into)")
    m.add_argument("--into", metavar="TREE.json", help="merge into this existing tree (written back unless --out); "
                                                       "refused when it is another company's tree")
    m.add_argument("--force", action="store_true",
                   help="merge into --into even when company, number or greeting differ "
                        "(recorded in the tree's sources)")
    m.add_argument("--skip-bad", action="store_true",
                   help="map the recordings that decode, list the others on stderr (default: refuse all)")
    _add_engine(m)
    m.add_argument("--diagram", metavar="TREE.svg|TREE.mmd",
                   help="also draw the tree (SVG/PNG/PDF, or Mermaid text for .mmd/.md)")
    m.add_argument("--margin", type=_margin, default=None, metavar="S",
                   help=f"safety margin added to each wait, 0..{MAX_MARGIN_S:g} s "
                        f"(default: {DEFAULT_MARGIN_S} s)")
    m.add_argument("--lang", metavar="CODES", help="languages the menus may speak, BCP-47, e.g. en,es,ru "
                   "(default en; others need the multilingual extra or a multilingual --model)")
    m.add_argument("--keys", metavar="K@T,...", help="keys the caller sent, e.g. 2@12.31,1@20.40 (one call; "
                   "default: CALL.keys.json beside the call, if any)")
    m.add_argument("--jobs", type=_jobs, default=None, metavar="N",
                   help="calls analysed at once, threads sharing one model (default: the number of cores, "
                        "at most the calls to analyse); the tree is the same for any N")
    _add_cache_flags(m)


def _add_timeline(sub) -> None:
    t = sub.add_parser("timeline", help="show one call's analysis",
                       description="Show one call's analysis: events, presses accepted or ignored, nodes visited.")
    t.add_argument("call", metavar="CALL", help="one recording")
    t.add_argument("--json", action="store_true", help="print the timeline JSON instead of text")
    _add_engine(t)
    t.add_argument("--plot", metavar="OUT.png", help="draw waveform, spectrogram and events (PNG/SVG/PDF)")
    t.add_argument("--lang", metavar="CODES", help="languages the menu may speak, BCP-47, e.g. en,es,ru")
    t.add_argument("--keys", metavar="K@T,...", help="keys the caller sent, e.g. 2@12.31,1@20.40 "
                   "(default: CALL.keys.json beside the call, if any)")
    _add_cache_flags(t)


def _add_cache_flags(p) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--cache", metavar="DIR", default=None,
                   help="folder of cached call analyses (default: $XDG_CACHE_HOME/ivrkit or ~/.cache/ivrkit)")
    g.add_argument("--no-cache", action="store_true", help="analyse every call afresh; read and write no cache")


def _add_batch(sub) -> None:
    b = sub.add_parser("batch", help="map every company folder of a directory (trees + one directory export)",
                       description="Map every company folder of DIR (its calls and company.json) into "
                                   "OUT/SLUG.json, and export all of them to OUT/directory.json / .csv.")
    b.add_argument("dir", metavar="DIR", help="one folder per company: its calls and company.json")
    w = b.add_mutually_exclusive_group()
    w.add_argument("--jobs", type=int, default=1, metavar="N", help="local worker processes (default 1)")
    w.add_argument("--scheduler", metavar="tcp://HOST:8786", help="run the companies on this Dask scheduler")
    b.add_argument("--out", metavar="DIR", default=None, help="output folder (default: DIR-trees beside DIR)")
    b.add_argument("--since", metavar="OLD_DIR", help="a previous batch's output: export only what changed, "
                                                      "and write SLUG.diff.json for changed menus")
    _add_engine(b)
    _add_cache_flags(b)


def _add_export(sub) -> None:
    e = sub.add_parser("export", help="directory entries from trees",
                       description="Directory entries (keys and waits per service) from trees. "
                                   "Waits: the first from the answer of the call, each next from the previous key.")
    e.add_argument("trees", nargs="+", metavar="TREE.json")
    e.add_argument("--format", choices=("directory", "json", "csv", "dial"), default="directory",
                   help="directory lines, JSON list, CSV, or dial strings (default: %(default)s)")
    e.add_argument("--since", metavar="OLD.json",
                   help="only entries new or changed since this tree, and removed ones (marked)")
    e.add_argument("--include-unverified", action="store_true",
                   help="also list options never entered, flagged (directory/dial; JSON and CSV "
                        "always carry them with verified=false)")
    e.add_argument("--lang", metavar="CODE", help="only services in this language (BCP-47, e.g. es)")
    e.add_argument("--number", help="phone number for trees mapped without one (default: the tree's; "
                                    "a tree without a number is refused)")
    e.add_argument("--human", action="store_true",
                   help="one line per company: the fastest route to a person, with waits and hold")


def _add_diff(sub) -> None:
    d = sub.add_parser("diff", help="compare two trees of the same company",
                       description="Compare two trees of the same company (refused for different companies).")
    d.add_argument("old", metavar="OLD.json")
    d.add_argument("new", metavar="NEW.json")
    d.add_argument("--json", action="store_true", help="print the diff JSON instead of text")
    d.add_argument("--diagram", metavar="DIFF.svg|DIFF.mmd", help="draw the new tree with the changes marked")
    d.add_argument("--force", action="store_true", help="compare even when company, number or greeting differ")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="discover", description="Map IVR phone menus from call recordings. "
                                             "`discover CALL...` is the same as `discover map CALL...`.")
    sub = p.add_subparsers(dest="cmd", parser_class=_Parser, metavar="{" + ",".join(COMMANDS) + "}")
    for add, _cmd in COMMANDS.values():
        add(sub)
    return p


# -- checks done before any work ---------------------------------------------------

def _check_output(path: str | None, inputs=(), suffixes: tuple[str, ...] | None = None) -> None:
    """The output file can be written: a file name (not a folder) in an existing, writable
    folder, not one of the inputs, with a known suffix. Tried with a scratch file, which
    also catches read-only file systems and /proc."""
    if not path:
        return
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{path}: is a folder; give a file name")
    if suffixes and p.suffix.lower() not in suffixes:
        raise UsageError(f"{path}: unknown picture format {p.suffix or '(none)'!r} (use {', '.join(suffixes)})")
    if any(i and Path(i).exists() and p.exists() and p.samefile(i) for i in inputs):
        raise UsageError(f"{path}: is one of the inputs; writing it would destroy it")
    parent = p.resolve().parent
    if parent.is_file():
        raise UsageError(f"{path}: {p.parent} is a file, not a folder")
    if not parent.is_dir():
        raise UsageError(f"{path}: folder {p.parent} does not exist")
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise UsageError(f"{path}: cannot write in {parent} ({exc.strerror or exc})") from None


def _check_outputs(pairs, inputs=()) -> None:
    """``pairs``: (path, suffixes) per output flag; also refuses one file named twice."""
    named = [p for p, _s in pairs if p]
    if len({str(Path(p).resolve()) for p in named}) < len(named):
        raise UsageError(f"{named[-1]}: named twice as an output")
    for path, suffixes in pairs:
        _check_output(path, inputs, suffixes)


def _need_matplotlib(path: str | None, mermaid_ok: bool = False) -> None:
    """Pictures need matplotlib; say so before any work is done. ``mermaid_ok``: a
    diagram named as Mermaid text needs no drawing (and the hint offers it)."""
    if path is None or (mermaid_ok and path.endswith(MERMAID_SUFFIXES)):
        return
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        hint = ", or ask for Mermaid text with a .mmd name" if mermaid_ok else ""
        raise UsageError(f"{path}: drawing needs matplotlib (pip install 'ivrkit[plot]'){hint}") from None


def _cache(args):
    """The analysis cache the flags ask for (None with --no-cache)."""
    from .cache import AnalysisCache

    if getattr(args, "no_cache", False):
        return None
    if args.cache is not None and Path(args.cache).exists() and not Path(args.cache).is_dir():
        raise UsageError(f"{args.cache}: --cache needs a folder, this is a file")
    return AnalysisCache(args.cache)


def _engine(args):
    from .asr import EngineError, make_engine, parse_languages

    try:
        return make_engine(args.engine, args.model, languages=parse_languages(getattr(args, "lang", None)))
    except EngineError as exc:
        raise UsageError(str(exc)) from None


def _read_tree(path: str):
    from ivrkit.trees.io import TreeSchemaError, read_tree

    p = Path(path)
    if not p.exists():
        raise UsageError(f"{path}: no such file")
    if p.is_dir():
        raise UsageError(f"{path}: is a folder, not a tree file")
    try:
        return read_tree(p)
    except TreeSchemaError as exc:
        raise UsageError(f"{path}: {exc}") from None


def _refuse(path: str, reason: str | None, force: bool, what: str) -> None:
    if reason and not force:
        raise UsageError(f"{path}: {reason}; {what} refused (--force {what}s anyway)")


def _probe_calls(paths, skip_bad: bool, err, known=frozenset()):
    """The recordings to analyse: each decodable, each once, none already in the tree
    (``known``: sha256 digests of its sources). Bad ones refuse the run, or with
    ``skip_bad`` are listed and left out; repeats are said once each."""
    from .pipeline import probe_calls

    probed = probe_calls(paths)
    if probed.bad and not skip_bad:
        raise UsageError(str(probed.bad[0]))
    for exc in probed.bad:
        err.write(f"discover: skipped {exc}\n")
    for p, first in probed.duplicates:
        same = "given twice" if p == first else f"same recording as {first}"
        err.write(f"discover: {p}: {same}; analysed once\n")
    calls = [p for p in probed.good if probed.sha256[p] not in known]
    for p in probed.good:
        if probed.sha256[p] in known:
            err.write(f"discover: {p}: already in the tree; not counted again\n")
    if not probed.good:
        raise UsageError(f"{paths[0]}: no recording left to map" if len(paths) == 1
                         else f"{', '.join(map(str, paths))}: no recording left to map")
    return calls


# -- analysis ----------------------------------------------------------------------

def _listed_keys(paths, keys_option: str | None, given: int) -> list:
    """Each call's keys from ``--keys`` or its sidecar (None: none), checked before any
    analysis; ``given``: how many calls were named (``--keys`` is for one)."""
    from .keys import KeysError, parse_keys_option, read_sidecar

    try:
        if keys_option is not None:
            if given != 1:
                raise UsageError(f"--keys: gives the keys of one call, not {given}")
            return [parse_keys_option(keys_option)] * len(paths)
        for c in paths:  # checked now; the pipeline reads them again (and caches on them)
            read_sidecar(c)
        return [None] * len(paths)
    except KeysError as exc:
        raise UsageError(str(exc)) from None


def _analyse_calls(paths, engine, keys=None, cache=None, jobs=None):
    """``keys``: each call's keys from ``--keys`` (``_listed_keys``), None to read
    sidecars; ``cache`` an ``AnalysisCache`` or None; ``jobs`` calls at once (None:
    the cores)."""
    from ivrkit.audio import AudioError

    from .keys import KeysError
    from .pipeline import analyse_calls, one_malloc_arena
    from .progress import CallProgress

    if len(paths) > 1 and jobs != 1:
        one_malloc_arena()  # before the recognizer's threads start: peak memory (its doc)
    with CallProgress(len(paths)) as prog:
        def stage(f, st):
            if prog.current != Path(f).name:
                prog.start_call(Path(f).name)
            prog.stage(st)
        try:
            timelines = analyse_calls(paths, engine, cache=cache, on_stage=stage, keys=keys, jobs=jobs)
        except (AudioError, KeysError) as exc:
            raise UsageError(str(exc)) from None
        for tl in timelines:
            prog.done_call(tl["duration"])
    return timelines


def _with_menus(paths, timelines, skip_bad: bool, err):
    """The timelines that heard an IVR menu; none heard refuses the run (exit 2), and
    calls that heard none are refused, or left out with ``skip_bad``."""
    from .pipeline import menu_heard

    empty = [p for p, tl in zip(paths, timelines) if not menu_heard(tl)]
    if empty and (not skip_bad or len(empty) == len(paths)):
        raise UsageError(f"{', '.join(map(str, empty))}: no IVR menu heard in "
                         f"{'this call' if len(empty) == 1 else 'these calls'} (silence, music or noise only); "
                         "no tree made")
    for p in empty:
        err.write(f"discover: skipped {p}: no IVR menu heard\n")
    return [tl for tl in timelines if menu_heard(tl)]


# -- output ------------------------------------------------------------------------

def _write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` under a temporary name and rename it (no half-written file)."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.part")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_diagram(path: str, svg_fn, mermaid_fn) -> None:
    if path.endswith(MERMAID_SUFFIXES):
        _write_text(path, mermaid_fn())
    else:
        svg_fn(path)


def _print_tree(G, out) -> None:
    from ivrkit.trees.render import render_tree
    from ivrkit.trees.waits import explain_listen

    out.write(render_tree(G, display_order=out.isatty()) + "\n")
    if "root" in G:
        # the root's wait is the figure people question: say what it rests on
        out.write("\n" + explain_listen(G, "root") + "\n")
    out.write(WAITS_NOTE + "\n")


# -- commands ----------------------------------------------------------------------

def _map_checks(args):
    """Everything ``map`` can refuse before analysing: outputs, the --into tree, inputs."""
    inputs = [*args.calls, args.into]
    _check_outputs([(args.out, None), (args.into if not args.out else None, None),
                    (args.diagram, PICTURE_SUFFIXES + MERMAID_SUFFIXES if args.diagram else None)], inputs[:-1])
    _need_matplotlib(args.diagram, mermaid_ok=True)
    if args.into is None:
        return None
    from .pipeline import ownership_conflict

    base = _read_tree(args.into)
    _refuse(args.into, ownership_conflict(base, args.company, args.number), args.force, "merge")
    return base


def _merge(args, timelines, base):
    """The tree: merged under the --into file's lock from its latest state, else new."""
    from ivrkit.trees.io import TreeSchemaError, write_tree

    from .pipeline import TreeOwnershipError, map_timelines, merge_into, ownership_conflict, root_prompts

    if base is None:
        G = map_timelines(timelines, company=args.company, number=args.number, margin_s=args.margin)
        if args.out:
            write_tree(G, args.out)
        return G
    # the greeting is known only now: refuse before taking the lock when it does not match
    _refuse(args.into, ownership_conflict(base, args.company, args.number, root_prompts(timelines)),
            args.force, "merge")
    try:
        return merge_into(args.into, timelines, out=args.out, company=args.company, number=args.number,
                          margin_s=args.margin, force=args.force)
    except TreeOwnershipError as exc:
        raise UsageError(f"{args.into}: {exc}; merge refused (--force merges anyway)") from None
    except TreeSchemaError as exc:
        raise UsageError(f"{args.into}: {exc} (changed while the calls were analysed)") from None


def _warn_partial_hours(G, err) -> None:
    """One line per node whose hours leave out days its prompt named: the tree's
    string says less than the company did (a misheard "Sunday through Thursday")."""
    for n, d in G.nodes(data=True):
        if d.get("hours_unpaired_days"):
            err.write(f"discover: warning: {n}: hours {d['hours']!r} may be incomplete: the prompt also named "
                      f"{', '.join(d['hours_unpaired_days'])} with no hours heard ({len(d.get('hours_evidence') or [])} call(s))\n")


def cmd_map(args, out, err) -> int:
    from .progress import summary_line

    base = _map_checks(args)
    known = {s.get("sha256") for s in (base.graph.get("sources") or [])} - {None} if base is not None else set()
    if args.keys is not None:
        _listed_keys(args.calls, args.keys, len(args.calls))
    calls = _probe_calls(args.calls, args.skip_bad, err, known)
    if not calls:  # every call is already in the --into tree
        _print_tree(base, out)
        return EXIT_OK
    keys = _listed_keys(calls, args.keys, len(args.calls))
    engine = _engine(args)
    t0 = time.perf_counter()
    timelines = _with_menus(calls, _analyse_calls(calls, engine, keys, _cache(args), args.jobs), args.skip_bad, err)
    G = _merge(args, timelines, base)
    _print_tree(G, out)
    _warn_partial_hours(G, err)
    if args.diagram:
        from ivrkit.trees.diagram import tree_to_mermaid, tree_to_svg

        _write_diagram(args.diagram, lambda p: tree_to_svg(G, p), lambda: tree_to_mermaid(G))
    if err.isatty():
        audio_s = sum(t["duration"] for t in timelines)
        err.write(summary_line(len(timelines), audio_s, time.perf_counter() - t0) + "\n")
    return EXIT_OK


def cmd_timeline(args, out, err) -> int:
    from ivrkit.trees.render import render_timeline

    _check_outputs([(args.plot, PICTURE_SUFFIXES)], [args.call])
    _need_matplotlib(args.plot)
    calls = _probe_calls([args.call], False, err)
    keys = _listed_keys(calls, args.keys, 1)
    engine = _engine(args)
    (tl,) = _analyse_calls(calls, engine, keys, _cache(args))
    if args.plot:
        from ivrkit.audio import load

        from .plot import plot_timeline

        y, sr = load(args.call)
        plot_timeline(y, sr, tl, args.plot)
    if args.json:
        out.write(json.dumps(tl, indent=2, ensure_ascii=False) + "\n")
    else:
        out.write(render_timeline(tl) + "\n")
    return EXIT_OK


def _export_entries(args, err) -> list[dict]:
    from ivrkit.trees.export import entries_since, export_entries

    trees = [(t, _read_tree(t)) for t in args.trees]
    old = _read_tree(args.since) if args.since else None
    for t, G in trees + ([(args.since, old)] if old is not None else []):
        if not G.graph.get("number") and not args.number:
            raise UsageError(f"{t}: the tree has no phone number; give export --number NUMBER "
                             "(or map it with --number)")
    entries = [e for _t, G in trees for e in export_entries(G, number=args.number)]
    if old is not None:
        entries = entries_since(entries, export_entries(old, number=args.number))
    if args.lang:
        from ivrkit.trees.export import select_lang

        entries = select_lang(entries, args.lang)
    return entries


def cmd_export(args, out, err) -> int:
    from ivrkit.trees.export import format_csv, format_dial, format_directory, verified_only

    entries = _export_entries(args, err)
    if args.human:
        from ivrkit.trees.export import format_human

        out.write(format_human(entries))
        return EXIT_OK
    if args.format == "json":
        out.write(json.dumps(entries, indent=2, ensure_ascii=False) + "\n")
        return EXIT_OK
    if args.format == "csv":
        out.write(format_csv(entries))
        return EXIT_OK
    shown, left_out = verified_only(entries, args.include_unverified)
    out.write(format_dial(shown) if args.format == "dial" else format_directory(shown))
    if left_out:
        err.write(f"discover: {left_out} option(s) never entered left out (--include-unverified lists them, flagged)\n")
    return EXIT_OK


def cmd_diff(args, out, err) -> int:
    from ivrkit.trees.diff import diff_trees, format_diff

    from .pipeline import trees_conflict

    _check_outputs([(args.diagram, PICTURE_SUFFIXES + MERMAID_SUFFIXES if args.diagram else None)],
                   [args.old, args.new])
    _need_matplotlib(args.diagram, mermaid_ok=True)
    old, new = _read_tree(args.old), _read_tree(args.new)
    _refuse(f"{args.old} vs {args.new}", trees_conflict(old, new), args.force, "diff")
    d = diff_trees(old, new)
    if args.json:
        out.write(json.dumps(d, indent=2, ensure_ascii=False) + "\n")
    else:
        out.write(format_diff(d) + "\n")
    if args.diagram:
        from ivrkit.trees.diagram import diff_to_mermaid, diff_to_svg

        _write_diagram(args.diagram, lambda p: diff_to_svg(old, new, d, p), lambda: diff_to_mermaid(old, new, d))
    return EXIT_OK


# -- crawl and recrawl: place the calls over SIP ----------------------------------

def _add_sip_flags(x, out_required: bool) -> None:
    """The flags ``crawl`` and ``recrawl`` share: the SIP account, where calls go, limits."""
    x.add_argument("--sip", required=True, metavar="sip:USER@HOST[:PORT]", help="the caller's SIP account")
    x.add_argument("--calls", required=True, metavar="DIR", help="folder for the calls (kept)")
    x.add_argument("--out", required=out_required, metavar="TREE.json", help="tree written after every call")
    x.add_argument("--max-calls", type=int, default=40, metavar="N", help="stop after N calls (default: %(default)s)")
    x.add_argument("--max-call-s", type=float, default=90.0, metavar="S", help="hang up after S seconds (default: %(default)s)")
    x.add_argument("--pause-s", type=float, default=2.0, metavar="S", help="pause between calls (default: %(default)s s)")
    x.add_argument("--lines", type=int, default=1, metavar="N", help="calls at once (default: %(default)s)")
    x.add_argument("--dtmf", choices=("inband", "rfc4733"), default="inband", help="how keys are sent (default: %(default)s)")
    _add_engine(x)


def _add_crawl(sub) -> None:
    """``crawl``: place the calls over SIP (password: IVRKIT_SIP_PASSWORD)."""
    c = sub.add_parser("crawl", help="call a number over SIP and map its menu, one option per call")
    c.add_argument("number", metavar="NUMBER")
    _add_sip_flags(c, out_required=True)
    c.add_argument("--company", help="company name written into the tree (default: none)")
    c.add_argument("--entry", action="append", default=[], metavar="ID=DIGITS",
                   help="type DIGITS at the input prompt ID (node id like 1/2, or entry token like Tel#); "
                        "without it input prompts are leaves")
    c.add_argument("--resume", action="store_true", help="go on with the crawl already in --calls")
    c.add_argument("--dry-run", action="store_true", help="print the plan of the next call and stop")


def _add_recrawl(sub) -> None:
    r = sub.add_parser("recrawl", help="call once per known menu of a tree, then diff and export --since")
    r.add_argument("tree", metavar="TREE.json")
    _add_sip_flags(r, out_required=False)


def _crawl_setup(args, number: str):
    """Check the crawl's arguments before any call; returns (SipTarget, limits)."""
    from . import crawl, sip

    try:
        target = sip.parse_sip_uri(args.sip)
    except ValueError as exc:
        raise UsageError(f"--sip: {exc}") from None
    if Path(args.out).resolve().parent != Path(args.calls).resolve():  # --calls is made
        _check_output(args.out)
    if Path(args.calls).exists() and not Path(args.calls).is_dir():
        raise UsageError(f"{args.calls}: not a folder")
    state = crawl.load_state(Path(args.calls))
    if state["calls"] and not getattr(args, "resume", True) and not getattr(args, "dry_run", False):
        raise UsageError(f"{args.calls}: already holds {len(state['calls'])} calls of a crawl "
                         "(--resume to go on, or another folder)")
    if state.get("number") not in (None, number):
        raise UsageError(f"{args.calls}: holds a crawl of {state['number']}, not {number}")
    for name in ("max_calls", "lines"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')}: must be at least 1")
    limits = crawl.Limits(args.max_calls, args.max_call_s, args.pause_s, args.lines)
    return target, limits


def _sip_password() -> str:
    pw = os.environ.get("IVRKIT_SIP_PASSWORD")
    if pw is None:
        if not sys.stdin.isatty():
            raise UsageError("set IVRKIT_SIP_PASSWORD (the password is never read from the command line)")
        import getpass

        pw = getpass.getpass("SIP password: ")
    return pw


def _run_crawl(args, err, number: str, target, limits, tree_out: str, **kw):
    from . import crawl, sip

    engine = _engine(args)
    try:
        with sip.SipPhone(target, _sip_password()) as phone:
            return crawl.crawl(lambda: phone.dial(number, method=args.dtmf), args.calls, tree_out, number,
                               limits, engine=engine, on_event=lambda s: err.write(s + "\n"), **kw)
    except sip.SipError as exc:
        n = len(crawl.load_state(Path(args.calls))["calls"])
        err.write(f"discover: {exc}; {n} finished calls kept in {args.calls} (--resume goes on)\n")
        return None


def _entries(items) -> dict:
    out = {}
    for it in items:
        k, sep, v = it.partition("=")
        if not sep or not k or not v or any(c not in "0123456789*#" for c in v):
            raise UsageError(f"--entry {it!r}: expected ID=DIGITS (digits, * and # only)")
        out[k] = v
    return out


def cmd_crawl(args, out, err) -> int:
    from ivrkit.trees.render import render_tree

    from . import crawl

    target, limits = _crawl_setup(args, args.number)
    entries = _entries(args.entry)
    if args.dry_run:
        an = crawl.Analyst(Path(args.calls), args.number, args.company, None)
        for c in crawl.load_state(Path(args.calls))["calls"]:
            an.add(Path(args.calls) / c["file"])
        plans = crawl.next_plans(an.tree(), crawl.tried_counts(crawl.load_state(Path(args.calls))), 1,
                                 entries=entries)
        out.write((f"next call: {plans[0].describe()}" if plans else "nothing left to enter") + "\n")
        return EXIT_OK
    G = _run_crawl(args, err, args.number, target, limits, args.out, company=args.company,
                   entries=entries)
    if G is None:
        return EXIT_FAIL
    out.write(render_tree(G) + "\n")
    return EXIT_OK


def cmd_recrawl(args, out, err) -> int:
    from ivrkit.trees.diff import diff_trees, format_diff
    from ivrkit.trees.export import entries_since, export_entries, format_directory

    from . import crawl

    old = _read_tree(args.tree)
    number = old.graph.get("number") or ""
    if not number:
        raise UsageError(f"{args.tree}: the tree has no number to call")
    args.out = args.out or str(Path(args.calls) / "tree.json")
    target, limits = _crawl_setup(args, number)
    G = _run_crawl(args, err, number, target, limits, args.out, only=crawl.recrawl_targets(old), route_tree=old,
                   company=old.graph.get("company"))
    if G is None:
        return EXIT_FAIL
    G = _run_crawl(args, err, number, target, limits, args.out, company=old.graph.get("company"),
                   skip=crawl.known_options(old))
    if G is None:
        return EXIT_FAIL
    out.write(format_diff(diff_trees(old, G)) + "\n")
    olds = export_entries(old)
    since = entries_since(crawl.carry_leaves(export_entries(G), olds), olds)
    out.write("\nchanged entries:\n" + (format_directory(since) or "(none)\n"))
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
    if args.scheduler is None and args.jobs == 1:
        from .pipeline import one_malloc_arena

        one_malloc_arena()  # each company's calls are analysed a few at a time in this process
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


#: command -> (adds its flags, does its work)
COMMANDS = {"map": (_add_map, cmd_map), "timeline": (_add_timeline, cmd_timeline),
            "export": (_add_export, cmd_export), "diff": (_add_diff, cmd_diff)}
COMMANDS["crawl"] = (_add_crawl, cmd_crawl)
COMMANDS["recrawl"] = (_add_recrawl, cmd_recrawl)
COMMANDS["batch"] = (_add_batch, cmd_batch)


def _run(argv, out, err) -> int:
    if argv and argv[0] not in COMMANDS and argv[0] not in ("-h", "--help"):
        argv = ["map", *argv]  # `discover CALL...` is `discover map CALL...`
    args = _parser().parse_args(argv)
    if args.cmd is None:
        _parser().print_help(out)
        return EXIT_USAGE
    return COMMANDS[args.cmd][1](args, out, err)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    out, err = sys.stdout, sys.stderr
    try:
        return _run(argv, out, err)
    except UsageError as exc:
        err.write(f"discover: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.write("discover: interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # an unexpected failure is a bug: say so, exit 1
        if exc.__class__.__name__ == "Timeout" and exc.__class__.__module__.startswith("filelock"):
            err.write(f"discover: {exc} (another discover is merging into it)\n")
            return EXIT_USAGE
        err.write(f"discover: unexpected error: {exc.__class__.__name__}: {exc}\n")
        if os.environ.get("IVRKIT_DEBUG"):
            raise
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
