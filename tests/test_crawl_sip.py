"""``discover crawl`` / ``recrawl`` end to end on loopback: the crawler registers with a
real SIP registrar/proxy (Debian's kamailio, started here on 127.0.0.1) and calls the
test IVR (recordings/ivr_server.py) registered behind it, which serves a tiny spec.
Skipped when kamailio or flite (the spec's voice) is missing."""
import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "recordings"))
import ivr_server  # noqa: E402

from ivrkit.discovery import sip  # noqa: E402
from ivrkit.discovery.cli import main  # noqa: E402
from ivrkit.trees import read_tree  # noqa: E402

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not ivr_server.Registrar.available(), reason="kamailio not installed"),
              pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed")]
NUMBER = "15550100"
IVR_PW, CRAWLER_PW = "ivr-secret-1", "crawler-secret-2"
TINY = ROOT / "recordings" / "crawl-tiny" / "spec.json"
TINY_V2 = ROOT / "recordings" / "crawl-tiny-v2" / "spec.json"


@pytest.fixture(scope="module")
def line(tmp_path_factory):
    run = tmp_path_factory.mktemp("sip")
    with ivr_server.Registrar({NUMBER: IVR_PW, "crawler": CRAWLER_PW}, run / "kamailio") as reg:
        srv = ivr_server.IvrServer(TINY, sip.SipTarget(NUMBER, "127.0.0.1", reg.port), IVR_PW)
        with srv:
            yield reg, srv


def _crawl(reg, calls, out, *extra, cmd="crawl", target=NUMBER):
    return main([cmd, target, "--sip", f"sip:crawler@127.0.0.1:{reg.port}", "--calls", str(calls),
                 *(["--out", str(out)] if out else []), "--pause-s", "0", "--max-call-s", "40", *extra])


def test_crawl_maps_the_menu_resumes_and_recrawl_finds_the_change(line, tmp_path, monkeypatch, capsys):
    reg, srv = line
    monkeypatch.setenv("IVRKIT_SIP_PASSWORD", CRAWLER_PW)
    calls, tree = tmp_path / "calls", tmp_path / "tree.json"
    n0 = len(srv.calls)
    # a crawl stopped after 2 calls, resumed: nothing lost, nothing called twice
    assert _crawl(reg, calls, tree, "--max-calls", "2") == 0
    assert _crawl(reg, calls, tree, "--max-calls", "2") == 2  # refuses to mix crawls without --resume
    assert _crawl(reg, calls, tree, "--resume", "--max-calls", "6") == 0
    G = read_tree(tree)
    ours = srv.calls[n0:]
    why = json.dumps({"ivr": ours, "crawl": json.loads((calls / "crawl.json").read_text())})
    kinds = {tuple(d["path"]): d["kind"] for _, d in G.nodes(data=True)}
    assert kinds == {(): "menu", ("1",): "agent", ("2",): "info"}, why
    assert len(ours) == 3, why  # menus + leaves: the root, then each option once
    assert [v["path"] for v in ours[0]["visits"]] == [[]]
    assert sorted(tuple(c["visits"][-1]["path"]) for c in ours[1:]) == [("1",), ("2",)]
    # no key in the greeting that ignores keys; hung up within 5 s of the hold music
    assert all(k["accepted"] for c in ours for k in c["keys"]), why
    agent = next(c for c in ours if c["music"])
    assert agent["end"] - agent["music"][0]["start"] < 5.0, why
    state = json.loads((calls / "crawl.json").read_text())
    assert [c["outcome"] for c in state["calls"] if c["target"] == ["1"]] == ["music"], why  # heard it, not silence
    files = sorted(p.name for p in calls.iterdir())
    assert {"call01.wav", "call02.wav", "call03.wav", "call02.keys.json", "crawl.json"} <= set(files)
    assert json.loads((calls / "call02.keys.json").read_text())[0]["method"] == "inband"
    assert (calls / "caller" / "call02.wav").exists()
    for p in calls.rglob("*"):  # the password is never written
        assert not p.is_file() or CRAWLER_PW.encode() not in p.read_bytes()
    capsys.readouterr()
    assert _crawl(reg, calls, tree, "--dry-run") == 0
    assert "nothing left to enter" in capsys.readouterr().out

    # the recordings alone reproduce the tree offline
    assert main(["map", *map(str, sorted(calls.glob("call*.wav"))), "--out", str(tmp_path / "offline.json")]) == 0
    off = read_tree(tmp_path / "offline.json")
    assert {tuple(d["path"]): d["kind"] for _, d in off.nodes(data=True)} == kinds

    # the company adds an option: recrawl confirms the root (RFC 4733 keys) and finds it
    srv.swap_spec(TINY_V2)
    n1 = len(srv.calls)
    capsys.readouterr()
    assert _crawl(reg, tmp_path / "re", None, "--dtmf", "rfc4733", cmd="recrawl", target=str(tree)) == 0
    text = capsys.readouterr().out
    assert "+ added      root: 3" in text, text
    assert "changed entries:\n15550100 → 3\n" in text, text  # the new option, nothing spurious
    re_calls = srv.calls[n1:]
    assert len(re_calls) == 2  # the root once, the new option once
    assert [k["method"] for c in re_calls for k in c["keys"]] == ["rfc4733"]
    new = read_tree(tmp_path / "re" / "tree.json")
    assert {tuple(d["path"]) for _, d in new.nodes(data=True)} >= {(), ("1",), ("2",), ("3",)}
