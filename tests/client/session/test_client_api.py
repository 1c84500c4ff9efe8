"""`await client.build(...)` as a Python user calls it: what it returns and what it refuses."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from embly_build import ClientEvent, connect
from embly_build.client.session.events import LogLine
from embly_build.errors import ServerError, UsageError
from embly_build.server.factory import create_service
from embly_build.server.settings import ServerSettings
from embly_build.transport.address import parse_address
from embly_build.transport.grpc_server import GrpcServer
from tests.helpers import embly_serve


@pytest.mark.slow
async def test_results_come_in_the_order_asked_and_a_str_is_one_function(project: Path) -> None:
    async with connect() as client:
        everything = await client.build(project)
        asked = await client.build(project, ["shout", "greeter"])
        one = await client.build(project, "counter")

    assert [r.function for r in everything] == ["greeter", "counter", "shout"], "embly.hcl's"
    assert [r.function for r in asked] == ["shout", "greeter"]
    assert [(r.function, r.status) for r in one] == [("counter", "ok")]


@pytest.mark.slow
async def test_a_failed_build_carries_the_compilers_output(project: Path) -> None:
    main_rs = project / "greeter" / "src" / "main.rs"
    main_rs.write_text(main_rs.read_text() + "\nfn oops(\n")

    async with connect() as client:
        [result] = await client.build(project, ["greeter"])

    assert result.status == "failed"
    assert "cargo build failed" in result.error
    text = "\n".join(result.output)
    assert "error: " in text and f"{main_rs}" in text, "rustc's diagnostic, with the user's path"
    assert "output" not in result.to_json(), "--json sent those lines as log events already"


@pytest.mark.parametrize("transport", ["inproc", "unix"])
async def test_a_client_used_after_its_block_ends_says_so(
    project: Path, tmp_path: Path, transport: str
) -> None:
    service = create_service(ServerSettings(home=tmp_path / "server-home"))
    server = GrpcServer(service)
    address = f"unix:{tmp_path / 'embly.sock'}" if transport == "unix" else "inproc"
    if transport == "unix":
        await server.start([parse_address(address)])
    try:
        async with connect(address) as client:
            await client.server_info()

        with pytest.raises(UsageError, match="this client is closed"):
            await client.server_info()
        with pytest.raises(UsageError, match="its `async with connect\\(\\)` block has ended"):
            await client.build(project, ["greeter"])
        assert not (project / "embly_build").exists(), "nothing was built"
    finally:
        await server.close()
        await service.close()


async def test_an_async_callback_is_refused_before_anything_is_built(project: Path) -> None:
    async def on_event(event: ClientEvent) -> None:
        pass

    async with connect() as client:
        with pytest.raises(TypeError, match="must not be async"):
            await client.build(project, ["greeter"], on_event=on_event)  # type: ignore[arg-type]

    assert not (project / "embly_build").exists()


@pytest.mark.slow
async def test_a_server_gone_mid_build_is_said_as_lost_not_unreachable(
    project: Path, tmp_path: Path
) -> None:
    sock = tmp_path / "embly.sock"
    compiling = asyncio.Event()

    def on_event(event: ClientEvent) -> None:
        if isinstance(event, LogLine) and event.step == "compile":
            compiling.set()

    with embly_serve(sock, tmp_path / "state") as server:
        async with connect(f"unix:{sock}") as client:
            build = asyncio.ensure_future(client.build(project, ["greeter"], on_event=on_event))
            await asyncio.wait_for(compiling.wait(), 120)
            server.send_signal(signal.SIGKILL)
            with pytest.raises(ServerError) as caught:
                await build
    assert str(caught.value).startswith(f"lost the connection to the build server at unix:{sock}")
