"""The client options every client command takes, as parsed from the command line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ClientOptions:
    project: Path | None = None
    executor: str | None = None
    remote: str | None = None
    jobs: int | None = None
    target: str | None = None
    opt_level: str | None = None
    watching: bool = False  # `embly watch`: the user config's watch_opt_level applies
    quick_first: bool | None = None  # `embly watch --quick-first/--no-quick-first`
    tls: TlsOptions = field(default_factory=lambda: TlsOptions())  # defined below


@dataclass(frozen=True)
class TlsOptions:
    """How to reach a --remote server: TLS files and a token file (None: not given)."""

    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    token_file: Path | None = None
