"""A company's calls analysed several at a time (``analyse_calls(jobs=N)``, ``discover map
--jobs N``): the same timelines as one at a time, one model, progress and cache as before."""
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ivrkit.audio import AudioError
from ivrkit.discovery.asr import WhisperEngine
from ivrkit.discovery.cache import AnalysisCache, engine_identity
from ivrkit.discovery.pipeline import analyse_calls, map_calls
from ivrkit.trees.io import tree_to_json

ROOT = Path(__file__).resolve().parents[1]
CALLS = ROOT / "tests" / "fixtures" / "calls"
FOUR = [CALLS / "contoso" / "call01.wav", CALLS / "contoso" / "call02.wav",
        CALLS / "fabrikam" / "call01.wav", CALLS / "fabrikam" / "call02.wav"]


def _same(a: dict, b: dict) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _words(tl: dict) -> list:
    return [w for e in tl["events"] for w in e.get("words") or []]


@pytest.fixture(scope="module")
def engine():
    return WhisperEngine()


@pytest.fixture(scope="module")
def serial(engine):
    return analyse_calls(FOUR, engine, jobs=1)


@pytest.mark.slow
def test_two_at_a_time_gives_the_serial_timelines(engine, serial):
    stages: dict[str, list[str]] = {}
    busy = threading.Lock()

    def on_stage(f, st):
        assert busy.acquire(blocking=False), "two progress callbacks at once"
        try:
            stages.setdefault(Path(f).name + Path(f).parent.name, []).append(st)
        finally:
            busy.release()

    threads = threading.enumerate()
    two = analyse_calls(FOUR, engine, jobs=2, on_stage=on_stage)
    assert all(_words(tl) for tl in serial)  # real calls, real words: a comparison that can fail
    assert [tl["file"] for tl in two] == [p.name for p in FOUR]
    assert all(_same(a, b) for a, b in zip(serial, two))
    # every call went through its stages in order, reported from the worker threads
    assert len(stages) == 4 and all(s == ["decode", "signal", "transcribe", "parse"] for s in stages.values())
    assert threading.enumerate() == threads  # the pool's threads are gone


@pytest.mark.slow
def test_one_model_with_a_worker_per_thread(engine):
    two = engine.with_workers(2)
    assert two.model.model.num_workers == 2
    assert engine.model.model.num_workers == 1
    assert two.model is engine.with_workers(2).model  # built once per process
    # how the work is scheduled is not what is heard: the cache key is the same
    assert engine_identity(two) == engine_identity(engine)


@pytest.mark.slow
def test_cache_filled_by_a_parallel_map_serves_a_serial_one(engine, serial, tmp_path):
    cache = AnalysisCache(tmp_path / "cache")
    first = analyse_calls(FOUR[:2], engine, cache=cache, jobs=2)
    seen = []
    again = analyse_calls(FOUR[:2], engine, cache=cache, jobs=1, on_stage=lambda f, st: seen.append(st))
    assert seen == ["cache", "cache"]
    assert all(_same(a, b) for a, b in zip(first, again))
    assert all(_same(a, b) for a, b in zip(serial[:2], first))


@pytest.mark.slow
def test_map_calls_takes_jobs(engine, serial):
    from ivrkit.discovery.pipeline import map_timelines

    G = map_calls(FOUR[:2], company="Contoso", engine=engine, jobs=2)
    ref = map_timelines(serial[:2], company="Contoso")
    assert tree_to_json(G)["nodes"] == tree_to_json(ref)["nodes"]


@pytest.mark.slow
def test_a_bad_call_among_good_ones_raises(engine, tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio at all")
    with pytest.raises(AudioError):
        analyse_calls([bad, FOUR[3]], engine, jobs=2)


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_cli_jobs_bad_values_exit_2_in_one_line(tmp_path, value):
    out = tmp_path / "tree.json"
    r = subprocess.run([sys.executable, "-m", "ivrkit.discovery.cli", "map", str(FOUR[0]), "--jobs", value,
                        "--out", str(out), "--no-cache"], capture_output=True, text=True, timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert "--jobs" in lines[0] and value in lines[0]
    assert not out.exists()
