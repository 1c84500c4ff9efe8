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
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import betterproto
from grpclib.encoding.proto import ProtoCodec
from grpclib.events import RecvRequest, listen
from grpclib.server import Server, Stream

from embly_build.errors import LimitExceeded, ProtocolError
from embly_build.protocol import pb
from embly_build.protocol.limits import MAX_REQUEST_BYTES, MiB
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


def bound_requests(server: Server, services: Collection[Any]) -> None:
    """Have every call of `services` (grpclib servables, all of those `server` serves) read
    its requests through a `BoundedStream`."""
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
            await handler(cast(Stream[Any, Any], BoundedStream(stream, request_type)))

        event.method_func = bounded

    listen(server, RecvRequest, on_request)


class BoundedStream:
    """A call's grpclib stream whose messages are read within MAX_REQUEST_BYTES and decoded
    strictly, and whose large messages are decoded and encoded in a worker thread."""

    def __init__(self, stream: Stream[Any, Any], request_type: type) -> None:
        self._stream = stream
        self._request_type = request_type

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
            prefix = await wire.recv_data(_PREFIX.size)
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
            return await wire.recv_data(length)
        except AssertionError:  # grpclib's buffer, when the stream ends before the bytes do
            raise ProtocolError("the request ends in the middle of a message") from None


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
