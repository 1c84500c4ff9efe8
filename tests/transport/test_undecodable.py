"""Bytes that are not a valid message of the call's type are INVALID_ARGUMENT, saying what
is wrong, with no traceback in the server's log; the server answers the next call."""

from __future__ import annotations

import hashlib
import logging

import pytest
from grpclib.const import Status

from embly_build.protocol import pb
from tests.transport.raw_calls import RawServer, framed

_SHA = hashlib.sha256(b"x").hexdigest().encode()
_DIGEST = b"\x0a\x40" + _SHA + b"\x10\x01"  # Digest(sha256, size_bytes=1)

# (method, message body, expected request type, what the message says)
UNDECODABLE = [
    ("FindMissingBlobs", b"\x0a\x80", "FindMissingBlobsRequest", "varint is cut short"),
    ("FindMissingBlobs", b"\x0a\x02\x0f\x00", "FindMissingBlobsRequest", "wire type 7"),
    ("FindMissingBlobs", b"\x0a\x42\x0a\x40" + b"\xff" * 64, "FindMissingBlobsRequest", "UTF-8"),
    ("FindMissingBlobs", b"\x0a\x02\x08\x07", "FindMissingBlobsRequest", "comes as a varint"),
    ("UploadBlobs", b"\x0a\x10garbage", "BlobChunk", "runs past its end"),
    ("UploadBlobs", b"\x0a\x45" + _DIGEST + b"\x17", "BlobChunk", "wire type 7"),
    ("UploadBlobBatch", b"\x0a\x02\xc3\x28", "BlobBatch", "UTF-8"),
    ("UploadBlobBatch", b"\x12\x02\x01\x80", "BlobBatch", "cut short"),
    ("ReadBlob", b"\x0a\x03\x0a\x01\xfe", "ReadBlobRequest", "UTF-8"),
    ("Build", b"\x12\x02\x0a\x05", "BuildRequest", "runs past its end"),
    ("Build", b"\x12\x02\x0f\x01", "BuildRequest", "wire type 7"),
    ("Build", b"\x0a\x03p\xff1", "BuildRequest", "UTF-8"),
    ("Build", b"\x00\x01", "BuildRequest", "numbered 0"),
    ("GetServerInfo", b"\x08" + b"\xff" * 10 + b"\x01", "GetServerInfoRequest", "64 bits"),
]


@pytest.mark.parametrize(
    ("method", "body", "message_type", "problem"),
    UNDECODABLE,
    ids=[f"{method}-{problem}" for method, _, _, problem in UNDECODABLE],
)
async def test_an_undecodable_message_is_invalid_argument(
    raw_server: RawServer,
    caplog: pytest.LogCaptureFixture,
    method: str,
    body: bytes,
    message_type: str,
    problem: str,
) -> None:
    with caplog.at_level(logging.INFO):
        error = await raw_server.refusal(method, body)
    assert error.status == Status.INVALID_ARGUMENT
    message = error.message or ""
    assert message.startswith(f"the request is not a valid {message_type} message: "), message
    assert problem in message
    assert not [record for record in caplog.records if record.exc_info], "no traceback logged"
    await raw_server.still_answers()


async def test_a_message_cut_short_by_the_end_of_the_call_is_invalid_argument(
    raw_server: RawServer, caplog: pytest.LogCaptureFixture
) -> None:
    whole = framed(bytes(pb.ReadBlobRequest(digest=pb.Digest(sha256=_SHA.decode()))))
    with caplog.at_level(logging.INFO):
        error = await raw_server.refusal_of_frames("ReadBlob", whole[:20])
    assert error.status == Status.INVALID_ARGUMENT
    assert "ends in the middle of a message" in (error.message or "")
    assert not [record for record in caplog.records if record.exc_info]
    await raw_server.still_answers()


async def test_a_compressed_message_is_refused(raw_server: RawServer) -> None:
    error = await raw_server.refusal_of_frames("GetServerInfo", framed(b"", compressed=True))
    assert error.status == Status.INVALID_ARGUMENT
    assert "send messages uncompressed" in (error.message or "")
    await raw_server.still_answers()


async def test_a_valid_message_of_unknown_fields_is_taken(raw_server: RawServer) -> None:
    """Unknown fields of any wire type are skipped, as protobuf does: a newer client's."""
    digest = pb.Digest(sha256=_SHA.decode(), size_bytes=1)
    known = bytes(pb.FindMissingBlobsRequest(digests=[digest]))
    unknown = b"\x78\x05" + b"\x81\x01" + bytes(8) + b"\x8a\x01\x02hi"
    answer = pb.FindMissingBlobsResponse().parse(
        await raw_server.call("FindMissingBlobs", known + unknown)
    )
    assert [d.sha256 for d in answer.missing] == [digest.sha256]
