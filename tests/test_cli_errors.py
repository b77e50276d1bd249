"""Bad input at the command line: one line on stderr naming the file, exit 2, no output."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

FX = Path(__file__).parent / "fixtures" / "formats"


def discover(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ivrkit.discovery.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["text.wav", "empty.wav", "truncated.wav", "missing.wav"])
def test_bad_call_exit_2_one_line_no_tree_written(name, tmp_path):
    out = tmp_path / "tree.json"
    r = discover("map", FX / name, "--out", out)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0]
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_one_bad_call_among_good_ones_writes_nothing(tmp_path):
    out = tmp_path / "tree.json"
    r = discover(FX / "mulaw8k.wav", FX / "text.wav", "--out", out)
    assert r.returncode == 2 and "text.wav" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_tree_of_another_schema_is_refused(tmp_path):
    bad = tmp_path / "old.json"
    bad.write_text(json.dumps({"directed": True, "multigraph": False,
                               "graph": {"schema": "someone-else/3"}, "nodes": [], "edges": []}))
    for args in (["export", bad], ["diff", bad, bad]):
        r = discover(*args)
        assert r.returncode == 2
        assert len(r.stderr.strip().splitlines()) == 1 and "old.json" in r.stderr


def test_tree_file_that_is_not_json(tmp_path):
    bad = tmp_path / "tree.json"
    bad.write_text("not json at all")
    r = discover("export", bad)
    assert r.returncode == 2 and "tree.json" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_usage_errors_exit_2():
    r = discover("export")
    assert r.returncode == 2 and r.stderr.startswith("discover: usage:")
    r = discover("export", "x.json", "--format", "pdf")
    assert r.returncode == 2


def test_missing_vosk_model_is_a_clear_error(tmp_path):
    r = discover("timeline", FX / "mulaw8k.wav", "--engine", "vosk", "--model", tmp_path / "no-model")
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "no-model" in r.stderr


@pytest.mark.slow
def test_picture_without_matplotlib_is_a_clear_error_before_any_work(tmp_path):
    # matplotlib is the optional `plot` extra: a machine without it gets one line,
    # exit 2, and no half-drawn file (the import is blocked, the CLI is the real one)
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from ivrkit.discovery.cli import main\n"
            "sys.exit(main(sys.argv[1:]))")
    svg = tmp_path / "t.svg"
    r = subprocess.run([sys.executable, "-c", code, "map", str(FX / "mulaw8k.wav"), "--diagram", str(svg)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "t.svg" in lines[0] and "matplotlib" in lines[0]
    assert list(tmp_path.iterdir()) == []
