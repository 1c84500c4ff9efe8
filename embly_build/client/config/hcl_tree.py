"""Parse HCL text into bodies, blocks and attributes that remember their positions.

python-hcl2's dict output has no positions and silently keeps the last of two attributes
with the same name, so the structure is read from its lark parse tree and only the values
go through hcl2's own conversion.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import hcl2
from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, VisitError

from embly_build.client.config.hcl_model import Attribute, Block, Body
from embly_build.errors import ConfigError, SourceLocation

# Plain Python values: strings unquoted, heredocs as their text, no comment or block markers.
# Expressions that need evaluation become strings: "${a.b}" for most, the bare name for a lone
# identifier (see Attribute.literal).
_VALUE_OPTIONS = hcl2.SerializationOptions(
    with_comments=False,
    explicit_blocks=False,
    preserve_heredocs=False,
    strip_string_quotes=True,
)
_NAME_NODES = frozenset({"identifier", "keyword", "literal_value"})
_LITERAL_NODES = frozenset(
    {
        "expr_term",
        "string",
        "string_part",
        "int_lit",
        "float_lit",
        "literal_value",
        "tuple",
        "object",
        "object_elem",
        "new_line_or_comment",
    }
)


def parse_hcl(text: str, file: Path) -> Body:
    """The top-level body of an HCL document. Every problem is a ConfigError with a location."""
    try:
        tree = hcl2.parses_to_tree(text)
    except UnexpectedInput as error:
        raise ConfigError(_syntax_message(error), _error_location(error, text, file)) from None
    try:
        return _body(tree.children[0], file)
    except RecursionError:
        raise ConfigError(
            "the file is nested too deeply; simplify it", SourceLocation(file, 1, 1)
        ) from None


def _location(tree: Tree[Any], file: Path) -> SourceLocation:
    return SourceLocation(file, tree.meta.line, tree.meta.column)


def _body(tree: Tree[Any], file: Path) -> Body:
    attributes: dict[str, Attribute] = {}
    blocks: list[Block] = []
    for child in tree.children:
        if isinstance(child, Tree) and child.data == "attribute":
            attribute = _attribute(child, file)
            _check_attribute_is_new(attribute, attributes, blocks)
            attributes[attribute.name] = attribute
        elif isinstance(child, Tree) and child.data == "block":
            block = _block(child, file)
            _check_block_is_new(block, attributes)
            blocks.append(block)
    return Body(attributes, tuple(blocks))


def _check_attribute_is_new(
    attribute: Attribute, attributes: Mapping[str, Attribute], blocks: list[Block]
) -> None:
    earlier = attributes.get(attribute.name)
    if earlier is not None:
        raise ConfigError(
            f"duplicate attribute '{attribute.name}' (first set at line {earlier.location.line});"
            " remove one of them",
            attribute.location,
        )
    for block in blocks:
        if block.type == attribute.name:
            raise ConfigError(_name_clash_message(attribute, block), attribute.location)


def _check_block_is_new(block: Block, attributes: Mapping[str, Attribute]) -> None:
    attribute = attributes.get(block.type)
    if attribute is not None:
        raise ConfigError(_name_clash_message(attribute, block), block.location)


def _name_clash_message(attribute: Attribute, block: Block) -> str:
    return (
        f"'{block.type}' is used both as an attribute (line {attribute.location.line})"
        f" and as a block (line {block.location.line}); rename or remove one of them"
    )


def _attribute(tree: Tree[Any], file: Path) -> Attribute:
    name_node, _equals, expression = tree.children
    location = _location(tree, file)
    value = _value(expression, location)
    return Attribute(_name(name_node), value, _is_literal(expression), location)


def _block(tree: Tree[Any], file: Path) -> Block:
    location = _location(tree, file)
    type_node, *label_nodes = [
        child
        for child in tree.children
        if isinstance(child, Tree) and (child.data in _NAME_NODES or child.data == "string")
    ]
    (body,) = [child for child in tree.children if isinstance(child, Tree) and child.data == "body"]
    labels = tuple(_label(node, location) for node in label_nodes)
    return Block(_name(type_node), labels, _body(body, file), location)


def _name(node: Tree[Any]) -> str:
    (token,) = node.children
    return str(token)


def _label(node: Tree[Any], location: SourceLocation) -> str:
    if node.data in _NAME_NODES:
        return _name(node)
    return str(_value(node, location))


def _is_literal(node: Tree[Any] | Token) -> bool:
    if isinstance(node, Token):
        return True
    if node.data == "object_elem_key":
        (key,) = node.children
        return _is_object_key_name(key) or _is_literal(key)
    return node.data in _LITERAL_NODES and all(_is_literal(child) for child in node.children)


def _is_object_key_name(key: Tree[Any]) -> bool:
    """`{ name = 1 }`: a bare name before `=` in an object is a key, not a reference."""
    if key.data == "keyword":
        return True
    return (
        key.data == "expr_term"
        and len(key.children) == 1
        and isinstance(key.children[0], Tree)
        and key.children[0].data == "identifier"
    )


def _value(expression: Tree[Any], location: SourceLocation) -> Any:
    try:
        return hcl2.transform(expression, discard_comments=True).serialize(_VALUE_OPTIONS)
    except VisitError as error:
        # Raised for template directives the grammar accepts but hcl2 cannot pair up.
        raise ConfigError(f"invalid value: {error.orig_exc}; fix the template", location) from None
    except RecursionError:
        raise ConfigError("value is nested too deeply; simplify it", location) from None


# Terminal names of the HCL grammar, as a user would write them.
_TERMINAL_WORDS = {
    "$END": "end of file",
    "NL_OR_COMMENT": "end of line",
    "NAME": "a name",
    "DBLQUOTE": "'\"'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LPAR": "'('",
    "RPAR": "')'",
    "EQ": "'='",
    "COLON": "':'",
    "COMMA": "','",
    "DOT": "'.'",
    "QMARK": "'?'",
    "INTERP_START": "'${'",
    "DIRECTIVE_START": "'%{'",
    "FOR_OBJECT_ARROW": "'=>'",
    "ELLIPSIS": "'...'",
}
# HCL keywords are also valid names; listing them separately only adds noise.
_NAME_TERMINALS = frozenset(
    {"NAME", "IN", "FOR", "IF", "FOR_EACH", "ELSE", "ENDIF", "ENDFOR", "NULL", "TRUE", "FALSE"}
)
_VALUE_TERMINALS = frozenset(
    {
        "DBLQUOTE",
        "INT_LITERAL",
        "FLOAT_LITERAL",
        "LSQB",
        "LBRACE",
        "LPAR",
        "MINUS",
        "NOT",
        "HEREDOC_TEMPLATE",
        "HEREDOC_TEMPLATE_TRIM",
        "TEMPLATE_STRING",
    }
)
_MAX_EXPECTED = 6


def _syntax_message(error: UnexpectedInput) -> str:
    message = f"syntax error: unexpected {_found(error)}"
    expected = _expected(error)
    return f"{message}; expected {expected}" if expected else message


def _found(error: UnexpectedInput) -> str:
    if isinstance(error, UnexpectedCharacters):
        return _quote(error.char)
    token = getattr(error, "token", None)
    if not isinstance(token, Token) or token.type == "$END":
        return "end of file"
    return _quote(str(token))


def _quote(text: str) -> str:
    stripped = text.strip()
    if not stripped:
        return "end of line"
    word = stripped.split()[0]
    return repr(word if len(word) <= 20 else word[:20] + "...")


def _expected(error: UnexpectedInput) -> str:
    terminals: set[str] = set(getattr(error, "expected", None) or ())
    if isinstance(error, UnexpectedCharacters):
        terminals = set(error.allowed or ())
    if "STRING_CHARS" in terminals:
        return "'\"' to close the string"
    words: list[str] = []
    if terminals >= {"DBLQUOTE", "INT_LITERAL", "LSQB"}:
        words.append("a value")
        terminals -= _VALUE_TERMINALS | _NAME_TERMINALS  # a name there is a reference: a value
    if terminals & _NAME_TERMINALS:
        words.append("a name")
        terminals -= _NAME_TERMINALS
    words += sorted(_TERMINAL_WORDS.get(t, t.lower().replace("_", " ")) for t in terminals)
    if len(words) > _MAX_EXPECTED:
        words = [*words[:_MAX_EXPECTED], "..."]
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else "".join(words)


def _error_location(error: UnexpectedInput, text: str, file: Path) -> SourceLocation:
    # hcl2 appends a newline before parsing, so an error at the very end can fall past the
    # last line of the file; clamp it to where the file ends.
    end_line = text.count("\n") + 1
    end_column = len(text.rsplit("\n", 1)[-1]) + 1
    line, column = getattr(error, "line", -1), getattr(error, "column", -1)
    if not isinstance(line, int) or line < 1 or (line, column) > (end_line, end_column):
        return SourceLocation(file, end_line, end_column)
    return SourceLocation(file, line, max(column, 1))
