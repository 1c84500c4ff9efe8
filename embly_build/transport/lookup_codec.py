"""FindMissingBlobs messages decoded and encoded by hand: a lookup carries thousands of
digests, and betterproto's generic decoder and encoder take several times as long on one
(the server's CPU, and the time other calls wait for the interpreter lock).

A request whose digests are all encoded as a client encodes them (sha256 then size, the
size left out when 0, nothing else) is read with one pattern; any other encoding is
decoded strictly by strict_decoding.py, to the same messages.
"""

from __future__ import annotations

import re

from embly_build.protocol import pb
from embly_build.protocol.input_trees import varint
from embly_build.protocol.limits import MAX_ENTRIES_PER_FIELD
from embly_build.transport.strict_decoding import decode_request

_UINT64 = 1 << 64
_INT64_SIGN = 1 << 63
# One `digests` entry: tag, length, then Digest.sha256 (64 lowercase hex characters) and
# Digest.size_bytes (a varint of at most 10 bytes), if not 0.
_ENTRY = re.compile(
    rb"\x0a([\x42-\x4d])\x0a\x40([0-9a-f]{64})(?:\x10([\x80-\xff]{0,9}[\x00-\x7f]))?"
)
_SHA256_ONLY = 0x42  # an entry's length without a size


def decode_lookup(data: bytes) -> pb.FindMissingBlobsRequest:
    """`data` as a FindMissingBlobsRequest; a ProtocolError as `decode_request` gives."""
    digests: list[pb.Digest] = []
    position = 0
    for entry in _ENTRY.finditer(data):
        raw_size = entry[3] or b""
        size = _int64(raw_size)
        if (
            entry.start() != position
            or entry[1][0] != _SHA256_ONLY + (len(raw_size) + 1 if raw_size else 0)
            or size is None
            or len(digests) == MAX_ENTRIES_PER_FIELD
        ):
            break
        digests.append(pb.Digest(sha256=entry[2].decode(), size_bytes=size))
        position = entry.end()
    if position != len(data):
        return decode_request(data, pb.FindMissingBlobsRequest)
    return pb.FindMissingBlobsRequest(digests=digests)


def encode_lookup_answer(response: pb.FindMissingBlobsResponse) -> bytes:
    """The response's protobuf encoding, byte for byte what betterproto gives."""
    entries = []
    for digest in response.missing:
        sha256, size = digest.sha256.encode(), digest.size_bytes
        encoded = b"\x0a%s%s" % (varint(len(sha256)), sha256) if sha256 else b""
        if size:
            encoded += b"\x10%s" % varint(size % _UINT64)
        entries.append(b"\x0a%s%s" % (varint(len(encoded)), encoded))
    return b"".join(entries)


def _int64(raw: bytes) -> int | None:
    """An int64 from its varint bytes; None for one over 64 bits."""
    value = 0
    for shift, byte in enumerate(raw):
        value |= (byte & 0x7F) << (7 * shift)
    if value >= _UINT64:
        return None
    return value - _UINT64 if value & _INT64_SIGN else value
