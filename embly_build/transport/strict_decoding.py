"""Requests decoded strictly: bytes that are not a valid message of the expected type are a
ProtocolError saying what is wrong, never a message with fields of the wrong type.

betterproto decodes what it can and trusts the rest: a field with wire type 7 becomes None,
a string field sent as a number an int, a truncated varint an IndexError. So the wire bytes
are first scanned against the message's schema (read from the generated classes): every
tag and length in bounds, every known field with its declared wire type, every string
UTF-8, nested messages likewise, and no repeated field over MAX_ENTRIES_PER_FIELD entries
(a LimitExceeded). Only then does betterproto decode them.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

import betterproto

from embly_build.errors import LimitExceeded, ProtocolError
from embly_build.protocol.limits import MAX_ENTRIES_PER_FIELD

M = TypeVar("M", bound=betterproto.Message)

# How a field's value travels: the wire types it may come as.
_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5
_WIRE_NAMES = {_VARINT: "varint", _FIXED64: "fixed64", _LENGTH: "length-delimited"}
_WIRE_NAMES[_FIXED32] = "fixed32"
_SCALAR_WIRE = {
    **{kind: _VARINT for kind in betterproto.WIRE_VARINT_TYPES},
    **{kind: _FIXED64 for kind in betterproto.WIRE_FIXED_64_TYPES},
    **{kind: _FIXED32 for kind in betterproto.WIRE_FIXED_32_TYPES},
}
_FIXED_WIDTH = {_FIXED64: 8, _FIXED32: 4}


@dataclass(frozen=True)
class _Field:
    name: str
    proto_type: str  # betterproto's: "string", "int64", "message", ...
    repeated: bool
    message: type[betterproto.Message] | None  # of a message or map field


def decode_request(data: bytes, message_type: type[M]) -> M:
    """`data` as a `message_type`: a ProtocolError (a LimitExceeded for too many entries)
    naming the message and the fault when it is not one."""
    _Scan(data, message_type.__name__).message(0, len(data), message_type)
    try:
        return message_type().parse(data)
    except Exception as error:  # the scan let through something betterproto cannot take
        raise ProtocolError(
            f"the request is not a valid {message_type.__name__} message: {error}"
        ) from None


@cache
def _schema(message_type: type[betterproto.Message]) -> dict[int, _Field]:
    hints = typing.get_type_hints(message_type)
    generated: Any = message_type  # a dataclass, with betterproto's metadata
    classes = generated._betterproto.cls_by_field
    fields = {}
    for field in dataclasses.fields(generated):
        meta = betterproto.FieldMetadata.get(field)
        repeated = typing.get_origin(hints[field.name]) is list
        nested = meta.proto_type in (betterproto.TYPE_MESSAGE, betterproto.TYPE_MAP)
        message = classes[field.name] if nested else None
        fields[meta.number] = _Field(field.name, meta.proto_type, repeated, message)
    return fields


class _Scan:
    """One pass over a message's bytes, raising at the first fault."""

    def __init__(self, data: bytes, request_name: str) -> None:
        self._data = data
        self._request = request_name

    def message(self, start: int, end: int, message_type: type[betterproto.Message]) -> None:
        schema = _schema(message_type)
        counts: dict[int, int] = {}
        position = start
        while position < end:
            at = position
            key, position = self._varint(position, end)
            number, wire = key >> 3, key & 7
            if number == 0:
                self._fail(f"a field numbered 0 at byte {at}")
            if wire == _VARINT:
                _, stop = self._varint(position, end)
            elif wire in _FIXED_WIDTH:
                stop = position + _FIXED_WIDTH[wire]
                if stop > end:
                    self._fail(f"a fixed-width value is cut short at byte {position}")
            elif wire == _LENGTH:
                length, position = self._varint(position, end)
                stop = position + length
                if stop > end:
                    self._fail(f"a length of {length} bytes at byte {position} runs past its end")
            else:
                self._fail(f"wire type {wire} at byte {at} (only 0, 1, 2 and 5 are used)")
            field = schema.get(number)
            if field is not None:
                entries = self._field(field, message_type, wire, position, stop)
                if field.repeated:
                    counts[number] = counts.get(number, 0) + entries
                    if counts[number] > MAX_ENTRIES_PER_FIELD:
                        raise LimitExceeded(
                            f"the request is too large: its {message_type.__name__}."
                            f"{field.name} has more than {MAX_ENTRIES_PER_FIELD} entries, "
                            f"the most this server takes in one message"
                        )
            position = stop

    def _field(
        self, field: _Field, owner: type[betterproto.Message], wire: int, start: int, stop: int
    ) -> int:
        """Check one occurrence of a known field; return how many entries it holds."""
        scalar_wire = _SCALAR_WIRE.get(field.proto_type)
        if scalar_wire is not None and wire == scalar_wire:
            return 1
        if scalar_wire is not None and wire == _LENGTH and field.repeated:  # packed
            return self._packed(scalar_wire, start, stop, field, owner)
        expected = _LENGTH if scalar_wire is None else scalar_wire
        if wire != expected:
            self._fail(
                f"{owner.__name__}.{field.name} ({field.proto_type}) comes as a "
                f"{_WIRE_NAMES[wire]} value at byte {start}"
            )
        if field.proto_type == betterproto.TYPE_STRING:
            try:
                self._data[start:stop].decode("utf-8")
            except UnicodeDecodeError:
                self._fail(f"{owner.__name__}.{field.name} at byte {start} is not UTF-8 text")
        elif field.message is not None:
            self.message(start, stop, field.message)
        return 1

    def _packed(
        self, wire: int, start: int, stop: int, field: _Field, owner: type[betterproto.Message]
    ) -> int:
        if wire in _FIXED_WIDTH:
            width = _FIXED_WIDTH[wire]
            if (stop - start) % width:
                self._fail(
                    f"{owner.__name__}.{field.name} at byte {start}: a packed list cut short"
                )
            return (stop - start) // width
        entries = 0
        position = start
        while position < stop:
            _, position = self._varint(position, stop)
            entries += 1
        return entries

    def _varint(self, position: int, end: int) -> tuple[int, int]:
        data = self._data
        value = shift = 0
        start = position
        while position < end and shift < 64:
            byte = data[position]
            position += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                if value >> 64:
                    break
                return value, position
            shift += 7
        if position >= end and (position == start or data[position - 1] >= 0x80):
            self._fail(f"a varint is cut short at byte {start}")
        self._fail(f"a varint at byte {start} is longer than 64 bits")

    def _fail(self, fault: str) -> typing.NoReturn:
        raise ProtocolError(f"the request is not a valid {self._request} message: {fault}")
