"""Presses one call cannot judge, judged by the other calls of the same company.

The rule lives in ``ivrkit.trees.navigate`` (pass 1, ``read_together``), the one
owner of navigation verdicts; this module keeps the dict-in, dict-out entry point
the accuracy benchmark and tests use.
"""
from __future__ import annotations

import copy

from .model import Timeline
from .navigate import read_together

#: The name this pass had before it joined navigate.
reconcile_records = read_together


def reconcile_greetings(timelines: list) -> list:
    """Copies of the timelines where a press that left the root is set ignored when the
    other calls show the root simply went on with the words heard after it. Takes and
    returns ``Timeline`` records or timeline dicts (a dict's copy is unchanged unless
    the call was corrected)."""
    tls = [Timeline.from_json(t) for t in timelines]
    out = read_together(tls)
    return [o if isinstance(t, Timeline) else (copy.deepcopy(t) if o is r else o.to_json())
            for t, r, o in zip(timelines, tls, out)]
