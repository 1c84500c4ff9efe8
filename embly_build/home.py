"""Where embly keeps its state (EMBLY_HOME) and finds the user's configuration (EMBLY_CONFIG)."""

from __future__ import annotations

from pathlib import Path

from embly_build.home_paths import config_file_path, embly_home_dir


def embly_home() -> Path:
    """State: store, action cache, build spaces, GC roots. `EMBLY_HOME` or the user cache dir."""
    return Path(embly_home_dir())


def config_file() -> Path:
    """The user's TOML config: `EMBLY_CONFIG` or the user config dir."""
    return Path(config_file_path())
