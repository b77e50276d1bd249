"""ivrkit.trees: the menu tree (merge, paths, waits, diff, export). Never imports ivrkit.audio."""
