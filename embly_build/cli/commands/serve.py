"""`embly serve`: a build server on unix sockets and TCP until SIGINT, SIGTERM or SIGHUP."""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from embly_build.cli.stop_signals import EXIT_FOR_SIGNAL
from embly_build.errors import UsageError
from embly_build.server.factory import create_service
from embly_build.server.settings import ServerSettings
from embly_build.transport.address import Address, parse_address
from embly_build.transport.grpc_server import GrpcServer


async def serve_forever(
    listen: list[str], jobs: int | None, store: Path | None, executor: str
) -> int:
    addresses = [parse_address(text) for text in listen or ["127.0.0.1:9276"]]
    for address in addresses:
        _refuse_plaintext_off_loopback(address)
    settings = ServerSettings(executor=executor)
    if jobs:
        settings = replace(settings, jobs=jobs)
    if store:
        settings = replace(settings, home=store.absolute())
    service = create_service(settings)
    server = GrpcServer(service)
    # Before anything is announced: whoever reads "listening" may send a signal at once.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in EXIT_FOR_SIGNAL:  # SIGHUP too: a server whose terminal closed stops cleanly
        loop.add_signal_handler(sig, stop.set)
    console = Console(stderr=True, highlight=False, soft_wrap=True)  # log lines stay whole
    started = False
    try:
        await server.start(addresses)
        started = True
        console.print(
            f"embly serve: listening on {', '.join(map(str, addresses))} "
            f"(state in {settings.home}, {settings.jobs} jobs)"
        )
        await stop.wait()
    finally:
        for sig in EXIT_FOR_SIGNAL:
            loop.remove_signal_handler(sig)
        await server.close()
        await service.close()
        if started:  # else the error that stopped it is printed
            console.print("embly serve: stopped")
    return 0


def _refuse_plaintext_off_loopback(address: Address) -> None:
    """Without TLS, TCP is served on loopback addresses only: an IP literal or `localhost`
    (a name is not resolved: what it names can change after the check)."""
    if address.kind != "tcp":
        return
    host = "127.0.0.1" if address.host == "localhost" else address.host
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        raise UsageError(
            f"cannot listen on {address}: {address.host!r} is not a loopback address (an IP "
            "address or localhost), and this version serves TCP on loopback only; use "
            "127.0.0.1:PORT, [::1]:PORT, localhost:PORT or a unix socket, unix:/path/to/sock"
        ) from None
    if not loopback:
        raise UsageError(
            f"refusing to listen on {address} without TLS: this version serves TCP on "
            "loopback addresses only; use a unix socket or 127.0.0.1:PORT"
        )
