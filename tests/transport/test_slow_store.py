"""A server keeps answering other calls while a large FindMissingBlobs waits on its disk."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Iterable
from pathlib import Path

from grpclib.client import Channel

from embly_build.protocol import pb
from embly_build.server.cas.store import ContentStore
from embly_build.server.factory import create_service
from embly_build.server.service import LOOKUPS_ON_THE_LOOP
from embly_build.server.settings import ServerSettings
from embly_build.transport.address import parse_address
from embly_build.transport.grpc_server import GrpcServer


class StoreOnAHungDisk(ContentStore):
    """Fault injection: lookups hang (an NFS server gone quiet) until the test releases them,
    or for at most `HANG_S`."""

    HANG_S = 5.0

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.entered = threading.Event()
        self.released = threading.Event()
        self.hung_for_the_full_time = False

    def missing(self, digests: Iterable[pb.Digest]) -> list[pb.Digest]:
        self.entered.set()
        self.hung_for_the_full_time = not self.released.wait(self.HANG_S)
        return super().missing(digests)


async def test_a_large_lookup_on_a_hung_disk_does_not_stop_other_calls(tmp_path: Path) -> None:
    sock = tmp_path / "embly.sock"
    service = create_service(ServerSettings(home=tmp_path / "home", jobs=1))
    store = StoreOnAHungDisk(service.settings.store_dir)
    service.store = store
    server = GrpcServer(service)
    await server.start([parse_address(f"unix:{sock}")])
    channel = Channel(path=str(sock))
    try:
        stub = pb.BuildServiceStub(channel)
        digests = [
            pb.Digest(sha256=hashlib.sha256(b"%d" % n).hexdigest(), size_bytes=n)
            for n in range(LOOKUPS_ON_THE_LOOP + 1)
        ]
        lookup = asyncio.ensure_future(
            stub.find_missing_blobs(pb.FindMissingBlobsRequest(digests=digests))
        )
        while not store.entered.is_set():
            await asyncio.sleep(0.01)

        info = await stub.get_server_info(pb.GetServerInfoRequest())
        store.released.set()
        answer = await lookup

        assert info.platform
        assert not store.hung_for_the_full_time, "the other call waited for the hung lookup"
        assert [d.sha256 for d in answer.missing] == [d.sha256 for d in digests]
    finally:
        store.released.set()
        channel.close()
        await server.close()
        await service.close()
