"""The same build through a real grpclib server on a unix socket gives the same artifacts."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from embly_build import Client, connect
from embly_build.client.inputs.index import index_function
from embly_build.client.records.sent_trees import SentTrees
from embly_build.client.session.events import BuildFinished, LogLine
from embly_build.protocol import pb
from embly_build.server.settings import ServerSettings
from embly_build.transport.api import BuildApi
from embly_build.transport.connection import Connection, open_connection
from embly_build.wasm.aot import wasmtime_version
from tests.api_wrapper import PassThroughApi


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


class RecordingApi(PassThroughApi):
    """The real API over the socket, recording what the client sends through it."""

    def __init__(self, api: BuildApi) -> None:
        super().__init__(api)
        self.digests_asked: list[int] = []  # per FindMissingBlobs call
        self.blobs_sent: list[str] = []
        self.tree_nodes_sent = 0  # in Build requests

    async def find_missing_blobs(
        self, request: pb.FindMissingBlobsRequest
    ) -> pb.FindMissingBlobsResponse:
        self.digests_asked.append(len(request.digests))
        return await self.api.find_missing_blobs(request)

    async def upload_blobs(self, chunks: AsyncIterator[pb.BlobChunk]) -> pb.UploadBlobsResponse:
        async def recorded() -> AsyncIterator[pb.BlobChunk]:
            async for chunk in chunks:
                if chunk.last:
                    self.blobs_sent.append(chunk.digest.sha256)
                yield chunk

        return await self.api.upload_blobs(recorded())

    async def upload_blob_batch(self, batch: pb.BlobBatch) -> pb.UploadBlobsResponse:
        self.blobs_sent += batch.sha256
        return await self.api.upload_blob_batch(batch)

    def build(self, request: pb.BuildRequest) -> AsyncIterator[pb.BuildEvent]:
        self.tree_nodes_sent += len(request.input_tree.files)
        return self.api.build(request)


@pytest.mark.slow
async def test_a_build_with_nothing_changed_sends_one_small_question(
    project: Path, connection: Connection
) -> None:
    """Only the three trees' digests: no file digest, no tree, no blob."""
    first = await Client(connection.api).build(project)
    assert all(r.ok for r in first), [r.error for r in first]

    api = RecordingApi(connection.api)
    again = await Client(api).build(project)
    assert all(r.cache_hit for r in again)
    assert (api.digests_asked, api.blobs_sent, api.tree_nodes_sent) == ([3], [], 0)

    main_rs = project / "greeter" / "src" / "main.rs"
    main_rs.write_text(main_rs.read_text().replace('"{}"', '"{}!"'))
    api = RecordingApi(connection.api)
    edited = {r.function: r for r in await Client(api).build(project)}
    assert not edited["greeter"].cache_hit and edited["counter"].cache_hit
    edited_sha256 = hashlib.sha256(main_rs.read_bytes()).hexdigest()
    assert api.blobs_sent[0] == edited_sha256 and len(api.blobs_sent) == 2, "then its tree"
    assert edited["greeter"].uploaded_bytes == main_rs.stat().st_size


@pytest.mark.slow
async def test_a_tree_sent_inline_is_the_same_action_as_by_digest(
    project: Path, connection: Connection
) -> None:
    """For clients that send the tree in the request: the same key, so the same cache entry."""
    client = Client(connection.api)
    (by_digest,) = await client.build(project, ["greeter"])
    assert by_digest.ok, by_digest.error
    inputs = index_function(project / "greeter", [], project / "embly_build")
    request = pb.BuildRequest(
        project_id="inline",
        function=pb.FunctionSpec(name="greeter", runtime="rust", path=inputs.crate_dir),
        input_tree=pb.InputTree(
            files=[
                pb.FileNode(
                    path=f.path,
                    digest=pb.Digest(sha256=f.sha256, size_bytes=f.size),
                    executable=f.executable,
                )
                for f in reversed(inputs.files)  # any order: the digest sorts them
            ]
        ),
        target=client.target,
        options=pb.BuildOptions(
            strip=True, opt_level="O2", aot=True, wasmtime_version=wasmtime_version()
        ),
    )
    events = [event async for event in connection.api.build(request)]
    finished = events[-1].finished
    assert finished.status == pb.BuildStatus.SUCCEEDED, finished.error
    assert (finished.cache_hit, finished.action_digest) == (True, by_digest.action_digest)


@pytest.mark.slow
async def test_quick_first_sends_the_stripped_artifacts_before_the_optimised_ones(
    project: Path, connection: Connection
) -> None:
    """The quick result is written and reported first; once the optimised build is cached,
    it comes alone. A quick result's .cwasm is compiled without Cranelift's optimisations,
    so a build asked for without wasm-opt is not served it: it makes its own."""
    client = Client(connection.api, opt_level="O2")
    wasm, cwasm = (project / "embly_build" / f"greeter.{kind}" for kind in ("wasm", "cwasm"))
    written: list[tuple[bytes, bytes]] = []
    results = []
    async for event in client.build_events(project, ["greeter"], quick_first=True):
        if isinstance(event, BuildFinished):
            written.append((wasm.read_bytes(), cwasm.read_bytes()))
            results.append(event)
    quick, optimised = results
    assert (quick.ok, quick.optimising, quick.opt_level) == (True, True, "none")
    assert (optimised.ok, optimised.optimising, optimised.opt_level) == (True, False, "O2")
    assert len(written[1][0]) < len(written[0][0]), "wasm-opt made it smaller"
    assert quick.action_digest != optimised.action_digest

    (stripped_only,) = await Client(connection.api, opt_level="none").build(project, ["greeter"])
    assert stripped_only.cache_hit is False
    assert stripped_only.action_digest not in (quick.action_digest, optimised.action_digest)
    assert wasm.read_bytes() == written[0][0], "the same stripped module"
    assert cwasm.read_bytes() != written[0][1], "a .cwasm compiled with Cranelift's optimisations"

    again = [
        event
        async for event in client.build_events(project, ["greeter"], quick_first=True)
        if isinstance(event, BuildFinished)
    ]
    assert [(r.cache_hit, r.optimising, r.action_digest) for r in again] == [
        (True, False, optimised.action_digest)
    ]
    assert (wasm.read_bytes(), cwasm.read_bytes()) == written[1]


@pytest.mark.slow
async def test_an_edit_asks_only_about_files_new_since_the_last_tree_sent(
    project: Path, connection: Connection, tmp_path: Path
) -> None:
    """Also from a new client (the next `embly build`): the record is kept on disk."""
    sent_trees = tmp_path / "sent-trees"
    first = await Client(connection.api, sent_trees=SentTrees(sent_trees)).build(project)
    assert all(r.ok for r in first), [r.error for r in first]

    main_rs = project / "greeter" / "src" / "main.rs"
    main_rs.write_text(main_rs.read_text().replace('"{}"', '"{}?"'))
    api = RecordingApi(connection.api)
    edited = await Client(api, sent_trees=SentTrees(sent_trees)).build(project, ["greeter"])
    assert edited[0].ok and edited[0].uploaded_bytes == main_rs.stat().st_size
    assert api.digests_asked == [1, 2], "the tree, then only the edited file and the new tree"


@pytest.mark.slow
async def test_a_server_that_lost_what_was_sent_to_it_gets_everything_again(
    project: Path, connection: Connection, tmp_path: Path
) -> None:
    """As when a new server (an empty store) takes over the address: the record says its
    files were sent, the build finds them missing, and the client sends them all."""
    sent_trees = tmp_path / "sent-trees"
    (first,) = await Client(connection.api, sent_trees=SentTrees(sent_trees)).build(
        project, ["greeter"]
    )
    assert first.ok, first.error
    main_rs = project / "greeter" / "src" / "main.rs"
    main_rs.write_text(main_rs.read_text().replace('"{}"', '"{}?"'))

    fresh = open_connection("inproc", settings=ServerSettings(home=tmp_path / "new", jobs=2))
    try:
        client = Client(fresh.api, sent_trees=SentTrees(sent_trees))
        logs: list[str] = []
        (again,) = await client.build(project, ["greeter"], on_event=_log_texts(logs))
    finally:
        await fresh.close()
    assert again.ok, again.error
    assert (
        "inputs missing from the server's store (trimmed by gc, or found corrupt there);"
        " sending them again" in logs
    )
    assert again.uploaded_bytes > main_rs.stat().st_size, "every input file"


def _log_texts(into: list[str]) -> Callable[[object], None]:
    def collect(event: object) -> None:
        if isinstance(event, LogLine):
            into.append(event.text)

    return collect
