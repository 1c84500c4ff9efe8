"""Where embly keeps its state (EMBLY_HOME) and finds the user's configuration (EMBLY_CONFIG)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def embly_home() -> Path:
    """State: store, action cache, build spaces, GC roots. `EMBLY_HOME` or the user cache dir."""
    explicit = os.environ.get("EMBLY_HOME")
    if explicit:
        return Path(explicit).expanduser().absolute()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "embly"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "embly"


def config_file() -> Path:
    """The user's TOML config: `EMBLY_CONFIG` or the user config dir."""
    explicit = os.environ.get("EMBLY_CONFIG")
    if explicit:
        return Path(explicit).expanduser().absolute()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "embly" / "config.toml"
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "embly" / "config.toml"
