"""Request messages received within MAX_REQUEST_BYTES and decoded strictly, large messages
decoded and encoded off the event loop, so one client's call neither floods the server's
memory nor holds up every other client's calls.

grpclib reads a message's 5-byte prefix, then as many bytes as the prefix claims, and
acknowledges HTTP/2 flow control only as it reads: refused from its prefix, a message's body
is never taken in (beyond one flow-control window). grpclib has no maximum of its own, so
every call a Server takes gets, on grpclib's RecvRequest event, a stream whose
`recv_message` does this reading itself: an over-long message is RESOURCE_EXHAUSTED before
its body is read, an undecodable one INVALID_ARGUMENT (strict_decoding.py), and neither
leaves a traceback in the server's log.

Across all its calls, a server receives at most MAX_RECEIVING_BYTES of messages at once
(`ReceiveBudget`): a message waits for its share, from its prefix, before its body is read,
and then has MESSAGE_ARRIVAL_SECONDS to arrive, so clients that send part of a message and
stall hold neither memory nor shares for long. A call whose next message does not start
within NEXT_MESSAGE_SECONDS ends, so calls that send nothing cannot hold connections.
"""

from __future__ import annotations

import asyncio
import struct
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import betterproto
from grpclib.encoding.proto import ProtoCodec
from grpclib.events import RecvRequest, listen
from grpclib.server import Server, Stream

from embly_build.errors import LimitExceeded, ProtocolError
from embly_build.protocol import pb
from embly_build.protocol.limits import (
    MAX_RECEIVING_BYTES,
    MAX_REQUEST_BYTES,
    MESSAGE_ARRIVAL_SECONDS,
    NEXT_MESSAGE_SECONDS,
    RECEIVE_WAIT_SECONDS,
    MiB,
)
from embly_build.transport.lookup_codec import decode_lookup, encode_lookup_answer
from embly_build.transport.statuses import grpc_status
from embly_build.transport.strict_decoding import decode_request

# A message of this many bytes or more is decoded in a worker thread.
DECODED_ON_THE_LOOP_BYTES = 64 * 1024
# A lookup's answer with more digests than this is encoded in a worker thread.
ENCODED_ON_THE_LOOP_DIGESTS = 256
_PREFIX = struct.Struct(">BI")  # compressed flag, message length
# One thread decodes and encodes for every call: more would contend with the event loop for
# the interpreter lock, and each other, and take no less time in all.
_CODING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embly-coding")
T = TypeVar("T")


@dataclass(frozen=True)
class Encoded:
    """A response message already encoded, sent as it is (ServerCodec)."""

    data: bytes


class ServerCodec(ProtoCodec):
    """grpclib's protobuf codec, which also sends `Encoded` messages as they are."""

    def encode(self, message: Any, message_type: Any) -> bytes:
        if isinstance(message, Encoded):
            return message.data
        return super().encode(message, message_type)


class ReceiveBudget:
    """The bytes of request messages a server receives at once, across all its calls: each
    message waits for its share, in the order their prefixes came, before its body is read,
    then has `arrival_s` to arrive; either wait too long is RESOURCE_EXHAUSTED."""

    def __init__(
        self,
        total: int = MAX_RECEIVING_BYTES,
        *,
        wait_s: float = RECEIVE_WAIT_SECONDS,
        arrival_s: float = MESSAGE_ARRIVAL_SECONDS,
        next_message_s: float = NEXT_MESSAGE_SECONDS,
    ) -> None:
        self._total = total
        self._free = total
        self._wait_s = wait_s
        self._arrival_s = arrival_s
        self.next_message_s = next_message_s  # for a message's prefix (BoundedStream)
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    async def receive(self, read: Callable[[int], Awaitable[bytes]], length: int) -> bytes:
        """`read(length)`, once a share of `length` bytes is free, within the time limits."""
        await self._take(length)
        try:
            async with asyncio.timeout(self._arrival_s):
                return await read(length)
        except TimeoutError:
            raise LimitExceeded(
                f"the request message of {length} bytes did not arrive within "
                f"{self._arrival_s:.0f} s of its prefix: send each message whole, without "
                "pausing"
            ) from None
        finally:
            self._give(length)

    async def _take(self, length: int) -> None:
        if not self._waiting and length <= self._free:
            self._free -= length
            return
        granted = asyncio.get_running_loop().create_future()
        self._waiting.append((length, granted))
        try:
            await asyncio.wait_for(granted, self._wait_s)
        except BaseException as error:
            if granted.done() and not granted.cancelled():
                self._give(length)  # granted as the wait ended
            else:
                granted.cancel()
                self._grant()  # those behind it may fit now
            if isinstance(error, TimeoutError):
                raise LimitExceeded(
                    f"the server is receiving {self._total // MiB} MiB of requests at once, "
                    f"its most, and this message of {length} bytes waited "
                    f"{self._wait_s:.0f} s for room: try again later"
                ) from None
            raise

    def _give(self, length: int) -> None:
        self._free += length
        self._grant()

    def _grant(self) -> None:
        while self._waiting:
            length, granted = self._waiting[0]
            if not granted.done() and length > self._free:
                return
            self._waiting.popleft()
            if not granted.done():  # else it has stopped waiting
                self._free -= length
                granted.set_result(None)


def bound_requests(
    server: Server, services: Collection[Any], budget: ReceiveBudget | None = None
) -> None:
    """Have every call of `services` (grpclib servables, all of those `server` serves) read
    its requests through a `BoundedStream`, within `budget` (the server's, shared by all its
    listeners)."""
    shared = budget or ReceiveBudget()
    request_types: Mapping[str, type] = {
        name: handler.request_type
        for service in services
        for name, handler in service.__mapping__().items()
    }

    async def on_request(event: RecvRequest) -> None:
        handler = event.method_func
        request_type = request_types[event.method_name]

        async def bounded(stream: Stream[Any, Any]) -> None:
            # The generated handlers use only recv_message, iteration and send_message.
            bounded_stream = BoundedStream(stream, request_type, shared)
            await handler(cast(Stream[Any, Any], bounded_stream))

        event.method_func = bounded

    listen(server, RecvRequest, on_request)


class BoundedStream:
    """A call's grpclib stream whose messages are read within MAX_REQUEST_BYTES and decoded
    strictly, and whose large messages are decoded and encoded in a worker thread."""

    def __init__(self, stream: Stream[Any, Any], request_type: type, budget: ReceiveBudget) -> None:
        self._stream = stream
        self._request_type = request_type
        self._budget = budget

    async def recv_message(self) -> Any:
        with grpc_status():
            data = await self._receive()
            if data is None:
                return None
            if len(data) < DECODED_ON_THE_LOOP_BYTES:
                return _decode(data, self._request_type)
            return await _off_the_loop(_decode, data, self._request_type)

    def __aiter__(self) -> BoundedStream:
        return self

    async def __anext__(self) -> Any:
        message = await self.recv_message()
        if message is None:
            raise StopAsyncIteration
        return message

    async def send_message(self, message: Any) -> None:
        if isinstance(message, pb.FindMissingBlobsResponse):
            if len(message.missing) <= ENCODED_ON_THE_LOOP_DIGESTS:
                message = Encoded(encode_lookup_answer(message))
            else:
                message = Encoded(await _off_the_loop(encode_lookup_answer, message))
        await self._stream.send_message(message)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    async def _receive(self) -> bytes | None:
        """The next message's bytes; None when the caller has sent its last."""
        # grpclib's HTTP/2 stream, whose reads acknowledge flow control as they go.
        wire = self._stream._stream
        try:
            prefix = await self._prefix(wire)
            if not prefix:
                return None
            compressed, length = _PREFIX.unpack(prefix)
            if compressed:
                raise ProtocolError("the request is compressed: send messages uncompressed")
            if length > MAX_REQUEST_BYTES:
                raise LimitExceeded(
                    f"the request message is {length} bytes ({length / MiB:.1f} MiB); this "
                    f"server takes at most {MAX_REQUEST_BYTES} bytes "
                    f"({MAX_REQUEST_BYTES // MiB} MiB) in one message"
                )
            if length == 0:
                return b""
            return await self._budget.receive(wire.recv_data, length)
        except AssertionError:  # grpclib's buffer, when the stream ends before the bytes do
            raise ProtocolError("the request ends in the middle of a message") from None

    async def _prefix(self, wire: Any) -> bytes:
        waited = self._budget.next_message_s
        try:
            async with asyncio.timeout(waited):
                prefix: bytes = await wire.recv_data(_PREFIX.size)
                return prefix
        except TimeoutError:
            raise LimitExceeded(
                f"no request message came within {waited:g} s on an open call: send each "
                "message as soon as it is ready, and end the call's requests when done"
            ) from None


def _decode(data: bytes, message_type: type) -> Any:
    if message_type is pb.FindMissingBlobsRequest:
        return decode_lookup(data)
    if issubclass(message_type, betterproto.Message):
        return decode_request(data, message_type)
    try:  # another service's (grpc.health.v1): protobuf's own decoder is strict
        return ProtoCodec().decode(data, cast(Any, message_type))
    except Exception as error:
        raise ProtocolError(
            f"the request is not a valid {message_type.__name__} message: {error}"
        ) from None


async def _off_the_loop(work: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_CODING, work, *args)
