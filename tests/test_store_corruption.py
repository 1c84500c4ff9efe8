"""A store the disk corrupts cannot poison a build: a corrupted input blob is sent again by
the client and the artifact is built from the real sources; a corrupted artifact blob is
made again by the next build, never served."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from grpclib import GRPCError
from grpclib.const import Status

from embly_build import LogLine, ServerSettings, connect
from embly_build.protocol import pb
from embly_build.transport.connection import open_connection
from tests.helpers import embly

pytestmark = pytest.mark.slow

RESENT = (
    "inputs missing from the server's store (trimmed by gc, or found corrupt there);"
    " sending them again"
)


def blob_path(settings: ServerSettings, data: bytes) -> Path:
    sha256 = hashlib.sha256(data).hexdigest()
    path = settings.store_dir / "blobs" / sha256[:2] / sha256
    assert path.exists(), "the blob was stored"
    return path


def corrupt_in_place(path: Path, old: bytes, new: bytes) -> None:
    """Replace `old` by `new` (as long) in a stored blob, as a bad disk would, keeping its size."""
    assert len(old) == len(new)
    data = path.read_bytes()
    assert old in data
    path.chmod(0o644)
    path.write_bytes(data.replace(old, new, 1))


async def build_greeter(settings: ServerSettings, project: Path) -> tuple[bytes, list[str]]:
    """Build greeter with a fresh in-process server; its wasm and the build's log lines."""
    shutil.rmtree(project / "embly_build", ignore_errors=True)
    logs: list[str] = []
    async with connect(settings=settings) as client:
        (result,) = await client.build(
            project, ["greeter"], lambda e: logs.append(e.text) if isinstance(e, LogLine) else None
        )
    assert result.ok, result.error
    return Path(result.artifacts["wasm"]).read_bytes(), logs


async def test_a_corrupted_input_blob_is_sent_again_and_the_artifact_is_right(
    project: Path, embly_home: Path
) -> None:
    settings = ServerSettings(home=embly_home)
    clean_wasm, _ = await build_greeter(settings, project)
    # The server keeps the uploaded sources, and forgets what it built and where.
    shutil.rmtree(settings.action_cache_dir)
    shutil.rmtree(settings.spaces_dir)
    lib_rs = (project / "common" / "src" / "lib.rs").read_bytes()
    corrupt_in_place(blob_path(settings, lib_rs), b'"Hello, ', b'"Jello, ')

    wasm, logs = await build_greeter(settings, project)

    assert RESENT in logs, "the client was asked for the corrupted blob again"
    assert wasm == clean_wasm, "built from the real sources, byte for byte"
    assert embly("run", "greeter", "--", "Ada", cwd=project).stdout == "Hello, Ada!\n"
    assert blob_path(settings, lib_rs).read_bytes() == lib_rs, "the store holds good bytes again"
    # And what was cached is the right artifact: a rebuild hits the cache with it.
    again, _ = await build_greeter(settings, project)
    assert again == clean_wasm


async def test_a_corrupted_artifact_blob_is_made_again_by_the_next_build(
    project: Path, embly_home: Path
) -> None:
    settings = ServerSettings(home=embly_home)
    clean_wasm, _ = await build_greeter(settings, project)
    stored = blob_path(settings, clean_wasm)
    corrupt_in_place(stored, b"\0asm", b"\0asn")

    wasm, _ = await build_greeter(settings, project)

    assert wasm == clean_wasm
    assert stored.read_bytes() == clean_wasm, "the store holds good bytes again"
    assert embly("run", "greeter", "--", "Ada", cwd=project).stdout == "Hello, Ada!\n"


async def test_a_corrupted_blob_is_never_served(project: Path, embly_home: Path) -> None:
    settings = ServerSettings(home=embly_home)
    clean_wasm, _ = await build_greeter(settings, project)
    corrupt_in_place(blob_path(settings, clean_wasm), b"\0asm", b"\0asn")
    digest = pb.Digest(sha256=hashlib.sha256(clean_wasm).hexdigest(), size_bytes=len(clean_wasm))
    connection = open_connection("inproc", settings=settings)
    try:
        with pytest.raises(GRPCError) as refused:
            async for _ in connection.api.read_blob(pb.ReadBlobRequest(digest=digest)):
                pass
        missing = await connection.api.find_missing_blobs(
            pb.FindMissingBlobsRequest(digests=[digest])
        )
    finally:
        await connection.close()
    assert refused.value.status == Status.NOT_FOUND
    assert "did not match its digest (corrupted on disk)" in str(refused.value.message)
    assert missing.missing == [digest], "removed: the next build stores it again"
