"""One error hierarchy. Every message says what went wrong and what to do about it.

The CLI maps these to exit codes in one place (`embly_build.cli.exit_codes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class EmblyError(Exception):
    """Base of every error embly-build reports to a user."""


@dataclass(frozen=True)
class SourceLocation:
    file: Path
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class ConfigError(EmblyError):
    """embly.hcl is missing, malformed or refers to something that does not exist."""

    def __init__(self, message: str, location: SourceLocation | None = None) -> None:
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class UsageError(EmblyError):
    """The command line asks for something that cannot be done (e.g. an unknown function)."""


class InputError(EmblyError):
    """A function's inputs cannot be indexed (a symlink leaving them, an unreadable file)."""


class EnvironmentProblem(EmblyError):
    """Something this machine needs is missing: nix, a toolchain, a tool."""


class DockerUnavailable(EnvironmentProblem):
    """The Docker engine cannot be used: not installed, not running, or its socket is not
    this user's to use."""


class ImageBuildFailed(EnvironmentProblem):
    """Building the build server's Docker image failed (a step of its Dockerfile)."""


class StoreError(EmblyError):
    """The content-addressed store cannot read or write (full disk, corrupt blob)."""


class DigestMismatch(StoreError):
    """Bytes do not hash to the digest they were sent under."""


class ProtocolError(EmblyError):
    """A request or response breaks the protocol (hostile path, missing field)."""


class LimitExceeded(ProtocolError):
    """A request is larger than the server takes (protocol/limits.py): a message, a lookup,
    a tree."""


class MissingInputs(EmblyError):
    """A build names blobs the store does not have: the client must upload them first."""


class BlobNotFound(EmblyError):
    """A blob asked for is not, or no longer, in the store (gc may have trimmed it)."""


class AccessDenied(EmblyError):
    """The server refuses a call: it came without the credentials the server asks for, or
    with ones it does not accept."""


class ServiceUnavailable(EmblyError):
    """The server cannot serve calls now, through no fault of the caller's (its token file
    became unreadable): its administrator must fix it."""


class ServerError(EmblyError):
    """The build server cannot be reached, did not answer, was lost mid-call, or failed a
    call on its own account: the command may succeed once the server is up again."""


class BuildFailed(EmblyError):
    """A build ran and failed (compile error, tool failure)."""
