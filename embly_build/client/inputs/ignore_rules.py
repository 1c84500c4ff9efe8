"""One ignore file (a `.gitignore`, `.git/info/exclude` or the user's excludes file), read
and matched as git does (dir.c): a UTF-8 byte order mark skipped, lines split at LF only (a
form feed is part of a pattern), one CR before it dropped, a line read up to a NUL byte (git
reads it as a C string), trailing spaces dropped unless escaped (a tab stays), `#` comments,
`!` negation, a trailing `/` for directories only, a pattern with no other `/` matched
against the name alone, else against the path below the file's directory; the last
matching pattern decides.

A line git accepts never fails: one that can match nothing is reported as a `Problem`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from embly_build.client.inputs.collector_paused import collector_paused
from embly_build.client.inputs.input_warnings import printable
from embly_build.client.inputs.pattern_index import Found, PatternIndex
from embly_build.client.inputs.wildmatch import Translation, translate

_BOM = b"\xef\xbb\xbf"
_SHOWN = 120  # characters of a line a message quotes at most
_NONE: Found = (-1, False)


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
class Rule:
    """The pattern that decides for a path: where it is written and whether it ignores."""

    file: Path
    line: int
    text: str  # the pattern as written, control characters escaped
    excludes: bool  # False for a `!` pattern: it includes again

    def __str__(self) -> str:
        return f"`{self.text}` ({self.file}:{self.line})"


class _Pattern(NamedTuple):
    translation: Translation
    excludes: bool  # False for a `!` pattern: it includes again
    directories_only: bool
    name_only: bool  # matched against the last component alone
    line: int
    text: bytes  # the line as read


class IgnoreRules:
    """The patterns of one ignore file."""

    def __init__(self, file: Path, patterns: list[_Pattern]) -> None:
        self.file = file
        self._patterns = patterns
        # By whether they are of names and for directories only; built when first asked.
        self._indexes: dict[tuple[bool, bool], PatternIndex] = {}

    def decided(self, directory: bytes, names: Sequence[bytes], is_dir: bool) -> dict[int, bool]:
        """Whether each of `names` (entries of `directory`, a path below the file's
        directory ending in '/', or empty) is excluded (True) or included again by a `!`
        pattern (False), by its position in `names`; absent when no pattern matches it."""
        found = self._deciding(directory, names, is_dir)
        return {i: excludes for i, (_, excludes) in found.items()}

    def rule_for(self, directory: bytes, name: bytes, is_dir: bool) -> Rule | None:
        """The pattern that decides for `name` in `directory`, None when none matches."""
        found = self._deciding(directory, [name], is_dir).get(0)
        if found is None:
            return None
        pattern = self._patterns[found[0]]
        return Rule(self.file, pattern.line, _shown(pattern.text), found[1])

    def _deciding(self, directory: bytes, names: Sequence[bytes], is_dir: bool) -> dict[int, Found]:
        """By position in `names`, (order, excludes) of the last pattern that matches it."""
        found = self._index(True, False).decided(b"", names)
        kinds = [(False, False), (True, True), (False, True)] if is_dir else [(False, False)]
        for name_only, directories_only in kinds:
            more = self._index(name_only, directories_only).decided(directory, names)
            for i, decided in more.items():
                if decided > found.get(i, _NONE):
                    found[i] = decided
        return found

    def _index(self, name_only: bool, directories_only: bool) -> PatternIndex:
        """The patterns of names or of paths, for directories only or not."""
        index = self._indexes.get((name_only, directories_only))
        if index is None:
            with collector_paused():
                index = self._indexes[name_only, directories_only] = PatternIndex(
                    [
                        (order, p.translation, p.excludes)
                        for order, p in enumerate(self._patterns)
                        if p.name_only == name_only and p.directories_only == directories_only
                    ],
                    name_only,
                )
        return index


def parse_ignore_file(data: bytes, file: Path) -> tuple[IgnoreRules | None, list[Problem]]:
    """The rules in the bytes of `file`; None when it has none. Lines that can match
    nothing are left out and reported."""
    with collector_paused():
        return _parse(data, file)


def _parse(data: bytes, file: Path) -> tuple[IgnoreRules | None, list[Problem]]:
    patterns: list[_Pattern] = []
    problems: list[Problem] = []
    data = data.removeprefix(_BOM)
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line or line.startswith(b"#"):
            continue
        line = line.removesuffix(b"\r")
        read, nul, _ = line.partition(b"\0")
        pattern, why = _pattern(_trim_trailing_spaces(read), number)
        if pattern is not None:
            patterns.append(pattern)
        if nul:
            why = f"has a NUL byte: git reads the line up to it, as `{_shown(read)}`"
        if why:
            problems.append(Problem(file, number, _shown(line), why))
    return (IgnoreRules(file, patterns) if patterns else None), problems


def _shown(line: bytes) -> str:
    """A line as a message quotes it: escaped, and cut short (a binary file's are long)."""
    shown = printable(line.decode(errors="backslashreplace"))
    return shown if len(shown) <= _SHOWN else shown[: _SHOWN - 3] + "..."


def _pattern(line: bytes, number: int) -> tuple[_Pattern | None, str]:
    """A line as git's parse_path_pattern reads it, None for one that matches nothing; and
    what is odd about it, when worth saying."""
    text = line
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
    translation, problem = translate(line, pathname=not name_only)
    if translation is None:
        return None, problem
    return _Pattern(translation, excludes, directories_only, name_only, number, text), problem


def _trim_trailing_spaces(line: bytes) -> bytes:
    """`line` without its trailing spaces, but for one escaped by a backslash (git's
    trim_trailing_spaces: only spaces, not tabs)."""
    trimmed = line.rstrip(b" ")
    if len(trimmed) == len(line):
        return line
    backslashes = len(trimmed) - len(trimmed.rstrip(b"\\"))
    return trimmed + b" " if backslashes % 2 else trimmed
