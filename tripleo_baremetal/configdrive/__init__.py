"""Config drives: their contents, the ISO image, and network data."""
