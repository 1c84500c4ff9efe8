"""The same build through a real grpclib server on a unix socket gives the same artifacts."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from embly_build import connect
from embly_build.server.factory import create_service
from embly_build.server.grpc_server import GrpcServer
from embly_build.server.settings import ServerSettings
from embly_build.transport.address import parse_address


@pytest.fixture
async def socket_server(tmp_path: Path) -> AsyncIterator[str]:
    address = f"unix:{tmp_path / 'server' / 'embly.sock'}"
    service = create_service(ServerSettings(home=tmp_path / "server-home", jobs=2))
    server = GrpcServer(service)
    await server.start([parse_address(address)])
    try:
        yield address
    finally:
        await server.close()
        await service.close()
    assert not (tmp_path / "server" / "embly.sock").exists(), "socket file removed on close"


def digests(output_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in output_dir.iterdir()}


@pytest.mark.slow
async def test_unix_socket_build_matches_in_process_build(
    project: Path, tmp_path: Path, socket_server: str
) -> None:
    async with connect(settings=ServerSettings(home=tmp_path / "inproc-home", jobs=2)) as client:
        local = await client.build(project)
    assert all(r.ok for r in local), [r.error for r in local]
    in_process = digests(project / "embly_build")

    for artifact in (project / "embly_build").iterdir():
        artifact.unlink()
    async with connect(socket_server) as client:
        remote = await client.build(project)
        info = await client.server_info()
    assert all(r.ok for r in remote), [r.error for r in remote]
    assert digests(project / "embly_build") == in_process
    assert len(in_process) == 6
    assert info.store.action_cache_entries == 3
    assert info.runtimes == ["rust"]
    (toolchain,) = info.toolchains
    assert toolchain.runtime == "rust" and toolchain.store_path.startswith("/nix/store/")
    assert toolchain.wasm_target in ("wasm32-wasi", "wasm32-wasip1")
    assert "rustc" in toolchain.versions
