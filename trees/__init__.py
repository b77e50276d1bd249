"""ivrkit.trees: the menu tree (merge, paths, waits, diff, export). Never imports ivrkit.audio."""
from .build import merge_timelines
from .diff import diff_trees, format_diff
from .export import entries_since, export_entries, format_csv, format_dial, format_directory
from .io import TreeSchemaError, read_tree, tree_from_json, tree_to_json, write_tree
from .paths import route, services
from .render import render_tree
from .waits import recommend_waits

__all__ = ["merge_timelines", "diff_trees", "format_diff", "export_entries", "entries_since",
           "format_csv", "format_dial", "format_directory", "read_tree", "write_tree",
           "tree_from_json", "tree_to_json", "TreeSchemaError", "services", "route",
           "render_tree", "recommend_waits"]
