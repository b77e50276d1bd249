"""Bad input through the real command line (a subprocess): exit 2, exactly one stderr line
naming the user's path, nothing written or changed, and never exit 1.

Most cases fail before any analysis, so they run no speech recognition; the few that need
a real call use the short fixture calls (13-19 s) and are marked slow.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
FX = ROOT / "tests" / "fixtures"
GOOD = FX / "formats" / "mulaw8k.wav"
CONTOSO = FX / "calls" / "contoso"
FABRIKAM = FX / "calls" / "fabrikam"
TIMELINES = FX / "trees"
SEED = 14
FUZZ_CASES = 4  # per input kind: two cuts, two flips; each is a fresh subprocess (~1-3 s)


def discover(*args, cwd, env=None):
    r = subprocess.run([sys.executable, "-m", "ivrkit.discovery.cli", *map(str, args)],
                       capture_output=True, text=True, cwd=cwd, timeout=300, env=env)
    return r.returncode, r.stderr.strip().splitlines(), r.stdout


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(tmp_path, *args, names, env=None):
    """Run ``discover args`` in ``tmp_path``; assert exit 2, one stderr line naming
    ``names``, and the folder unchanged. Returns the stderr line."""
    before = snapshot(tmp_path)
    rc, err, _out = discover(*args, cwd=tmp_path, env=env)
    assert rc == 2, (args, err)
    assert len(err) == 1, err
    assert str(names) in err[0], (names, err)
    assert snapshot(tmp_path) == before
    return err[0]


def tone_call(path: Path, sr: int = 8000) -> Path:
    """A 3 s call with no voice in it: ringback, then a key press, then silence."""
    t = np.arange(int(1.0 * sr)) / sr
    ring = 0.2 * (np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 480 * t))
    tk = np.arange(int(0.1 * sr)) / sr
    key = 0.2 * (np.sin(2 * np.pi * 697 * tk) + np.sin(2 * np.pi * 1209 * tk))
    y = np.concatenate([ring, np.zeros(sr // 2), key, np.zeros(int(1.4 * sr))]).astype(np.float32)
    from ivrkit.audio.io import write_wav

    write_wav(path, y, sr)
    return path


def mp3_of(wav: Path, out: Path) -> Path:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(wav), "-b:a", "32k", str(out)],
                   check=True)
    return out


def tree_from_timelines(folder: Path, out: Path, **graph) -> Path:
    from ivrkit.trees import write_tree
    from ivrkit.discovery import map_timelines

    tls = [json.loads(p.read_text()) for p in sorted(folder.glob("*.timeline.json"))]
    G = map_timelines(tls)
    G.graph.update(graph)
    write_tree(G, out)
    return out


@pytest.fixture()
def nw_tree(tmp_path):
    return tree_from_timelines(TIMELINES / "northwind", tmp_path / "nw.json",
                               company="Northwind Telecom", number="1-800-555-0142")


# -- recordings that cannot be read: refused before any analysis ---------------------------

@pytest.mark.parametrize("make", [
    lambda d: (d / "text.wav").write_text("not audio") and d / "text.wav",
    lambda d: (d / "empty.wav").write_bytes(b"") or d / "empty.wav",
    lambda d: shutil.copy(FX / "formats" / "truncated.wav", d / "truncated.wav") and d / "truncated.wav",
    lambda d: d / "missing.wav",
    lambda d: (d / "calls.wav").mkdir() or d / "calls.wav",
], ids=["text", "empty", "truncated", "missing", "folder"])
def test_unreadable_recording(tmp_path, make):
    name = make(tmp_path).name
    refused(tmp_path, "map", name, "--out", "t.json", names=name)


def test_one_bad_recording_among_good_is_refused_before_the_good_is_analysed(tmp_path):
    (tmp_path / "bad.mp3").write_bytes(b"ID3" + bytes(200))
    line = refused(tmp_path, "map", GOOD, "bad.mp3", "--out", "t.json", names="bad.mp3")
    assert "decode" in line


# -- output paths: checked before any analysis -------------------------------------------

@pytest.mark.parametrize("flag,target,why", [
    ("--out", "outdir", "is a folder"),
    ("--out", "nofolder/t.json", "does not exist"),
    ("--out", "afile.txt/t.json", "is a file, not a folder"),
    ("--out", "/proc/t.json", "cannot write"),
    ("--out", "call.wav", "is one of the inputs"),
    ("--diagram", "/proc/t.svg", "cannot write"),
    ("--diagram", "t.docx", "unknown picture format"),
], ids=["out-folder", "out-no-folder", "out-parent-file", "out-proc", "out-is-input", "diagram-proc",
        "diagram-suffix"])
def test_output_path_checked_before_work(tmp_path, flag, target, why):
    (tmp_path / "outdir").mkdir()
    (tmp_path / "afile.txt").write_text("x")
    shutil.copy(GOOD, tmp_path / "call.wav")
    line = refused(tmp_path, "map", "call.wav", flag, target, names=target)
    assert why in line


@pytest.mark.parametrize("target,why", [("/proc/t.png", "cannot write"), ("t.mmd", "unknown picture format")])
def test_timeline_plot_path_checked_before_work(tmp_path, target, why):
    shutil.copy(GOOD, tmp_path / "call.wav")
    assert why in refused(tmp_path, "timeline", "call.wav", "--plot", target, names=target)


def test_plot_without_matplotlib_offers_no_mermaid(tmp_path):
    shutil.copy(GOOD, tmp_path / "call.wav")
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from ivrkit.discovery.cli import main\nsys.exit(main(sys.argv[1:]))")
    r = subprocess.run([sys.executable, "-c", code, "timeline", "call.wav", "--plot", "t.png"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "t.png" in r.stderr and "matplotlib" in r.stderr and ".mmd" not in r.stderr


# -- values: margins, waits -----------------------------------------------------------

@pytest.mark.parametrize("margin", ["-5", "1e9", "nan", "abc"])
def test_margin_validated(tmp_path, margin):
    shutil.copy(GOOD, tmp_path / "call.wav")
    assert "--margin" in refused(tmp_path, "map", "call.wav", "--margin", margin, names=margin)


@pytest.mark.parametrize("field,value", [("wait", -5.0), ("wait", 1e9), ("listen_after", "soon")])
def test_tree_with_impossible_waits_is_refused(tmp_path, nw_tree, field, value):
    d = json.loads(nw_tree.read_text())
    d["nodes"][0][field] = value
    nw_tree.write_text(json.dumps(d))
    assert field in refused(tmp_path, "export", nw_tree.name, names=nw_tree.name)


# -- no menu heard: no tree ----------------------------------------------------------

@pytest.mark.parametrize("kind", ["silence", "noise", "tones"])
def test_no_tree_from_calls_without_a_menu(tmp_path, kind):
    from ivrkit.audio.io import write_wav

    rng = np.random.default_rng(SEED)
    path = tmp_path / f"{kind}.wav"
    if kind == "tones":
        tone_call(path)
    else:
        y = np.zeros(8000 * 5) if kind == "silence" else 0.05 * rng.standard_normal(8000 * 5)
        write_wav(path, y.astype(np.float32), 8000)
    assert "no IVR menu heard" in refused(tmp_path, "map", path.name, "--out", "t.json", names=path.name)


# -- whose tree is it -----------------------------------------------------------------

@pytest.mark.parametrize("flag,value,why", [("--company", "Contoso Gas", "'Northwind Telecom'"),
                                            ("--number", "1-800-555-0101", "1-800-555-0142")])
def test_into_another_companys_tree_is_refused_before_work(tmp_path, nw_tree, flag, value, why):
    shutil.copy(GOOD, tmp_path / "call.wav")
    line = refused(tmp_path, "map", "call.wav", "--into", "nw.json", flag, value, names="nw.json")
    assert why in line and "--force" in line


def test_diff_of_two_companies_is_refused_unless_forced(tmp_path):
    shutil.copy(CONTOSO / "tree.json", tmp_path / "contoso.json")
    shutil.copy(FABRIKAM / "tree.json", tmp_path / "fabrikam.json")
    line = refused(tmp_path, "diff", "contoso.json", "fabrikam.json", names="contoso.json vs fabrikam.json")
    assert "'Contoso Gas', 'Fabrikam Bank'" in line
    rc, err, out = discover("diff", "contoso.json", "fabrikam.json", "--force", cwd=tmp_path)
    assert rc == 0 and out


def test_diff_of_one_company_across_a_menu_change_is_not_refused(tmp_path):
    old = tree_from_timelines(TIMELINES / "northwind", tmp_path / "v1.json", company="Northwind Telecom")
    new = tree_from_timelines(TIMELINES / "northwind-v2", tmp_path / "v2.json", company="Northwind Telecom")
    rc, err, out = discover("diff", old.name, new.name, cwd=tmp_path)
    assert rc == 0 and err == [] and out.strip()


# -- export: number, unverified, removals ----------------------------------------------

def test_export_without_a_number_refused_unless_given(tmp_path):
    tree = tree_from_timelines(TIMELINES / "northwind", tmp_path / "nonum.json", company="Northwind Telecom")
    assert "--number" in refused(tmp_path, "export", tree.name, names=tree.name)
    rc, err, out = discover("export", tree.name, "--number", "1-800-555-0142", cwd=tmp_path)
    assert rc == 0 and all(line.startswith("1-800-555-0142 → ") for line in out.splitlines())


def test_unverified_options_marked_in_every_format(tmp_path, nw_tree):
    entries = json.loads(discover("export", nw_tree.name, "--format", "json", cwd=tmp_path)[2])
    unver = [e for e in entries if e["verified"] is False]
    assert unver and len(unver) < len(entries)
    rc, err, plain = discover("export", nw_tree.name, cwd=tmp_path)
    assert rc == 0 and len(plain.splitlines()) == len(entries) - len(unver)
    assert len(err) == 1 and "--include-unverified" in err[0]
    rc, err, flagged = discover("export", nw_tree.name, "--include-unverified", cwd=tmp_path)
    assert len(flagged.splitlines()) == len(entries)
    assert sum("unverified" in line for line in flagged.splitlines()) == len(unver)
    rc, err, dial = discover("export", nw_tree.name, "--format", "dial", "--include-unverified", cwd=tmp_path)
    assert sum("unverified" in line for line in dial.splitlines()) == len(unver)
    rc, err, csv_text = discover("export", nw_tree.name, "--format", "csv", cwd=tmp_path)
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert [r["verified"] for r in rows].count("false") == len(unver)


def test_export_since_lists_removals(tmp_path):
    meta = {"company": "Northwind Telecom", "number": "1-800-555-0142"}
    old = tree_from_timelines(TIMELINES / "northwind", tmp_path / "v1.json", **meta)
    new = tree_from_timelines(TIMELINES / "northwind-v2", tmp_path / "v2.json", **meta)
    entries = json.loads(discover("export", new.name, "--since", old.name, "--format", "json", cwd=tmp_path)[2])
    removed = [e for e in entries if e.get("removed")]
    assert removed and all(e["removed"] is True for e in removed)
    rc, err, text = discover("export", new.name, "--since", old.name, "--include-unverified", cwd=tmp_path)
    assert sum(line.startswith("- ") for line in text.splitlines()) == len(removed)


# -- help ------------------------------------------------------------------------

def test_every_flag_described_with_its_default(tmp_path):
    rc, err, top = discover("--help", cwd=tmp_path)
    assert "discover CALL..." in top
    for cmd in ("map", "timeline", "export", "diff"):
        rc, err, text = discover(cmd, "--help", cwd=tmp_path)
        assert rc == 0
        opts = text.split("options:", 1)[1]
        # every option line ("  --flag ...") is followed by words, on its line or the next
        blocks = [b for b in opts.split("\n  -") if b.strip()]
        for b in blocks:
            words = " ".join(b.split()[1:])
            assert len(words) > 10, (cmd, b)
    rc, err, text = discover("map", "--help", cwd=tmp_path)
    assert "faster-whisper" in text and "Vosk model folder" in text
    assert "(default: 0.5 s)" in " ".join(text.split())
    rc, err, text = discover("map", "--help", cwd=tmp_path)
    assert "discover CALL...".replace(" ", "") in "".join(text.split())


# -- random damage: truncations and byte flips ------------------------------------------

def _mutations(data: bytes, rng, n: int):
    for i in range(n):
        if i % 2 == 0:
            cut = int(rng.integers(1, max(2, len(data) - 1)))
            yield f"cut{cut}", data[:cut]
        else:
            b = bytearray(data)
            for at in rng.integers(0, min(len(b), 400), size=3):  # headers live at the start
                b[at] ^= int(rng.integers(1, 256))
            yield f"flip{i}", bytes(b)


@pytest.mark.parametrize("kind", ["wav", "mp3"])
def test_damaged_recordings(tmp_path, kind):
    work = tmp_path / "src"
    work.mkdir()
    src = tone_call(work / "call.wav")
    if kind == "mp3":
        src = mp3_of(src, work / "call.mp3")
    rng = np.random.default_rng(SEED)
    for tag, data in _mutations(src.read_bytes(), rng, FUZZ_CASES):
        case = tmp_path / tag
        case.mkdir()
        name = f"damaged.{kind}"
        (case / name).write_bytes(data)
        # decodable damage still holds no menu: refused either way, never exit 1
        refused(case, "map", name, "--out", "t.json", names=name)


def test_damaged_tree_files(tmp_path, nw_tree):
    data = nw_tree.read_bytes()
    rng = np.random.default_rng(SEED)
    for i, (tag, mutated) in enumerate(_mutations(data, rng, FUZZ_CASES + 2)):
        case = tmp_path / tag
        case.mkdir()
        (case / "tree.json").write_bytes(mutated)
        for args in (["export", "tree.json"], ["diff", "tree.json", "tree.json"])[: 1 + (i < 2)]:
            before = snapshot(case)
            rc, err, _out = discover(*args, cwd=case)
            assert rc in (0, 2), (tag, args, err)
            if rc == 2:
                assert len(err) == 1 and "tree.json" in err[0], (tag, err)
            assert snapshot(case) == before


# -- cases that need a call analysed (speech recognition on short fixture calls) ---------

@pytest.fixture()
def contoso_base(tmp_path):
    """Contoso's tree with no calls in it yet (the simulator's truth tree)."""
    shutil.copy(CONTOSO / "tree.json", tmp_path / "contoso.json")
    return tmp_path / "contoso.json"


@pytest.mark.slow
def test_another_companys_greeting_is_refused_then_forced(tmp_path, contoso_base):
    shutil.copy(FABRIKAM / "call02.wav", tmp_path / "fab.wav")
    line = refused(tmp_path, "map", "fab.wav", "--into", "contoso.json", names="contoso.json")
    assert "greeting similarity" in line and "--force" in line
    rc, err, out = discover("map", "fab.wav", "--into", "contoso.json", "--force", cwd=tmp_path)
    assert rc == 0, err
    g = json.loads(contoso_base.read_text())["graph"]
    assert g["company"] == "Contoso Gas"
    assert [s for s in g["sources"] if "forced" in s and "greeting similarity" in s["forced"]]


@pytest.mark.slow
def test_skip_bad_and_duplicates_said_once_written_with_umask(tmp_path, contoso_base):
    shutil.copy(CONTOSO / "call02.wav", tmp_path / "a.wav")
    shutil.copy(CONTOSO / "call02.wav", tmp_path / "copy-of-a.wav")
    (tmp_path / "bad.wav").write_text("not audio")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    code = ("import os, sys; os.umask(0o022)\n"
            "from ivrkit.discovery.cli import main\nsys.exit(main(sys.argv[1:]))")
    r = subprocess.run([sys.executable, "-c", code, "map", "a.wav", "copy-of-a.wav", "a.wav", "bad.wav",
                        "--skip-bad", "--into", "contoso.json", "--out", "new.json"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    err = r.stderr.strip().splitlines()
    assert sum("bad.wav" in line for line in err) == 1
    assert sum("copy-of-a.wav" in line and "analysed once" in line for line in err) == 1
    assert sum(line.startswith("discover: a.wav: given twice") for line in err) == 1
    g = json.loads((tmp_path / "new.json").read_text())["graph"]
    assert len(g["sources"]) == 1
    assert (tmp_path / "new.json").stat().st_mode & 0o777 == 0o644
    assert json.loads(contoso_base.read_text())["graph"]["sources"] == []  # --out: base untouched


@pytest.mark.slow
def test_two_concurrent_merges_into_one_tree_lose_nothing(tmp_path, contoso_base):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, "-m", "ivrkit.discovery.cli", "map", str(CONTOSO / c),
                               "--into", "contoso.json"], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in ("call01.wav", "call02.wav")]
    results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    assert all(rc == 0 for _o, _e, rc in results), results
    from ivrkit.audio.io import sha256

    got = {s["sha256"] for s in json.loads(contoso_base.read_text())["graph"]["sources"]}
    assert got == {sha256(CONTOSO / "call01.wav"), sha256(CONTOSO / "call02.wav")}
