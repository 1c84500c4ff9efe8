"""One ignore file (a `.gitignore`, `.git/info/exclude` or the user's excludes file), read
and matched as git does (dir.c): a UTF-8 byte order mark skipped, lines split at LF only (a
form feed is part of a pattern), one CR before it dropped, trailing spaces dropped unless
escaped (a tab stays), `#` comments, `!` negation, a trailing `/` for directories only, a
pattern with no other `/` matched against the name alone, else against the path below the
file's directory; the last matching pattern decides.

A line git accepts never fails: one that can match nothing is reported as a `Problem`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from embly_build.client.inputs.wildmatch import translate

_BOM = b"\xef\xbb\xbf"
_WILDCARDS = frozenset(b"*?[\\")


@dataclass(frozen=True)
class Problem:
    """A line that matches nothing, or not what it seems to: the file, its line and why."""

    file: Path
    line: int
    text: str
    why: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: `{self.text}` {self.why}"


@dataclass(frozen=True)
class _Pattern:
    regex: bytes
    excludes: bool  # False for a `!` pattern: it includes again
    directories_only: bool
    name_only: bool  # matched against the last component alone
    head: bytes  # what a matching text starts with: the pattern up to its first wildcard
    tail: bytes  # what it ends with: the pattern's last literal bytes
    last: frozenset[int] | None  # the bytes it can end with; None: any


_NONE = (-1, False)


class _Matcher:
    """Several patterns as one expression: alternatives in reverse order, each a group, so
    the first alternative that matches (the group `lastindex` names) is the last pattern
    that does, the one that decides.

    Most names match no pattern, and one expression of many alternatives takes a while to
    say so: a name that cannot match, by how it begins and ends (and for patterns of paths,
    by the directory it is in), is turned away without it."""

    def __init__(self, patterns: list[tuple[int, _Pattern]], name_only: bool) -> None:
        ordered = patterns[::-1]
        self.name_only = name_only
        self.found = [_NONE, *((order, p.excludes) for order, p in ordered)]  # by group
        source = b"|".join(b"(" + p.regex + b")" for _, p in ordered)
        self.fullmatch = re.compile(source, re.DOTALL).fullmatch if ordered else None
        self.patterns = [p for _, p in patterns]
        self.by_name = _name_check(self.patterns) if name_only else None

    def decided(self, directory: bytes, names: Sequence[bytes]) -> dict[int, tuple[int, bool]]:
        """By the position of each name in `names` that a pattern matches, (order,
        excludes) of the pattern that decides, a later one with a higher order. The text
        matched is the name alone, or for patterns of paths `directory` (ending in '/', or
        empty) followed by the name."""
        fullmatch = self.fullmatch
        if fullmatch is None:
            return {}
        if self.name_only:
            directory = b""
            may_match = self.by_name
        else:
            may_match = self._below(directory)
            if may_match is None:
                return {}
        found: dict[int, tuple[int, bool]] = {}
        for i, name in enumerate(names):
            if may_match is None or may_match(name):
                match = fullmatch(directory + name)
                if match is not None and match.lastindex is not None:
                    found[i] = self.found[match.lastindex]
        return found

    def _below(self, directory: bytes) -> Callable[[bytes], bool] | None:
        """What a name in `directory` must look like for a pattern of paths to match it;
        None when none can."""
        cut = len(directory)
        live = [p for p in self.patterns if p.head[:cut] == directory[: len(p.head)]]
        if not live:
            return None
        heads = tuple(p.head[cut:] for p in live)
        lasts: set[int] = set()
        for p in live:
            if p.last is None:
                return lambda name: name.startswith(heads)
            lasts |= p.last
        return lambda name: name.startswith(heads) and name[-1] in lasts


def _name_check(patterns: list[_Pattern]) -> Callable[[bytes], bool] | None:
    """What a name must look like for one of `patterns` (of names) to match it; None when
    a name of any bytes may."""
    heads = tuple(p.head for p in patterns if p.head)
    tails = tuple(p.tail for p in patterns if not p.head and p.tail)
    lasts: set[int] = set()
    for p in patterns:
        if not p.head and not p.tail:
            if p.last is None:
                return None
            lasts |= p.last
    return lambda name: name.startswith(heads) or name.endswith(tails) or name[-1] in lasts


class IgnoreRules:
    """The patterns of one ignore file."""

    def __init__(self, patterns: list[_Pattern]) -> None:
        numbered = list(enumerate(patterns))
        self._matchers = {
            (is_dir, name_only): _Matcher(
                [
                    (order, p)
                    for order, p in numbered
                    if p.name_only == name_only and (is_dir or not p.directories_only)
                ],
                name_only,
            )
            for is_dir in (False, True)
            for name_only in (False, True)
        }

    def decided(self, directory: bytes, names: Sequence[bytes], is_dir: bool) -> dict[int, bool]:
        """Whether each of `names` (entries of `directory`, a path below the file's
        directory ending in '/', or empty) is excluded (True) or included again by a `!`
        pattern (False), by its position in `names`; absent when no pattern matches it."""
        by_name = self._matchers[is_dir, True].decided(directory, names)
        by_path = self._matchers[is_dir, False].decided(directory, names)
        for i, found in by_path.items():
            if found > by_name.get(i, _NONE):
                by_name[i] = found
        return {i: excludes for i, (_, excludes) in by_name.items()}


def parse_ignore_file(data: bytes, file: Path) -> tuple[IgnoreRules | None, list[Problem]]:
    """The rules in the bytes of `file`; None when it has none. Lines that can match
    nothing are left out and reported."""
    patterns: list[_Pattern] = []
    problems: list[Problem] = []
    data = data.removeprefix(_BOM)
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line or line.startswith(b"#"):
            continue
        line = _trim_trailing_spaces(line.removesuffix(b"\r"))
        pattern, why = _pattern(line)
        if pattern is not None:
            patterns.append(pattern)
        if why:
            shown = line.decode(errors="backslashreplace")
            problems.append(Problem(file, number, shown, why))
    return (IgnoreRules(patterns) if patterns else None), problems


def _pattern(line: bytes) -> tuple[_Pattern | None, str]:
    """A line as git's parse_path_pattern reads it, None for one that matches nothing; and
    what is odd about it, when worth saying."""
    excludes = not line.startswith(b"!")
    if not excludes:
        line = line[1:]
        if not line:
            return None, "is skipped, as in git: a `!` alone negates nothing"
    directories_only = line.endswith(b"/")
    if directories_only:
        line = line[:-1]
    name_only = b"/" not in line
    if not name_only:
        line = line.removeprefix(b"/")
    if not line:
        return None, ""  # `/` or `//`: a path of no name, which nothing has
    translation = translate(line, pathname=not name_only)
    if translation.regex is None:
        return None, translation.problem
    wildcard = next((i for i, b in enumerate(line) if b in _WILDCARDS), len(line))
    pattern = _Pattern(
        translation.regex,
        excludes,
        directories_only,
        name_only,
        head=line[:wildcard],
        tail=translation.tail,
        last=translation.last,
    )
    return pattern, translation.problem


def _trim_trailing_spaces(line: bytes) -> bytes:
    """`line` without its trailing spaces, but for one escaped by a backslash (git's
    trim_trailing_spaces: only spaces, not tabs)."""
    last_space = None
    i = 0
    while i < len(line):
        byte = line[i]
        if byte == 0x20:
            if last_space is None:
                last_space = i
        elif byte == 0x5C:  # a backslash: the next byte is kept as it is
            i += 1
            if i == len(line):
                return line
            last_space = None
        else:
            last_space = None
        i += 1
    return line if last_space is None else line[:last_space]
