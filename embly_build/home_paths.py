"""EMBLY_HOME and EMBLY_CONFIG as strings, with only `os` and `sys`: `embly build` looks in
EMBLY_HOME before it imports anything else, to see whether it has anything to do (see
client/records/up_to_date.py). home.py gives them as Paths."""

from __future__ import annotations

import os
import sys


def embly_home_dir() -> str:
    """State: store, action cache, build spaces, GC roots. `EMBLY_HOME` or the user cache dir."""
    explicit = os.environ.get("EMBLY_HOME")
    if explicit:
        return _absolute(explicit)
    if sys.platform == "darwin":
        return os.path.join(_user_home(), "Library", "Caches", "embly")
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(_user_home(), ".cache")
    return os.path.join(cache, "embly")


def config_file_path() -> str:
    """The user's TOML config: `EMBLY_CONFIG` or the user config dir."""
    explicit = os.environ.get("EMBLY_CONFIG")
    if explicit:
        return _absolute(explicit)
    return default_config_file_path()


def default_config_file_path() -> str:
    """Where the user's config is when EMBLY_CONFIG does not say."""
    if sys.platform == "darwin":
        return os.path.join(_user_home(), "Library", "Application Support", "embly", "config.toml")
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(_user_home(), ".config")
    return os.path.join(config, "embly", "config.toml")


def _absolute(path: str) -> str:
    """`path` with `~` expanded, made absolute against the working directory (`..` kept, as
    `Path.absolute()` keeps it)."""
    expanded = os.path.expanduser(path)
    return expanded if os.path.isabs(expanded) else os.path.join(os.getcwd(), expanded)


def _user_home() -> str:
    return os.path.expanduser("~")
