"""HCL bodies, blocks and attributes that remember where they are in the file."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from embly_build.errors import SourceLocation


@dataclass(frozen=True)
class Attribute:
    name: str
    value: Any
    # Written out in full: no reference, call, operator or template. python-hcl2 gives a bare
    # `rust` and a quoted "rust" the same value, so this is the only way to tell them apart.
    literal: bool
    location: SourceLocation


@dataclass(frozen=True)
class Block:
    type: str
    labels: tuple[str, ...]
    body: Body
    location: SourceLocation

    def to_data(self) -> dict[str, Any]:
        """python-hcl2's shape: the body, nested one dict level per label after the type."""
        data = self.body.to_data()
        for label in reversed(self.labels):
            data = {label: data}
        return data


@dataclass(frozen=True)
class Body:
    attributes: Mapping[str, Attribute]  # names are unique; file order
    blocks: tuple[Block, ...]  # file order

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {name: attr.value for name, attr in self.attributes.items()}
        for block in self.blocks:
            data.setdefault(block.type, []).append(block.to_data())
        return data

    def items(self) -> list[Attribute | Block]:
        """Attributes and blocks together, in file order."""
        items: list[Attribute | Block] = [*self.attributes.values(), *self.blocks]
        return sorted(items, key=lambda item: (item.location.line, item.location.column))

    def blocks_of(self, type_: str) -> tuple[Block, ...]:
        return tuple(block for block in self.blocks if block.type == type_)

    def all_attributes(self) -> Iterator[Attribute]:
        """Every attribute of this body and of all nested blocks, in file order."""
        for item in self.items():
            if isinstance(item, Attribute):
                yield item
            else:
                yield from item.body.all_attributes()
