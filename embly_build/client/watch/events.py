"""What `embly watch` reports besides build events. `--json` prints `to_json()` per event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from embly_build.client.session.events import ClientEvent

TRIGGERS_SHOWN = 3
# After a branch switch a round may have thousands of triggers; a JSON line that long helps no
# reader, and `trigger_count` says how many there were.
TRIGGERS_IN_JSON = 100


@dataclass(frozen=True)
class Watching:
    directories: tuple[str, ...]
    functions: tuple[str, ...]
    polling: bool
    opt_level: str = "O2"  # as users write it: O0..O4, Os, Oz or none

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "watching",
            "directories": list(self.directories),
            "functions": list(self.functions),
            "polling": self.polling,
            "opt_level": self.opt_level,
        }


@dataclass(frozen=True)
class RoundStarted:
    """A batch of changes starts builds: which files triggered it, which functions build."""

    triggers: tuple[str, ...]  # paths relative to the project (absolute when outside it)
    functions: tuple[str, ...]

    def describe_triggers(self) -> str:
        shown = ", ".join(self.triggers[:TRIGGERS_SHOWN])
        more = len(self.triggers) - TRIGGERS_SHOWN
        return f"{shown} and {more} more" if more > 0 else shown

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "round_started",
            "triggers": list(self.triggers[:TRIGGERS_IN_JSON]),
            "trigger_count": len(self.triggers),
            "functions": list(self.functions),
        }


@dataclass(frozen=True)
class RoundFinished:
    ok: int
    failed: int
    cached: int
    duration_ms: int
    cancelled: int = 0  # on the server, by a newer build of the function from elsewhere

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "round_finished",
            "ok": self.ok,
            "failed": self.failed,
            "cached": self.cached,
            "cancelled": self.cancelled,
            "duration_ms": self.duration_ms,
        }


@dataclass(frozen=True)
class ConfigProblem:
    """embly.hcl is broken: the last good configuration keeps being served."""

    message: str

    def to_json(self) -> dict[str, Any]:
        return {"event": "config_error", "message": self.message}


@dataclass(frozen=True)
class ConfigReloaded:
    functions: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "config_reloaded",
            "functions": list(self.functions),
            "added": list(self.added),
            "removed": list(self.removed),
        }


@dataclass(frozen=True)
class Notice:
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"event": "notice", "message": self.message}


WatchEvent = Watching | RoundStarted | RoundFinished | ConfigProblem | ConfigReloaded | Notice
AnyEvent = ClientEvent | WatchEvent
