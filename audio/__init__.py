"""ivrkit.audio: signal analysis of call recordings.

Small functions over numpy arrays. Every time is in seconds from the start of the
file (``start_s``, ``end_s``); every sample rate is named ``sr`` and given in Hz.
"""
from .events import DtmfPress, Tone, Region
from .io import AudioError, load, probe_duration

__all__ = ["DtmfPress", "Tone", "Region", "AudioError", "load", "probe_duration"]
