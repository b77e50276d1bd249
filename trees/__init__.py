"""ivrkit.trees: the menu tree (merge, paths, waits, diff, export). Never imports ivrkit.audio.

Names are imported on first use (PEP 562): discovery imports ``ivrkit.trees.model``
(the call records) without loading networkx and the merge.
"""
import importlib

_PUBLIC = {"merge_timelines": "build", "diff_trees": "diff", "format_diff": "diff",
           "export_entries": "export", "entries_since": "export", "format_csv": "export",
           "format_dial": "export", "format_directory": "export", "read_tree": "io",
           "write_tree": "io", "tree_from_json": "io", "tree_to_json": "io",
           "TreeSchemaError": "io", "services": "paths", "route": "paths",
           "render_tree": "render", "recommend_waits": "waits"}
__all__ = sorted(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
