"""SIP user agent glue: place a call, hear it, press keys, record both sides.

The SIP signalling (REGISTER / INVITE with digest authentication, BYE), RTP and
G.711 come from ``rfcvoip`` (the maintained successor of pyVoIP); this module only
adapts it to what the crawler needs: 8 kHz mono float audio read in real time, keys
sent in-band (tones written into the stream) or as RFC 4733 telephone-events, and a
recording of the call (the far side, the caller side, both mixed) on one clock.

The password is held in memory only: it is never logged, printed or written.
"""
from __future__ import annotations

import logging
import re
import socket
import time
from dataclasses import dataclass, field

import numpy as np

SR = 8000
FRAME_S = 0.02            # one RTP packet of G.711 (RFC 3551's default packetization)
#: G.711 first (PCMU, then PCMA): what every IVR answers and what the recordings keep;
#: wideband/opus variants are pushed to the end of the offer.
CODEC_SCORES = {"PCMU": 1000, "PCMA": 900, "PCMU-WB": -1000, "PCMA-WB": -1000, "opus": -1000}
#: In-band key tone: 100 ms at -10 dBFS per pair, the middle of what Q.24 receivers take
#: (>= 40 ms, -25..0 dBm0).
INBAND_KEY_S = 0.10
INBAND_LEVEL_DB = -10.0
#: RFC 4733 events are 200 ms in rfcvoip; the next key waits for the event to end.
RFC4733_KEY_S = 0.20
METHODS = ("inband", "rfc4733")
ROW_HZ = (697.0, 770.0, 852.0, 941.0)   # ITU-T Q.23
COL_HZ = (1209.0, 1336.0, 1477.0, 1633.0)
KEYPAD = ("123A", "456B", "789C", "*0#D")

log = logging.getLogger("ivrkit.sip")


class SipError(RuntimeError):
    """Registration or call setup failed (one line for the user)."""


@dataclass(frozen=True)
class SipTarget:
    """Where the crawler's account lives: ``sip:USER@HOST[:PORT]``."""

    user: str
    host: str
    port: int = 5060


def parse_sip_uri(uri: str) -> SipTarget:
    """``sip:USER@HOST[:PORT]`` -> SipTarget; ValueError naming the problem."""
    m = re.fullmatch(r"sips?:([^@:;]+)@([^:;]+)(?::(\d+))?", uri.strip())
    if not m:
        raise ValueError(f"{uri!r} is not sip:USER@HOST[:PORT]")
    return SipTarget(m.group(1), m.group(2), int(m.group(3) or 5060))


def dial_user(number: str) -> str:
    """``1-800-555-0142`` -> ``18005550142`` (what a registrar routes)."""
    return re.sub(r"[^0-9+*#]", "", number) or number


def local_ip_for(host: str, port: int) -> str:
    """The local address the OS routes to ``host`` (the one to put in Contact/SDP)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((host, port))
        return s.getsockname()[0]


def free_udp_port(ip: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def quiet_rfcvoip() -> None:
    """rfcvoip prints its call log on stdout; send it to ``logging`` instead."""
    import importlib

    def _debug(s, e=None):
        log.debug("%s", e if e is not None else s)

    for name in ("rfcvoip", "rfcvoip.SIP", "rfcvoip.RTP", "rfcvoip.SIPAuth", "rfcvoip.SIPTransport",
                 "rfcvoip.VoIP.VoIP", "rfcvoip.codecs", "rfcvoip.codecs.base", "rfcvoip.codecs.g711"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(mod, "debug"):
            mod.debug = _debug


def dtmf_audio(key: str, dur_s: float = INBAND_KEY_S, level_db: float = INBAND_LEVEL_DB,
               sr: int = SR) -> np.ndarray:
    """One key as a Q.23 tone pair (float, ``level_db`` RMS per tone, 2 ms ramps)."""
    r = next(i for i, row in enumerate(KEYPAD) if key in row)
    c = KEYPAD[r].index(key)
    t = np.arange(int(round(dur_s * sr))) / sr
    amp = 10 ** (level_db / 20) * np.sqrt(2)
    y = amp * (np.sin(2 * np.pi * ROW_HZ[r] * t) + np.sin(2 * np.pi * COL_HZ[c] * t))
    k = int(0.002 * sr)
    ramp = np.linspace(0, 1, k)
    y[:k] *= ramp
    y[-k:] *= ramp[::-1]
    return y.astype(np.float32)


def to_pcm16(y: np.ndarray) -> bytes:
    return (np.clip(y, -1, 1) * 32767).astype("<i2").tobytes()


def from_pcm16(b: bytes) -> np.ndarray:
    return np.frombuffer(b, "<i2").astype(np.float32) / 32768.0


@dataclass(frozen=True)
class KeySent:
    """One key the crawler sent: ``time`` in seconds from the answer (the recording's 0)."""

    key: str
    time: float
    method: str


@dataclass
class Recording:
    """Both sides of one call on one clock (8 kHz float, 0 = the answer)."""

    far: list = field(default_factory=list)      # received chunks, in order
    caller: list = field(default_factory=list)   # (start sample, audio) the caller side played
    n: int = 0                                   # samples received so far

    def add_far(self, y: np.ndarray) -> None:
        self.far.append(y)
        self.n += len(y)

    def add_caller(self, y: np.ndarray) -> None:
        self.caller.append((self.n, y))

    def caller_side(self) -> np.ndarray:
        end = max([self.n] + [s + len(a) for s, a in self.caller])
        out = np.zeros(end, np.float32)
        for s, a in self.caller:
            out[s:s + len(a)] += a
        return out

    def mixed(self) -> np.ndarray:
        c = self.caller_side()
        far = np.concatenate(self.far) if self.far else np.zeros(0, np.float32)
        far = np.pad(far, (0, max(0, len(c) - len(far))))
        return np.clip(far + np.pad(c, (0, len(far) - len(c))), -1.0, 1.0)


#: No far-side audio for this long on an answered call: the network is gone.
NO_AUDIO_S = 3.0


class SipCall:
    """One answered call: ``listen`` hears it in real time, ``press`` sends a key.

    A reader thread takes the far side's audio as the packets come (rfcvoip's jitter
    buffer paces it); ``listen`` raises SipError when none has come for NO_AUDIO_S.
    """

    def __init__(self, vcall, method: str = "inband"):
        import queue
        import threading

        if method not in METHODS:
            raise ValueError(f"DTMF method {method!r} is not one of {METHODS}")
        self._call = vcall
        self.method = method
        self.rec = Recording()
        self.keys: list[KeySent] = []
        self._frame = vcall.audio_frame_size(int(FRAME_S * 1000))
        self._q: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while not self.ended:
            try:
                b = self._call.read_audio(self._frame, blocking=True)
            except Exception:
                break
            if self.ended:  # rfcvoip fills a frame with silence once the call is gone
                break
            self._q.put(from_pcm16(b))
        self._q.put(None)

    @property
    def ended(self) -> bool:
        from rfcvoip.VoIP import CallState

        return self._call.state == CallState.ENDED

    @property
    def now_s(self) -> float:
        """Seconds of far-side audio heard since the answer."""
        return self.rec.n / SR

    def listen(self, seconds: float) -> np.ndarray:
        """Hear ``seconds`` of the far side (blocks for as long); shorter if it hangs up."""
        import queue

        out = []
        for _ in range(max(1, int(round(seconds / FRAME_S)))):
            try:
                y = self._q.get(timeout=NO_AUDIO_S)
            except queue.Empty:
                raise SipError(f"no audio from the far side for {NO_AUDIO_S:.0f} s (network lost?)") from None
            if y is None:
                self._q.put(None)
                break
            self.rec.add_far(y)
            out.append(y)
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def press(self, key: str) -> KeySent:
        """Send one key now; returns what the keys log keeps."""
        sent = KeySent(key, round(self.now_s, 3), self.method)
        tone = dtmf_audio(key)
        if self.method == "inband":
            self._call.write_audio(to_pcm16(tone))
        elif not self._call.send_dtmf(key):
            raise SipError("the far side did not offer RFC 4733 telephone-events")
        # the caller side keeps the tone either way: for RFC 4733 it is the tone the
        # phone plays locally, so the mixed recording shows the key like any recorder
        self.rec.add_caller(tone)
        self.keys.append(sent)
        return sent

    def hangup(self) -> None:
        if not self.ended:
            try:
                self._call.hangup()
            except Exception as ex:  # already gone: the far side's BYE crossed ours
                log.debug("hangup: %s", ex)


class SipPhone:
    """A registered SIP account (``with SipPhone(target, password) as ph: ph.dial(...)``)."""

    def __init__(self, target: SipTarget, password: str, local_ip: str | None = None,
                 sip_port: int | None = None, rtp_ports: tuple[int, int] = (20000, 30000),
                 on_call=None, output_mode: str = "buffered"):
        from rfcvoip.VoIP import VoIPPhone

        quiet_rfcvoip()
        ip = local_ip or local_ip_for(target.host, target.port)
        self.target = target
        self._phone = VoIPPhone(
            target.host, target.port, target.user, password, myIP=ip,
            callCallback=on_call, sipPort=sip_port or free_udp_port(ip),
            rtpPortLow=rtp_ports[0], rtpPortHigh=rtp_ports[1], codec_priorities=CODEC_SCORES,
            audio_sample_rate=SR, audio_channels=1, audio_bit_depth=16,
            # "realtime" bounds queued audio (~140 ms): for a writer that paces a stream
            # (the test IVR), so a prompt stops soon after the writer stops; "buffered"
            # keeps whole writes (the crawler's key tones)
            audio_output_mode=output_mode)

    def __enter__(self) -> "SipPhone":
        try:
            self._phone.start()
        except Exception as ex:
            raise SipError(f"sip:{self.target.user}@{self.target.host}:{self.target.port}: "
                           f"registration failed ({type(ex).__name__}: {ex})") from None
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._phone.stop()
        except Exception as ex:
            log.debug("stop: %s", ex)

    def dial(self, number: str, method: str = "inband", answer_timeout_s: float = 30.0) -> SipCall:
        """INVITE ``number`` at the registrar; returns once answered (SipError if not)."""
        from rfcvoip.VoIP import CallState

        # a directory number as a SIP user: its digits (and + * #), dashes and spaces dropped
        vcall = self._phone.call(dial_user(number))
        t0 = time.monotonic()
        while vcall.state in (CallState.DIALING, CallState.RINGING):
            if time.monotonic() - t0 > answer_timeout_s:
                try:
                    vcall.cancel()
                except Exception:
                    pass
                raise SipError(f"{number}: not answered within {answer_timeout_s:.0f} s")
            time.sleep(0.02)
        if vcall.state != CallState.ANSWERED:
            raise SipError(f"{number}: call refused ({vcall.state.name.lower()})")
        return SipCall(vcall, method)
