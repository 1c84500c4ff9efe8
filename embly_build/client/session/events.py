"""What a client build reports, function by function. `--json` prints `to_json()` per event."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BuildStarted:
    function: str
    uploaded_bytes: int

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "build_started",
            "function": self.function,
            "uploaded_bytes": self.uploaded_bytes,
        }


@dataclass(frozen=True)
class LogLine:
    function: str
    stream: str  # "stdout" | "stderr" | "server" | "client"
    text: str
    step: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "log",
            "function": self.function,
            "stream": self.stream,
            "step": self.step,
            "text": self.text,
        }


@dataclass(frozen=True)
class BuildFinished:
    function: str
    status: str  # "ok" | "failed" | "cancelled"
    cache_hit: bool
    artifacts: dict[str, str] = field(default_factory=dict)  # kind ("wasm"/"cwasm") -> path
    artifact_sizes: dict[str, int] = field(default_factory=dict)
    uploaded_bytes: int = 0
    duration_ms: int = 0
    action_digest: str = ""
    error: str = ""
    timings: dict[str, int] = field(default_factory=dict)  # server steps, milliseconds
    opt_level: str = ""  # the artifacts' wasm-opt level, as users write it: O2, ..., or none
    # A quick result: these artifacts are stripped, not optimised yet; the optimised ones
    # follow in another `BuildFinished` of the same build.
    optimising: bool = False
    # A failed build's output (the compiler's diagnostics), also sent as `LogLine` events as
    # it came; so not repeated in `to_json()`.
    output: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "build_finished",
            "function": self.function,
            "status": self.status,
            "cache_hit": self.cache_hit,
            "artifacts": self.artifacts,
            "artifact_sizes": self.artifact_sizes,
            "uploaded_bytes": self.uploaded_bytes,
            "duration_ms": self.duration_ms,
            "action_digest": self.action_digest,
            "error": self.error or None,
            "timings": self.timings,
            "opt_level": self.opt_level,
            "optimising": self.optimising,
        }


@dataclass(frozen=True)
class UploadProgress:
    """How much of a long upload (all selected functions' missing files) has been sent."""

    sent_bytes: int
    total_bytes: int

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "upload_progress",
            "sent_bytes": self.sent_bytes,
            "total_bytes": self.total_bytes,
        }


@dataclass(frozen=True)
class IndexProgress:
    """How far a long index (all selected functions' inputs) has come."""

    files: int
    read_bytes: int  # of files hashed; files unchanged since an earlier index are not read
    finished: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "index_progress",
            "files": self.files,
            "read_bytes": self.read_bytes,
            "finished": self.finished,
        }


@dataclass(frozen=True)
class ServerSetup:
    """What is done to get a build server before the first build: for the Docker executor,
    its image built (`phase` "image", each line of the image build's output) and its
    container started ("container")."""

    phase: str
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"event": "server_setup", "phase": self.phase, "text": self.text}


@dataclass(frozen=True)
class InputWarning:
    """A warning about what decides a function's inputs (a `.gitignore` line git skips, git
    that cannot be asked): on stderr, or with `--json` as this event (see
    cli/terminal/warning_events.py)."""

    text: str

    def to_json(self) -> dict[str, Any]:
        return {"event": "warning", "text": self.text}


ClientEvent = IndexProgress | UploadProgress | BuildStarted | LogLine | BuildFinished | ServerSetup
