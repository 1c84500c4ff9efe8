"""Git's wildmatch, the pattern language of `.gitignore`, as Python regular expressions.

Written here rather than taken from a library. Checked against `git ls-files` on 15 cases
(bracket expressions with `]` or `[:digit:]`, a reversed range, a trailing backslash, a
lone `!`, `dir/**`, `dir/**/`, a trailing tab, a byte order mark, tracked files...),
pathspec 1.1.1 got 13 wrong or raised (its gitignore patterns and the deprecated
gitwildmatch ones alike), gitignorefile 1.1.2 8, dulwich 1.2.21 6, igittigitt 2.3.1 5.
This follows git's wildmatch.c and dir.c step by step.

Expressions are over bytes, as git compares bytes: `?` is one byte, not one character.
Paths never contain NUL, and '/' separates directories.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_STAR, _QUESTION, _BACKSLASH = b"*", b"?", b"\\"
_NOT_SLASH = b"[^/]"
_NOTHING = "matches no path, as in git: "
_UNCLOSED = "its `[` has no closing `]`"
_TRAILING_BACKSLASH = "it ends in a backslash, which escapes nothing (a directory is `name/`)"


_DIGITS = frozenset(b"0123456789")
_LOWER = frozenset(b"abcdefghijklmnopqrstuvwxyz")
_UPPER = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_GRAPH = frozenset(range(0x21, 0x7F))
# The classes of a bracket expression, as git's locale-independent ctype defines them.
_CLASSES: dict[bytes, frozenset[int]] = {
    b"alnum": _DIGITS | _LOWER | _UPPER,
    b"alpha": _LOWER | _UPPER,
    b"blank": frozenset(b" \t"),
    b"cntrl": frozenset([*range(0x20), 0x7F]),
    b"digit": _DIGITS,
    b"graph": _GRAPH,
    b"lower": _LOWER,
    b"print": _GRAPH | {0x20},
    b"punct": _GRAPH - _DIGITS - _LOWER - _UPPER,
    b"space": frozenset(b" \t\n\r"),
    b"upper": _UPPER,
    b"xdigit": _DIGITS | frozenset(b"abcdefABCDEF"),
}


# The pieces a pattern is made of: literal bytes, one byte of a set (any byte but '/' when
# the set is None), `*` (bytes but '/'), and the three forms of `**`.
_LITERAL, _ONE, _IN_NAME, _DIRS, _BELOW, _DIRS_SLASH = range(6)
_Piece = tuple[int, bytes, frozenset[int] | None]
_REGEX = {
    _IN_NAME: _NOT_SLASH + b"*",
    _DIRS: b"(?:.*/)?",  # zero or more directories
    _BELOW: b".*",  # everything below
    _DIRS_SLASH: b".*/",  # one or more, as git's shortcut for none needs a plain '/'
}
_SPECIAL = re.compile(rb"[*?\[\\]")
# A bracket expression of plain bytes and ascending ranges, read here at once; any other is
# read byte by byte as wildmatch.c does.
_PLAIN = rb"[^\]\[\\/:!^-]"
_PLAIN_BRACKET = re.compile(rb"\[([!^]?)((?:%s(?:-%s)?)+)\]" % (_PLAIN, _PLAIN))
_PLAIN_RANGE = re.compile(rb"(.)(?:-(.))?", re.DOTALL)
_ANY_BYTE = frozenset(range(1, 256))


class Translation(NamedTuple):
    """What a pattern matches, as `pieces` (see `regex`), and what is odd about it, in
    words for the user, when something is.

    The rest says what any text the pattern matches holds, so that a text without it is
    turned away without trying the pattern: its literal start and end, the bytes it can end
    with, and (for a pattern of paths) the literal path components it must have."""

    pieces: tuple[_Piece, ...]
    problem: str
    head: bytes  # what a matching text starts with: the pattern's first literal bytes
    tail: bytes  # what it ends with: the pattern's last literal bytes
    last: frozenset[int] | None  # the bytes a matching text can end with; None: any
    literal: bytes | None  # the one text it matches, when it has no wildcard
    head_then_star: bool  # it is `head*`
    star_then_tail: bool  # it is `*tail`
    components: tuple[bytes, ...]  # whole components a matching path has


def translate(pattern: bytes, *, pathname: bool) -> tuple[Translation | None, str]:
    """What git's wildmatch matches with `pattern`, None when it matches no path at all;
    and what is odd about the pattern, in words for the user, when something is.

    `pathname`: matched against a path relative to the ignore file's directory (git's
    match_pathname, WM_PATHNAME); else against a file name alone (match_basename), where
    every `*` is alike. Either way '/' is matched only by a '/' of the pattern or by `**`.
    """
    pieces: list[_Piece] = []
    problem = ""
    special = _SPECIAL.search(pattern)
    # git compares the literal head of a pattern of paths itself and runs wildmatch on the
    # rest only, so a `**` right after that head counts as one at the start of a pattern.
    start = special.start() if special is not None else len(pattern)
    if not pathname:
        start = 0
    i = 0
    while special is not None:
        at = special.start()
        if at > i:
            _add_literal(pieces, pattern[i:at])
        byte = pattern[at : at + 1]
        if byte == _BACKSLASH:
            if at + 1 == len(pattern):
                return None, _NOTHING + _TRAILING_BACKSLASH
            _add_literal(pieces, pattern[at + 1 : at + 2])
            i = at + 2
        elif byte == _QUESTION:
            pieces.append((_ONE, b"", None))
            i = at + 1
        elif byte == _STAR:
            i = _star(pattern, at, start, pathname, pieces)
        else:
            members, i, why = _members(pattern, at)
            if members is None:
                return None, _NOTHING + why
            problem = problem or why
            allowed = members - {ord("/"), 0}
            if not allowed:
                return None, _NOTHING + "its bracket expression matches no character"
            if len(allowed) == 1:
                _add_literal(pieces, bytes(allowed))
            else:
                pieces.append((_ONE, b"", frozenset(allowed)))
        special = _SPECIAL.search(pattern, i)
    if i < len(pattern):
        _add_literal(pieces, pattern[i:])
    return _translation(pieces, problem, pathname), problem


def regex(translation: Translation) -> bytes:
    """The regular expression to `fullmatch` against a text, as bytes: git compares bytes,
    so `?` is one byte, not one character. Texts never contain NUL."""
    parts = []
    for kind, literal, members in translation.pieces:
        if kind == _LITERAL:
            parts.append(re.escape(literal))
        elif kind == _ONE:
            parts.append(_NOT_SLASH if members is None else _byte_class(sorted(members)))
        else:
            parts.append(_REGEX[kind])
    return b"".join(parts)


def _add_literal(pieces: list[_Piece], literal: bytes) -> None:
    if pieces and pieces[-1][0] == _LITERAL:
        literal = pieces.pop()[1] + literal
    pieces.append((_LITERAL, literal, None))


def _translation(pieces: list[_Piece], problem: str, pathname: bool) -> Translation:
    first_kind, head, _ = pieces[0]
    last_kind, tail, last_members = pieces[-1]
    if last_kind == _LITERAL:
        last: frozenset[int] | None = frozenset(tail[-1:])
    else:
        last = last_members if last_kind == _ONE else None
    if first_kind != _LITERAL:
        head = b""
    if last_kind != _LITERAL:
        tail = b""
    two = len(pieces) == 2
    return Translation(
        tuple(pieces),
        problem,
        head,
        tail,
        last,
        head if len(pieces) == 1 and first_kind == _LITERAL else None,
        two and first_kind == _LITERAL and last_kind == _IN_NAME,
        two and first_kind == _IN_NAME and last_kind == _LITERAL,
        _components(pieces) if pathname else (),
    )


def _components(pieces: list[_Piece]) -> tuple[bytes, ...]:
    """The literal runs of `pieces` that a matching path has as whole components: those
    with a '/' (or the start of the path) before them and a '/' (or its end) after."""
    found: list[bytes] = []
    after_slash = True  # what comes before the current piece ends a component
    for index, (kind, literal, _) in enumerate(pieces):
        if kind == _LITERAL:
            segments = literal.split(b"/")
            for number, segment in enumerate(segments):
                starts = number > 0 or after_slash
                ends = number < len(segments) - 1 or index == len(pieces) - 1
                if segment and starts and ends:
                    found.append(segment)
            after_slash = literal.endswith(b"/")
        elif kind == _DIRS_SLASH:
            after_slash = True
        elif kind != _DIRS:  # `(?:.*/)?` ends in '/' or is empty: as before it
            after_slash = False
    return tuple(found)


def _star(pattern: bytes, i: int, start: int, pathname: bool, pieces: list[_Piece]) -> int:
    """Translate the run of `*` at `i`; where the pattern goes on after it."""
    end = i + 1
    while pattern[end : end + 1] == _STAR:
        end += 1
    after_slash = i == start or pattern[i - 1 : i] == b"/"
    if pathname and end - i >= 2 and after_slash:
        rest = pattern[end : end + 2]
        if not rest:
            pieces.append((_BELOW, b"", None))
            return end
        if rest.startswith(b"/"):
            pieces.append((_DIRS, b"", None))
            return end + 1
        if rest == b"\\/":
            pieces.append((_DIRS_SLASH, b"", None))
            return end + 2
    pieces.append((_IN_NAME, b"", None))
    return end


def _members(pattern: bytes, i: int) -> tuple[frozenset[int] | None, int, str]:
    """`_bracket`, at once for a plain bracket expression."""
    plain = _PLAIN_BRACKET.match(pattern, i)
    if plain is None:
        return _bracket(pattern, i)
    members: set[int] = set()
    for first, last in _PLAIN_RANGE.findall(plain.group(2)):
        if not last:
            members.add(first[0])
        elif first <= last:
            members.update(range(first[0], last[0] + 1))
        else:
            return _bracket(pattern, i)  # a reversed range: said as a problem
    found = _ANY_BYTE - members if plain.group(1) else frozenset(members)
    return found, plain.end(), ""


def _bracket(pattern: bytes, i: int) -> tuple[frozenset[int] | None, int, str]:
    """The bytes the bracket expression at `i` matches, where the pattern goes on after
    it, and what is odd about it; None for the bytes when git gives up on the whole pattern.
    Parsed as wildmatch.c does, oddities included (`]` first is a member, `[:` without
    `:]` is a plain `[`)."""

    def at(k: int) -> int:
        return pattern[k] if k < len(pattern) else 0

    k = i + 1
    ch = at(k)
    negated = ch in b"!^"
    if negated:
        k += 1
        ch = at(k)
    members: set[int] = set()
    problem = ""
    previous = 0
    while True:
        if ch == 0:
            return None, len(pattern), _UNCLOSED
        if ch == ord("\\"):
            k += 1
            ch = at(k)
            if ch == 0:
                return None, len(pattern), _UNCLOSED
            members.add(ch)
        elif ch == ord("-") and previous and at(k + 1) and at(k + 1) != ord("]"):
            k += 1
            ch = at(k)
            if ch == ord("\\"):
                k += 1
                ch = at(k)
                if ch == 0:
                    return None, len(pattern), _UNCLOSED
            if previous <= ch:
                members.update(range(previous, ch + 1))
            else:
                first, last = chr(previous), chr(ch)
                problem = (
                    f"has the reversed range `{first}-{last}`, which git reads as `{first}` alone"
                )
            ch = 0
        elif ch == ord("[") and at(k + 1) == ord(":"):
            k = name_start = k + 2
            while at(k) and at(k) != ord("]"):
                k += 1
            ch = at(k)
            if ch == 0:
                return None, len(pattern), _UNCLOSED
            if k - name_start - 1 < 0 or pattern[k - 1] != ord(":"):
                k = name_start - 2  # no `:]`: a plain '[', and parsing goes on after it
                ch = ord("[")
                members.add(ch)
            else:
                name = pattern[name_start : k - 1]
                named = _CLASSES.get(name)
                if named is None:
                    shown = name.decode(errors="replace")
                    return None, len(pattern), f"`[:{shown}:]` is no character class"
                members |= named
                ch = 0
        else:
            members.add(ch)
        previous = ch
        k += 1
        ch = at(k)
        if ch == ord("]"):
            break
    if negated:
        members = set(range(1, 256)) - members
    return frozenset(members), k + 1, problem


def _byte_class(allowed: list[int]) -> bytes:
    """A character class of these bytes (sorted), as ranges."""
    ranges: list[bytes] = []
    first = last = allowed[0]
    for byte in [*allowed[1:], -1]:
        if byte == last + 1:
            last = byte
            continue
        ranges.append(b"\\x%02x" % first if first == last else b"\\x%02x-\\x%02x" % (first, last))
        first = last = byte
    return b"[" + b"".join(ranges) + b"]"
