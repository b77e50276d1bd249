"""ivrkit.discovery: speech recognition, prompt parsing, one call -> timeline, and the CLI.

Library use::

    from ivrkit.discovery import analyse_call, map_calls
    tl = analyse_call("call01.wav")              # the timeline dict (ivrkit.timeline/1)
    G = map_calls(["call01.wav", "call02.wav"], company="Northwind Telecom")

Names are imported on first use (PEP 562), so ``discover --help`` does not load
scipy and the recognizer.
"""
import importlib

_PUBLIC = {"analyse_call": "pipeline", "map_calls": "pipeline", "map_timelines": "pipeline",
           "make_engine": "asr", "EngineError": "asr"}
__all__ = sorted(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
