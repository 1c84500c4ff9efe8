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
from dataclasses import dataclass

_STAR, _QUESTION, _BACKSLASH, _OPEN, _CLOSE = b"*", b"?", b"\\", b"[", b"]"
_GLOB_SPECIAL = frozenset(b"*?[\\")
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


@dataclass(frozen=True)
class Translation:
    """A pattern as a regular expression to `fullmatch`, None when it can match no path at
    all; `problem` says what is odd about it, in words for the user, when something is."""

    regex: bytes | None
    problem: str = ""
    tail: bytes = b""  # what a matching text ends with: the pattern's last literal bytes
    last: frozenset[int] | None = None  # the bytes a matching text can end with; None: any


def translate(pattern: bytes, *, pathname: bool) -> Translation:
    """The expression matching what git's wildmatch matches with `pattern`.

    `pathname`: matched against a path relative to the ignore file's directory (git's
    match_pathname, WM_PATHNAME); else against a file name alone (match_basename), where
    every `*` is alike. Either way '/' is matched only by a '/' of the pattern or by `**`.
    """
    parts: list[bytes] = []
    matching: list[frozenset[int] | None] = []  # what each part matches, None: any byte
    problem = ""
    start = 0
    if pathname:
        # git compares the literal head itself and runs wildmatch on the rest only, so a
        # `**` right after that head counts as one at the start of a pattern.
        start = next((i for i, b in enumerate(pattern) if b in _GLOB_SPECIAL), len(pattern))
        parts.append(re.escape(pattern[:start]))
        matching.extend(frozenset([b]) for b in pattern[:start])
    i = start
    while i < len(pattern):
        byte = pattern[i : i + 1]
        if byte == _BACKSLASH:
            if i + 1 == len(pattern):
                return Translation(None, _NOTHING + _TRAILING_BACKSLASH)
            parts.append(re.escape(pattern[i + 1 : i + 2]))
            matching.append(frozenset(pattern[i + 1 : i + 2]))
            i += 2
        elif byte == _QUESTION:
            parts.append(_NOT_SLASH)
            matching.append(None)
            i += 1
        elif byte == _STAR:
            i = _star(pattern, i, start, pathname, parts)
            matching.append(None)
        elif byte == _OPEN:
            members, i, why = _bracket(pattern, i)
            if members is None:
                return Translation(None, _NOTHING + why)
            problem = problem or why
            allowed = sorted(members - {ord("/"), 0})
            if not allowed:
                return Translation(None, _NOTHING + "its bracket expression matches no character")
            parts.append(_byte_class(allowed))
            matching.append(frozenset(allowed))
        else:
            parts.append(re.escape(byte))
            matching.append(frozenset(byte))
            i += 1
    return Translation(b"".join(parts), problem, _tail(matching), matching[-1])


def _tail(matching: list[frozenset[int] | None]) -> bytes:
    """The literal bytes at the end of a pattern whose parts match `matching`."""
    tail = bytearray()
    for part in reversed(matching):
        if part is None or len(part) != 1:
            break
        tail.extend(part)
    return bytes(reversed(tail))


def _star(pattern: bytes, i: int, start: int, pathname: bool, parts: list[bytes]) -> int:
    """Translate the run of `*` at `i`; where the pattern goes on after it."""
    end = i
    while end < len(pattern) and pattern[end : end + 1] == _STAR:
        end += 1
    after_slash = i == start or pattern[i - 1 : i] == b"/"
    if pathname and end - i >= 2 and after_slash:
        rest = pattern[end:]
        if not rest:
            parts.append(b".*")  # everything below
            return end
        if rest.startswith(b"/"):
            parts.append(b"(?:.*/)?")  # zero or more directories
            return end + 1
        if rest.startswith(b"\\/"):
            parts.append(b".*/")  # one or more, as git's shortcut for none needs a plain '/'
            return end + 2
    parts.append(_NOT_SLASH + b"*")
    return end


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
