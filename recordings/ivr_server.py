"""A SIP IVR on 127.0.0.1 that serves the simulator's company specs, to crawl against.

It registers with a SIP registrar (the tests' kamailio) as the spec's number and answers
each call as the simulator's platform would (``recordings/simulate.py``): the greeting
ignores keys (Asterisk ``Playback()``), menus take barge-in (``Background()``), a press
is followed by the platform's transition latency, a wrong key plays "that option is
invalid" and the menu again, a silence after the menu repeats it (then goodbye),
input prompts collect digits, agents play hold music, info leaves end with a busy
tone. Keys are heard in-band (``ivrkit.audio.dtmf.detect_dtmf`` on the caller's
audio) and as RFC 4733 events. ``swap_spec`` changes the menu for the next calls (what
``discover recrawl`` must find).

Every call's events (nodes visited, keys heard with their phase: ``ignored`` inside a
part that ignores keys, ``barge`` / ``after`` when taken, ``entry`` digits) are kept
in ``IvrServer.calls``: the truth the crawl benchmark scores against.

Command line (password from ``IVRKIT_IVR_PASSWORD``)::

    python recordings/ivr_server.py SPEC.json --registrar sip:NUMBER@127.0.0.1:5060 [--log calls.jsonl]
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import simulate as sim  # noqa: E402

from ivrkit.audio.dtmf import detect_dtmf  # noqa: E402
from ivrkit.discovery import sip  # noqa: E402

SR = sip.SR
FRAME = int(sip.FRAME_S * SR)
#: Audio written ahead of the wall clock: enough to keep rfcvoip's sender fed, short
#: enough that a barge-in stops the prompt within ~the platform's barge latency.
LEAD_S = 0.08
#: Seconds of silence after a menu before the platform repeats it (Asterisk's
#: WaitExten default is 5 s), and how many times before it says goodbye.
TIMEOUT_S = 5.0
MAX_REPEATS = 2
#: Seconds between digits of a data entry before the platform takes what it has.
INTERDIGIT_S = 3.0
#: Hold music plays at most this long before the platform hangs up (a test guard:
#: the crawler must hang up long before).
HOLD_MAX_S = 60.0
#: In-band detection window and step: a press is reported once it has ended.
DTMF_WINDOW_S = 0.6
DTMF_STEP_S = 0.04
#: A same-key tone starting within this long of the last press's end is that press
#: again. RTP over a loaded machine can lose two 20 ms packets inside the crawler's
#: 100 ms tone; the 40 ms hole is a Q.24 pause, so the detector rightly sees two
#: presses (the crawl test once logged the second as an ignored key). The crawler
#: starts a data entry's digits ``DIGIT_GAP_S`` (0.3 s) apart (discovery/crawl.py),
#: so no real repeat comes this soon.
SAME_PRESS_GAP_S = 0.10
INVALID = {"sound": "pm-invalid-option", "text": "That option is invalid.", "barge": False}
GOODBYE = {"sound": "goodbye", "text": "Goodbye.", "barge": False}


class InbandKeys:
    """In-band presses in audio fed a frame at a time: ``detect_dtmf`` on the last
    ``DTMF_WINDOW_S`` every ``DTMF_STEP_S``; each press is reported once, as soon as
    a window holds it."""

    def __init__(self):
        self._buf = np.zeros(0, np.float32)
        self._n_total = 0        # samples fed so far
        self._since = 0          # samples since the last detection
        self._last_end = -1.0    # end of the last press seen (seconds of the stream)
        self._last_key = ""

    def feed(self, y: np.ndarray) -> list[str]:
        """Add ``y`` (float, ``SR``); returns the keys of presses first seen now."""
        self._buf = np.concatenate([self._buf, y])[-int(DTMF_WINDOW_S * SR):]
        self._n_total += len(y)
        self._since += len(y)
        if self._since < DTMF_STEP_S * SR:
            return []
        self._since = 0
        off = (self._n_total - len(self._buf)) / SR
        new = []
        for p in detect_dtmf(self._buf, SR):
            start, end = off + p.start_s, off + p.end_s
            bridge = SAME_PRESS_GAP_S if p.key == self._last_key else 0.02
            if start > self._last_end + bridge:
                new.append(p.key)
                self._last_key = p.key
            self._last_end = max(self._last_end, end)
        return new


class KeyListener:
    """The caller's keys as ``(key, method, call_s)``: RFC 4733 events and in-band tones."""

    def __init__(self, vcall, t0: float):
        self._call, self._t0 = vcall, t0
        self.q: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        frame = self._call.audio_frame_size(20)
        inband = InbandKeys()
        while not self._stop.is_set():
            try:
                y = sip.from_pcm16(self._call.read_audio(frame, blocking=True))
            except Exception:
                break
            d = self._call.get_dtmf(1)
            if d:
                self.q.put((d, "rfc4733", time.monotonic() - self._t0))
            for key in inband.feed(y):
                self.q.put((key, "inband", time.monotonic() - self._t0))

    def stop(self) -> None:
        self._stop.set()


class IvrSession:
    """One answered call played against one spec (runs in its own thread)."""

    def __init__(self, vcall, spec: dict, audio: dict, rng: np.random.Generator, record: dict):
        self.call, self.spec, self.audio, self.rng, self.rec = vcall, spec, audio, rng, record
        self.plat = spec["platform"]
        self.t0 = time.monotonic()
        self.keys = KeyListener(vcall, self.t0)
        self._written = 0  # samples written since the answer

    # -- time and audio
    def now(self) -> float:
        return time.monotonic() - self.t0

    def alive(self) -> bool:
        from rfcvoip.VoIP import CallState

        return self.call.state == CallState.ANSWERED

    def _u(self, r) -> float:
        return float(self.rng.uniform(*r)) if isinstance(r, (list, tuple)) else float(r)

    def _log_key(self, key, method, t, node, accepted, phase) -> None:
        self.rec["keys"].append({"key": key, "method": method, "time": round(t, 3), "node": list(node),
                                 "accepted": accepted, "phase": phase})

    def play(self, y: np.ndarray, listening: bool, node: tuple, started: float | None = None):
        """Play ``y`` paced to the clock; returns ``(key, method, t)`` of a key taken
        (``listening``) — the rest of ``y`` is then cut — or None once it has played.
        Keys heard while not listening are logged as ignored."""
        i = 0
        while i < len(y) and self.alive():
            self.call.write_audio(sip.to_pcm16(y[i:i + FRAME]))
            i += FRAME
            self._written += FRAME
            while self._written / SR - self.now() > LEAD_S:
                time.sleep(0.005)
            while not self.keys.q.empty():
                k, m, t = self.keys.q.get()
                if listening:
                    return k, m, t
                self._log_key(k, m, t, node, False, "ignored")
        return None

    def silence(self, seconds: float, listening: bool, node: tuple):
        return self.play(np.zeros(int(seconds * SR), np.float32), listening, node)

    def say(self, part: dict) -> np.ndarray:
        return self.audio[_part_key(part, self.spec["voice"])]

    # -- the call
    def run(self) -> None:
        try:
            self._walk()
        except Exception as ex:  # a broken call must not take the server down
            self.rec["error"] = f"{type(ex).__name__}: {ex}"
        finally:
            self.rec["end"] = round(self.now(), 3)
            self.keys.stop()
            if self.alive():
                try:
                    self.call.hangup()
                except Exception:
                    pass

    def _visit(self, path: tuple, kind: str) -> None:
        self.rec["visits"].append({"path": list(path), "kind": kind, "start": round(self.now(), 3)})

    def _walk(self) -> None:
        nodes, greeting = self.spec["_nodes"], self.spec.get("greeting")
        self.silence(self._u([0.3, 0.9]), False, ())
        path, prefix, first, repeats = (), [], True, 0
        while self.alive():
            node = nodes[path]
            self._visit(path, node["kind"])
            if node["kind"] in ("agent", "info"):
                return self._leaf(node, path)
            parts = prefix + sim.node_parts(node, greeting if first else None)
            first, prefix = False, []
            got = self._prompt(parts, path)
            if got is None:
                repeats += 1
                if repeats > MAX_REPEATS:
                    self.play(self.say(GOODBYE), False, path)
                    return None
                continue
            repeats = 0
            key, method, t = got
            if node["kind"] == "input":
                self._log_key(key, method, t, path, True, "entry")
                return self._entry(node, path, key)
            opt = next((o for o in node.get("options", []) if o["key"] == key), None)
            self._log_key(key, method, t, path, opt is not None, "barge" if t < self._prompt_end else "after")
            if opt is None:
                prefix = [INVALID]
            elif opt["role"] == "back":
                path = tuple(str(x) for x in opt.get("to", []))
            elif opt["role"] == "option":
                path = path + (key,)
            # the platform stops the prompt (barge latency), then moves on (transition)
            self.silence(self._u(self.plat["transition_s"]), False, path)

    def _prompt(self, parts: list[dict], path: tuple):
        """Play a menu/input node's parts; the key buffer opens at the first part that
        takes barge-in and stays open; then wait TIMEOUT_S for a key."""
        listening = False
        self._prompt_end = float("inf")
        for i, p in enumerate(parts):
            listening = listening or bool(p.get("barge"))
            got = self.play(self.say(p), listening, path)
            if got is None and i + 1 < len(parts):
                gap = self.plat["greeting_gap_s"] if not p.get("barge") else self.plat["gap_s"]
                got = self.silence(gap, listening, path)
            if got is not None:
                return got
        self._prompt_end = self.now()
        return self.silence(TIMEOUT_S, True, path)

    def _entry(self, node: dict, path: tuple, first_key: str) -> None:
        want = node.get("entry", "Pass#")
        tok = want.rstrip("#*")
        keyed = first_key
        while self.alive():
            if (want != tok and keyed[-1] in "#*") or (want == tok and len(keyed) >= sim.ENTRY_DIGITS.get(tok, 6)):
                break
            got = self.silence(INTERDIGIT_S, True, path)
            if got is None:
                break
            self._log_key(got[0], got[1], got[2], path, True, "entry")
            keyed += got[0]
        self.rec["entries"].append({"path": list(path), "keyed": keyed})
        self.silence(self._u(self.plat["transition_s"]), False, path)
        then = node.get("then") or {"kind": "agent"}
        self._visit(path, then["kind"])
        self._leaf(then, path)

    def _leaf(self, node: dict, path: tuple) -> None:
        # hold music is decoded before the leaf speaks (0.3 s, seconds under load): done
        # between the transfer prompt and the music it left the line silent and was
        # counted in the music's start, eating the crawler's 5 s to hang up
        clip = sim.moh_clip(node.get("music", "macroform-cold_day"), HOLD_MAX_S, self.rng) \
            if node["kind"] == "agent" else None
        for p in sim._parts(node.get("prompt"), False):
            self.play(self.say(p), False, path)
            self.silence(self.plat["gap_s"], False, path)
        if clip is not None:
            self.silence(self._u([0.4, 1.0]), False, path)
            self.rec["music"].append({"path": list(path), "start": round(self.now(), 3)})
            self.play(clip, False, path)
            return
        end = node.get("end", "hangup")
        self.silence(self._u([0.5, 1.2]), False, path)
        if end in ("busy", "reorder"):
            freqs, on, off = sim.BUSY if end == "busy" else sim.REORDER
            y, _ = sim.cadence(freqs, on, off, 3.0 if end == "busy" else 2.0, level_db=-19)
            self.play(y, False, path)


def _part_key(part: dict, voice: str) -> tuple:
    if "sound" in part:
        span = part.get("span_s")
        return ("asterisk", part["sound"] + (f"@{span[0]}-{span[1]}" if span else ""))
    return (part.get("voice", voice), part["text"])


def render_prompts(spec: dict, renderer) -> dict:
    """Every part the spec can play, rendered once: ``{(voice, text): audio}``."""
    parts = [INVALID, GOODBYE] + sim._parts(spec.get("greeting"), False)
    for node in spec["_nodes"].values():
        parts += sim.node_parts(node)
        for n in (node, node.get("then") or {}):
            parts += sim._parts(n.get("prompt"), False)
    out = {}
    for p in parts:
        k = _part_key(p, spec["voice"])
        if k not in out:
            voice, text = k
            try:
                out[k] = renderer.speech(text, f"asterisk:{text}" if voice == "asterisk" else voice)
            except sim.SpecError:  # Asterisk's prompts not installed: the spec's voice says it
                out[k] = renderer.speech(p.get("text") or text, spec["voice"])
    return out


class IvrServer:
    """Registers ``account`` with the registrar and answers every call with the spec.

    ``calls``: one record per call (visits, keys, entries, music, end), in call order.
    """

    def __init__(self, spec_path, registrar: sip.SipTarget, password: str,
                 renderer: sim.Renderer | None = None, seed: int = 0):
        self.renderer = renderer or sim.Renderer(sim.default_cache())
        self.registrar, self._password = registrar, password
        self.calls: list[dict] = []
        self._seed = seed
        self._lock = threading.Lock()
        self.swap_spec(spec_path)
        self._phone = None

    def swap_spec(self, spec_path) -> None:
        """Serve another spec from the next call on (a menu change)."""
        spec = sim.load_spec(spec_path)
        audio = render_prompts(spec, self.renderer)
        with self._lock:
            self.spec, self.audio = spec, audio

    def _on_call(self, vcall) -> None:
        with self._lock:
            spec, audio = self.spec, self.audio
            rec = {"n": len(self.calls) + 1, "company": spec["company"], "visits": [], "keys": [],
                   "entries": [], "music": [], "end": None}
            self.calls.append(rec)
        try:
            vcall.answer()
        except Exception as ex:
            rec["error"] = f"answer: {ex}"
            return
        rng = np.random.default_rng(self._seed * 1000 + rec["n"])
        IvrSession(vcall, spec, audio, rng, rec).run()

    def __enter__(self) -> "IvrServer":
        self._phone = sip.SipPhone(self.registrar, self._password, local_ip="127.0.0.1",
                                   rtp_ports=(40000, 45000), on_call=self._on_call,
                                   output_mode="realtime")
        self._phone.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._phone.__exit__(*exc)


KAMAILIO_CFG = HERE / "kamailio" / "kamailio.cfg"


class Registrar:
    """Debian's kamailio as the SIP registrar/proxy between crawler and IVR, on
    127.0.0.1:``port``, with one digest password per user (``with Registrar(...)``).
    Its config and pid file live in ``run_dir``; ``kamailio`` must be on PATH or in
    /usr/sbin (``Registrar.available()``)."""

    def __init__(self, users: dict[str, str], run_dir, port: int | None = None):
        self.users, self.run_dir = users, Path(run_dir)
        self.port = port or sip.free_udp_port("127.0.0.1")
        self._proc = None

    @staticmethod
    def binary() -> str | None:
        import shutil

        return shutil.which("kamailio") or next((p for p in ("/usr/sbin/kamailio",) if Path(p).exists()), None)

    @classmethod
    def available(cls) -> bool:
        return cls.binary() is not None

    def config(self) -> str:
        lines = "\n".join(f'\tif ($fU == "{u}") $var(pw) = "{p}";' for u, p in self.users.items())
        return KAMAILIO_CFG.read_text().replace("@@PORT@@", str(self.port)).replace("@@USERS@@", lines)

    def __enter__(self) -> "Registrar":
        import subprocess

        self.run_dir.mkdir(parents=True, exist_ok=True)
        cfg = self.run_dir / "kamailio.cfg"
        cfg.write_text(self.config())
        self._log = open(self.run_dir / "kamailio.log", "wb")
        self._proc = subprocess.Popen(
            [self.binary(), "-f", str(cfg), "-D", "-E", "-Y", str(self.run_dir), "-P",
             str(self.run_dir / "kamailio.pid"), "-m", "32", "-M", "8", "-w", str(self.run_dir)],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # up once it answers an OPTIONS ping
            if self._proc.poll() is not None:
                raise RuntimeError(f"kamailio exited: see {self.run_dir / 'kamailio.log'}")
            if _sip_ping("127.0.0.1", self.port):
                return self
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("kamailio did not answer on 127.0.0.1:%d" % self.port)

    def __exit__(self, *exc) -> None:
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(5)
            except Exception:
                os.killpg(self._proc.pid, signal.SIGKILL)
        if getattr(self, "_log", None):
            self._log.close()


def _sip_ping(host: str, port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        me = s.getsockname()[1]
        msg = (f"OPTIONS sip:{host}:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKping{me}\r\n"
               f"From: <sip:ping@{host}>;tag=1\r\nTo: <sip:{host}>\r\nCall-ID: ping-{time.time()}\r\n"
               "CSeq: 1 OPTIONS\r\nMax-Forwards: 5\r\nContent-Length: 0\r\n\r\n")
        s.settimeout(0.5)
        s.sendto(msg.encode(), (host, port))
        try:
            return s.recv(2048).startswith(b"SIP/2.0 200")
        except OSError:
            return False


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="ivr_server.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("spec", type=Path)
    ap.add_argument("--registrar", required=True, help="sip:NUMBER@127.0.0.1[:PORT] (the IVR's account)")
    ap.add_argument("--log", type=Path, help="write each call's record here (JSON lines) at exit")
    a = ap.parse_args(argv)
    target = sip.parse_sip_uri(a.registrar)
    if target.host not in ("127.0.0.1", "localhost"):
        print(f"{a.registrar}: the test IVR serves 127.0.0.1 only", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with IvrServer(a.spec, target, os.environ.get("IVRKIT_IVR_PASSWORD", "")) as srv:
        print(f"serving {srv.spec['company']} as {a.registrar}", file=sys.stderr)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    if a.log:
        a.log.write_text("".join(json.dumps(c) + "\n" for c in srv.calls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
