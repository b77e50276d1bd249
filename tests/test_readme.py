"""The README's commands work as written: the quick start in a fresh clone, and every
`discover` line of the README is one the command line accepts."""
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def quick_start() -> list[str]:
    """The numbered commands of the Quick start's sh block."""
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def discover_lines() -> list[str]:
    """Every `discover ...` command in the README's sh blocks (continuations joined)."""
    out = []
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        for cmd in block.replace("\\\n", " ").splitlines():
            for part in cmd.split("&&"):
                part = part.split("  #")[0].strip()
                if part.startswith("discover "):
                    out.append(part)
    return out


def test_quick_start_commands_each_work_alone():
    one, two = quick_start()
    for cmd in (one, two):  # each makes (or reuses) the venv itself: works in a fresh clone
        assert cmd.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install -e ")
    deps = re.search(r"^dependencies = \[(.*?)^\]", (ROOT / "pyproject.toml").read_text(), re.S | re.M).group(1)
    # the tutorial draws pictures: command 1's plain install brings matplotlib
    assert re.search(r'^\s*"matplotlib', deps, re.M) or "[plot]" in one
    assert "pytest" in two and '".[test]"' in two


def test_every_readme_discover_line_parses():
    from ivrkit.discovery.cli import _parser

    lines = discover_lines()
    assert len(lines) >= 8
    for line in lines:
        argv = shlex.split(line)[1:]
        if argv[0] not in ("map", "timeline", "export", "diff", "-h", "--help"):
            argv = ["map", *argv]
        _parser().parse_args(argv)  # raises UsageError on a flag the CLI does not know


@pytest.mark.slow
def test_quick_start_maps_the_sample_company_in_a_fresh_clone(tmp_path):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    one = quick_start()[0]
    run = one.split("&& discover ", 1)[1]
    cli = f"{shlex.quote(sys.executable)} -m ivrkit.discovery.cli "
    r = subprocess.run(cli + run, shell=True, cwd=clone, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Northwind Telecom  1-800-555-0142\nroot  menu  wait ")
    assert "billing" in r.stdout and "technical support" in r.stdout
