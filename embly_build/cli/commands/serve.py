"""`embly serve`: a build server on unix sockets and TCP until SIGINT, SIGTERM or SIGHUP."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console

from embly_build.cli.commands.serve_exposure import check_exposure
from embly_build.cli.stop_signals import EXIT_FOR_SIGNAL
from embly_build.errors import UsageError
from embly_build.server.factory import create_service
from embly_build.server.settings import ServerSettings
from embly_build.transport.access import AccessPolicy, AdmitAll
from embly_build.transport.address import parse_address
from embly_build.transport.authentication import Authenticator
from embly_build.transport.bearer_tokens import TokenFile
from embly_build.transport.grpc_server import GrpcServer
from embly_build.transport.tls import server_context


@dataclass(frozen=True)
class ServeOptions:
    listen: list[str]
    jobs: int | None = None
    store: Path | None = None
    executor: str = "nix"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    client_ca: Path | None = None
    token_file: Path | None = None
    insecure: bool = False


async def serve_forever(options: ServeOptions) -> int:
    addresses = [parse_address(text) for text in options.listen or ["127.0.0.1:9276"]]
    console = Console(stderr=True, highlight=False, soft_wrap=True)  # log lines stay whole
    # Every file and address is checked before anything listens: a mistake is exit 2.
    ssl_context = None
    if options.tls_cert or options.tls_key or options.client_ca:
        ssl_context = server_context(*_tls_files(options))
    tokens = TokenFile(options.token_file.absolute()) if options.token_file else None
    for warning in check_exposure(
        addresses,
        tls=ssl_context is not None,
        client_certificates=options.client_ca is not None,
        tokens=tokens is not None,
        insecure=options.insecure,
    ):
        console.print(f"embly serve: warning: {warning}")
    if tokens is not None and tokens.world_readable():
        console.print(
            f"embly serve: warning: the token file {tokens.path} can be read by other users"
            f" of this machine: chmod 600 {tokens.path}"
        )
    policy: AccessPolicy = AdmitAll()
    if tokens is not None or options.client_ca is not None:
        policy = Authenticator(tokens, client_certificates=options.client_ca is not None)
    settings = ServerSettings(executor=options.executor)
    if options.jobs:
        settings = replace(settings, jobs=options.jobs)
    if options.store:
        settings = replace(settings, home=options.store.absolute())
    service = create_service(settings)
    if settings.executor == "docker":  # an engine that cannot be used is said before listening
        from embly_build.client.docker.engine import docker_engine

        async with docker_engine():
            pass
    server = GrpcServer(service, ssl_context=ssl_context, policy=policy)
    # Before anything is announced: whoever reads "listening" may send a signal at once.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in EXIT_FOR_SIGNAL:  # SIGHUP too: a server whose terminal closed stops cleanly
        loop.add_signal_handler(sig, stop.set)
    handler = _log_to(console)
    started = False
    try:
        await server.start(addresses)
        started = True
        console.print(
            f"embly serve: listening on {', '.join(map(str, addresses))} "
            f"({_security(ssl_context is not None, options, tokens)}; state in "
            f"{settings.home}, {settings.jobs} jobs)"
        )
        await stop.wait()
    finally:
        for sig in EXIT_FOR_SIGNAL:
            loop.remove_signal_handler(sig)
        await server.close()
        await service.close()
        logging.getLogger("embly.serve").removeHandler(handler)
        if started:  # else the error that stopped it is printed
            console.print("embly serve: stopped")
    return 0


def _tls_files(options: ServeOptions) -> tuple[Path, Path, Path | None]:
    if options.tls_cert is None or options.tls_key is None:
        if options.client_ca is not None and not (options.tls_cert or options.tls_key):
            raise UsageError(
                "--client-ca verifies clients over TLS: give the server's own certificate "
                "too, --tls-cert FILE --tls-key FILE"
            )
        raise UsageError("TLS needs both --tls-cert FILE and --tls-key FILE")
    return options.tls_cert, options.tls_key, options.client_ca


def _security(tls: bool, options: ServeOptions, tokens: TokenFile | None) -> str:
    parts = ["TLS" if tls else "no TLS"]
    if options.client_ca is not None:
        parts.append("client certificates")
    if tokens is not None:
        parts.append(f"{len(tokens.names())} token(s)")
    if len(parts) == 1:
        parts.append("no authentication")
    return ", ".join(parts)


class _ConsoleHandler(logging.Handler):
    def __init__(self, console: Console) -> None:
        super().__init__()
        self._console = console

    def emit(self, record: logging.LogRecord) -> None:
        self._console.print(f"embly serve: {record.getMessage()}", markup=False)


def _log_to(console: Console) -> logging.Handler:
    """The server's log lines (a build finished, a call refused) on its stderr."""
    handler = _ConsoleHandler(console)
    logger = logging.getLogger("embly.serve")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return handler
