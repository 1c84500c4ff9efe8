"""Writing the user's configuration file (user_config.py reads it): the keys `embly setup`
chooses, set in place.

The file is edited, not rewritten: a key set replaces its own line (or is added at the
end) and a key removed loses its line, so the user's other keys and comments stay. When
the edit would not read back as the values meant (a key spelled `"executor" = ...`, a
multi-line string), the file is written whole from its values instead, without comments.
Either way it is replaced at once (atomic_write.py), through a symbolic link to the
file it names, and keeps its permissions.
"""

from __future__ import annotations

import dataclasses
import re
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from embly_build.atomic_write import write_atomically
from embly_build.client.config.user_config import UserConfig, load_user_config
from embly_build.errors import ConfigError

Value = str | int | bool
_KNOWN_KEYS = frozenset(field.name for field in dataclasses.fields(UserConfig))
_NEW_FILE_MODE = 0o600
# A bare key at the start of a line: `executor = ...`.
_KEY_LINE = re.compile(r"\s*(?P<key>[A-Za-z0-9_-]+)\s*=")


def update_user_config(path: Path, changes: Mapping[str, Value | None]) -> None:
    """Set each key of `changes` to its value (None removes the key) in the TOML file at
    `path`, keeping every other key; the file and its directory are made when missing. A
    file that is not a valid user config is left alone: ConfigError, saying what is wrong."""
    unknown = [key for key in changes if key not in _KNOWN_KEYS]
    if unknown:
        raise ValueError(f"not user config keys: {', '.join(unknown)}")
    load_user_config(path)  # the file as it is must be valid
    target = path.resolve()
    text = _read(target)
    wanted = _apply(tomllib.loads(text), changes)
    edited = _edit_lines(text, changes)
    if _values(edited) != wanted:
        edited = tomli_w.dumps(wanted)
    mode = _mode(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, edited.encode(), temp_prefix=f".{target.name}.")
        target.chmod(mode)
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {error.strerror or error}") from error


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror or error}") from error


def _apply(current: Mapping[str, Any], changes: Mapping[str, Value | None]) -> dict[str, Any]:
    values = dict(current)
    for key, value in changes.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    return values


def _edit_lines(text: str, changes: Mapping[str, Value | None]) -> str:
    lines = text.splitlines(keepends=True)
    pending = dict(changes)
    edited: list[str] = []
    for line in lines:
        match = _KEY_LINE.match(line)
        key = match.group("key") if match else None
        if key is None or key not in pending:
            edited.append(line)
            continue
        value = pending.pop(key)
        if value is not None:
            edited.append(_line(key, value))
    if edited and not edited[-1].endswith("\n"):
        edited[-1] += "\n"
    edited += [_line(key, value) for key, value in pending.items() if value is not None]
    return "".join(edited)


def _line(key: str, value: Value) -> str:
    return tomli_w.dumps({key: value})


def _values(text: str) -> dict[str, Any] | None:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None


def _mode(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return _NEW_FILE_MODE
