"""Checks of embly.hcl's shape: its top-level names, each block's name and attributes, the
types of their values and the functions references name. Each error says where in the file,
and what to do."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from embly_build.client.config.hcl_model import Attribute, Block, Body
from embly_build.errors import ConfigError, SourceLocation

_BLOCK_TYPES = ("function", "files", "gateway", "database")
_TOP_LEVEL_NAMES = (*_BLOCK_TYPES, "dependencies")
# `$${` is HCL's escape for a literal `${`, so it is not a reference.
_FUNCTION_REFERENCE = re.compile(r"(?<!\$)\$\{\s*function\.([A-Za-z0-9_-]+)")


def check_top_level(body: Body) -> None:
    """Every top-level item is a known block, or `dependencies`."""
    known = ", ".join(_TOP_LEVEL_NAMES)
    for item in body.items():
        if isinstance(item, Block) and item.type not in _BLOCK_TYPES:
            hint = (
                "write `dependencies = [...]`"
                if item.type == "dependencies"
                else "remove it or fix the spelling"
            )
            message = f"unknown block '{item.type}'; known top-level names: {known}; {hint}"
            raise ConfigError(message, item.location)
        if isinstance(item, Attribute) and item.name != "dependencies":
            hint = (
                f'write it as a block: `{item.name} "NAME" {{ ... }}`'
                if item.name in _BLOCK_TYPES
                else "remove it or fix the spelling"
            )
            message = f"unknown attribute '{item.name}'; known top-level names: {known}; {hint}"
            raise ConfigError(message, item.location)


@dataclass(frozen=True)
class StringAttribute:
    """A string attribute's value, and where it is written."""

    value: str
    location: SourceLocation


def block_name(block: Block) -> str:
    """The one label of a `function` or `files` block."""
    if len(block.labels) == 1:
        return block.labels[0]
    got = ", ".join(quoted(label) for label in block.labels) or "none"
    raise ConfigError(
        f"a {block.type} block takes exactly one name, got {got};"
        f' write `{block.type} "NAME" {{ ... }}`',
        block.location,
    )


def check_attribute_names(block: Block, name: str, allowed: Sequence[str]) -> None:
    """The block `name` holds only attributes of the `allowed` names, and no block."""
    allowed_list = ", ".join(allowed)
    for attribute in block.body.attributes.values():
        if attribute.name not in allowed:
            raise ConfigError(
                f"unknown attribute '{attribute.name}' in {block.type} {quoted(name)};"
                f" allowed attributes: {allowed_list}; remove it or fix the spelling",
                attribute.location,
            )
    for nested in block.body.blocks:
        raise ConfigError(
            f"{block.type} {quoted(name)} takes no nested blocks, found '{nested.type}';"
            f" allowed attributes: {allowed_list}",
            nested.location,
        )


def required_string(block: Block, name: str, key: str, example: str) -> StringAttribute:
    """Attribute `key` of the block `name`, which must be a quoted string (as `example`)."""
    attribute = block.body.attributes.get(key)
    if attribute is None:
        raise ConfigError(
            f"{block.type} {quoted(name)} has no `{key}`; add `{key} = {example}`", block.location
        )
    if not (attribute.literal and isinstance(attribute.value, str)):
        raise ConfigError(
            f"`{key}` of {block.type} {quoted(name)} must be a quoted string, e.g."
            f" `{key} = {example}`; got {describe(attribute)}",
            attribute.location,
        )
    return StringAttribute(attribute.value, attribute.location)


def is_string_list(attribute: Attribute) -> bool:
    value = attribute.value
    return attribute.literal and isinstance(value, list) and all(isinstance(v, str) for v in value)


def describe(attribute: Attribute) -> str:
    """What the user wrote, for a message saying it has the wrong type."""
    if not attribute.literal:
        return "an expression; write the value out in quotes"
    return describe_literal(attribute.value)


def describe_literal(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {quoted(value)}"
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        wrong = [item for item in value if not isinstance(item, str)]
        return f"a list holding {describe_literal(wrong[0])}" if wrong else "a list"
    return "an object"


def quoted(text: str) -> str:
    """Quote a name or path from the file for a message, escaping newlines and the like."""
    return f"'{text}'" if text.isprintable() else repr(text)


def check_references(body: Body, functions: Collection[str]) -> None:
    """Every `${function.NAME}` anywhere in the file names one of `functions`."""
    declared = ", ".join(functions) or "none"
    for attribute in body.all_attributes():
        for name in _referenced_functions(attribute.value):
            if name not in functions:
                raise ConfigError(
                    f"unknown function '{name}' in reference ${{function.{name}}};"
                    f" declared functions: {declared}; fix the name or add a"
                    f' `function "{name}"` block',
                    attribute.location,
                )


def _referenced_functions(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield from _FUNCTION_REFERENCE.findall(value)
    elif isinstance(value, list):
        for item in value:
            yield from _referenced_functions(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _referenced_functions(key)
            yield from _referenced_functions(item)
