"""The analysis cache: keyed by recording + pipeline + engine; corrupt entries rewritten."""
import json
import shutil
from pathlib import Path

import pytest

from ivrkit.discovery import analyse_call, cli
from ivrkit.discovery.asr import WhisperEngine
from ivrkit.discovery.cache import AnalysisCache, engine_identity, pipeline_version

CONTOSO = Path(__file__).resolve().parent / "fixtures" / "calls" / "contoso"


@pytest.fixture(scope="module")
def engine():
    return WhisperEngine()


def _stages(path, engine, cache):
    seen = []
    tl = analyse_call(path, engine, on_stage=seen.append, cache=cache)
    return tl, seen


def test_second_analysis_is_read_from_the_cache(tmp_path, engine):
    cache = AnalysisCache(tmp_path / "c")
    first, seen1 = _stages(CONTOSO / "call01.wav", engine, cache)
    second, seen2 = _stages(CONTOSO / "call01.wav", engine, cache)
    assert "transcribe" in seen1 and seen2 == ["cache"]
    assert second == first
    assert any(e["type"] == "speech" and e.get("text") for e in second["events"])
    # the same bytes under another name: read from the cache, named as given
    other = tmp_path / "renamed.wav"
    shutil.copy(CONTOSO / "call01.wav", other)
    third, seen3 = _stages(other, engine, cache)
    assert seen3 == ["cache"] and third["file"] == "renamed.wav"
    assert third["events"] == first["events"]


def test_corrupt_entry_is_ignored_and_rewritten(tmp_path, engine):
    cache = AnalysisCache(tmp_path)
    good = analyse_call(CONTOSO / "call02.wav", engine, cache=cache)
    (entry,) = [p for p in tmp_path.rglob("*.json")]
    entry.write_text('{"cache": "ivrkit.cache/1", "timeline": ', encoding="utf-8")  # cut short
    again, seen = _stages(CONTOSO / "call02.wav", engine, cache)
    assert "transcribe" in seen and again == good
    assert json.loads(entry.read_text(encoding="utf-8"))["timeline"] == good
    assert not [p for p in tmp_path.rglob("*.part")]  # no temp file left behind


def test_key_changes_with_file_engine_settings_and_pipeline(tmp_path, engine, monkeypatch):
    cache = AnalysisCache(tmp_path)
    a, b = CONTOSO / "call01.wav", CONTOSO / "call02.wav"
    k = cache.key(a, engine)
    assert k == cache.key(a, WhisperEngine())          # same model, same settings
    assert k != cache.key(b, engine)                   # other recording
    assert k != cache.key(a, WhisperEngine(language="es"))
    assert k != cache.key(a, WhisperEngine(initial_prompt=None))
    ident = engine_identity(engine)
    assert ident["engine"].endswith("WhisperEngine") and len(ident["model"]) == 64
    sidecar = tmp_path / "call01.keys.json"             # keys beside the call change the input
    shutil.copy(a, tmp_path / "call01.wav")
    k_copy = cache.key(tmp_path / "call01.wav", engine)
    sidecar.write_text('[{"key": "2", "time": 3.0, "method": "rfc4733"}]')
    assert cache.key(tmp_path / "call01.wav", engine) != k_copy
    # a new ivrkit (other sources or version) never reads an old entry
    monkeypatch.setattr("ivrkit.discovery.cache.pipeline_version", lambda: "0" * 64)
    assert cache.key(a, engine) != k


def test_pipeline_version_covers_analysis_sources_only():
    v = pipeline_version()
    assert len(v) == 64 and v == pipeline_version()


def test_cli_no_cache_writes_nothing_and_cache_must_be_a_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    out = tmp_path / "t.json"
    assert cli.main(["map", str(CONTOSO / "call02.wav"), "--no-cache", "--out", str(out)]) == 0
    assert out.exists() and not (tmp_path / "xdg").exists()
    assert cli.main(["map", str(CONTOSO / "call02.wav")]) == 0   # default: the user's cache folder
    assert list((tmp_path / "xdg" / "ivrkit").rglob("*.json"))
    a_file = tmp_path / "file"
    a_file.write_text("x")
    capsys.readouterr()
    assert cli.main(["map", str(CONTOSO / "call02.wav"), "--cache", str(a_file)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(a_file) in err[0]
    assert cli.main(["map", str(CONTOSO / "call02.wav"), "--cache", str(tmp_path / "c")]) == 0
    assert list((tmp_path / "c").rglob("*.json"))


def test_a_grammar_edit_changes_the_pipeline_version(tmp_path, monkeypatch):
    """A new lexicon row changes what timelines read: cached ones must not be reused."""
    import shutil

    from ivrkit.discovery import cache as cache_mod

    root = tmp_path / "pkg"
    for folder in ("audio", "discovery"):
        shutil.copytree(cache_mod._PKG_ROOT / folder, root / folder)
    monkeypatch.setattr(cache_mod, "_PKG_ROOT", root)
    cache_mod.pipeline_version.cache_clear()
    before = cache_mod.pipeline_version()
    en = root / "discovery" / "grammars" / "en.toml"
    en.write_text(en.read_text() + '\n[[lexicon]]\nasr = "whisper"\nheard = "bill in"\nmeans = "billing"\n')
    cache_mod.pipeline_version.cache_clear()
    after = cache_mod.pipeline_version()
    cache_mod.pipeline_version.cache_clear()
    assert before != after
