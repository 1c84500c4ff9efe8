"""Many wildmatch patterns asked at once which one decides for a name, in time that does not
grow with their number.

Each pattern is filed under one literal key that any text it matches holds: the whole text
(a pattern without wildcards), its start or its end (`pat1_*`, `*.log`), or one of its path
components (`**/vendor/**`); of the keys a pattern has, the one fewest other patterns share.
A text is tried only against the patterns filed under keys it holds, found by dictionary
lookups (one per distinct key length, not per pattern), and the patterns of one key as one
expression. Patterns with no literal key at all (`*`, `[a-z]*`) are tried on every text,
as git tries every pattern.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence

from embly_build.client.inputs.wildmatch import Translation, regex

# (order, excludes) of a pattern: a later one (higher order) decides over an earlier one.
Found = tuple[int, bool]
_NONE: Found = (-1, False)
# Patterns of one key are compiled into expressions of at most this many alternatives, the
# latest first, and only as far as a text needs: a large file's rules cost little until used.
_CHUNK = 256
_EXACT, _PREFIX, _SUFFIX, _COMPONENT = range(4)


class _Chunk:
    """Alternatives in reverse order, each a group, so the first alternative that matches
    (the group `lastindex` names) is the latest pattern that does, the one that decides."""

    __slots__ = ("_found", "_fullmatch", "_patterns", "top")

    def __init__(self, patterns: list[tuple[int, Translation, bool]]) -> None:
        self._patterns = patterns  # latest first
        self.top = patterns[0][0]
        self._fullmatch: Callable[[bytes], re.Match[bytes] | None] | None = None
        self._found: list[Found] = []

    def match(self, text: bytes) -> Found | None:
        if self._fullmatch is None:
            source = b"|".join(b"(" + regex(t) + b")" for _, t, _ in self._patterns)
            self._fullmatch = re.compile(source, re.DOTALL).fullmatch
            self._found = [_NONE, *((order, excludes) for order, _, excludes in self._patterns)]
        match = self._fullmatch(text)
        if match is None or match.lastindex is None:
            return None
        return self._found[match.lastindex]


class _Group:
    """The patterns filed under one key."""

    __slots__ = ("_chunks", "_others", "sure", "top")

    def __init__(self) -> None:
        self.sure = _NONE  # the latest pattern a text with the key always matches
        self.top = -1  # the order of the latest pattern here
        self._others: list[tuple[int, Translation, bool]] = []  # the rest, earliest first
        self._chunks: list[_Chunk] = []

    def add(self, order: int, translation: Translation, excludes: bool, sure: bool) -> None:
        self.top = order
        if sure:
            self.sure = (order, excludes)
        else:
            self._others.append((order, translation, excludes))

    def best(self, text: bytes, best: Found) -> Found:
        """The latest of `best` and the patterns here that match `text`."""
        if self.top <= best[0]:
            return best
        if self.sure > best:
            best = self.sure
        if self._others and not self._chunks:
            latest = self._others[::-1]
            self._chunks = [_Chunk(latest[i : i + _CHUNK]) for i in range(0, len(latest), _CHUNK)]
        for chunk in self._chunks:
            if chunk.top <= best[0]:
                break
            found = chunk.match(text)
            if found is not None:
                return max(found, best)
        return best


_Tables = list[tuple[int, dict[bytes, _Group]]]  # by key length, shortest first


class PatternIndex:
    """Patterns of names (matched against a file name) or of paths (matched against the path
    below the ignore file's directory), filed by key."""

    def __init__(self, patterns: Sequence[tuple[int, Translation, bool]], name_only: bool) -> None:
        """`patterns`: (order, translation, excludes), earliest first."""
        self._name_only = name_only
        self._empty = not patterns
        self._exact: dict[bytes, _Group] = {}
        self._components: dict[bytes, _Group] = {}
        self._general = _Group()
        self._general_lasts: set[int] | None = set()
        prefixes: dict[int, dict[bytes, _Group]] = {}
        suffixes: dict[int, dict[bytes, _Group]] = {}
        keys = [_keys(t, name_only) for _, t, _ in patterns]
        shared = Counter(key for candidates in keys for key in candidates)
        for (order, translation, excludes), candidates in zip(patterns, keys, strict=True):
            if not candidates:
                self._general.add(order, translation, excludes, False)
                last = translation.last
                if self._general_lasts is not None:
                    self._general_lasts = None if last is None else self._general_lasts | last
                continue
            if len(candidates) == 1:
                kind, key = candidates[0]
            else:
                kind, key = min(candidates, key=lambda k: (shared[k], -len(k[1])))
            if kind == _EXACT:
                table = self._exact
            elif kind == _COMPONENT:
                table = self._components
            else:
                table = (prefixes if kind == _PREFIX else suffixes).setdefault(len(key), {})
            group = table.get(key)
            if group is None:
                group = table[key] = _Group()
            group.add(order, translation, excludes, _key_decides(translation, kind, name_only))
        self._prefixes: _Tables = sorted(prefixes.items())
        self._suffixes: _Tables = sorted(suffixes.items())
        # For paths: keys of prefixes by the directory they end in, and within it.
        self._prefixes_in: dict[bytes, _Tables] = {}
        if not name_only:
            in_directory: dict[bytes, dict[int, dict[bytes, _Group]]] = {}
            for _, table in self._prefixes:
                for key, group in table.items():
                    directory, _, rest = key.rpartition(b"/")
                    if rest:
                        start = directory + b"/" if directory else b""
                        in_directory.setdefault(start, {}).setdefault(len(rest), {})[rest] = group
            self._prefixes_in = {d: sorted(t.items()) for d, t in in_directory.items()}
        # Every key, for telling at once which names hold none (see `_candidates`).
        self._suffix_keys = _keys_of(self._suffixes)
        self._prefix_keys = _keys_of(self._prefixes)
        self._prefix_keys_in = {d: _keys_of(t) for d, t in self._prefixes_in.items()}

    def decided(self, directory: bytes, names: Sequence[bytes]) -> dict[int, Found]:
        """By the position of each name in `names` that a pattern matches, (order,
        excludes) of the latest that does. The text matched is the name alone, or for
        patterns of paths `directory` (ending in '/', or empty) followed by the name."""
        if self._empty:
            return {}
        if self._name_only:
            directory = b""
            fixed: list[_Group] = []
            name_prefixes = self._prefixes
            prefix_keys = self._prefix_keys
        else:
            fixed = self._groups_of(directory)
            name_prefixes = self._prefixes_in.get(directory, [])
            prefix_keys = self._prefix_keys_in.get(directory, ())
        exact, components, suffixes = self._exact, self._components, self._suffixes
        general = self._general if self._general.top >= 0 else None
        lasts = self._general_lasts
        found: dict[int, Found] = {}
        positions: Sequence[int] = range(len(names))
        if not fixed and general is None:
            positions = self._candidates(directory, names, prefix_keys)
        for i in positions:
            name = names[i]
            text = directory + name
            best = _NONE
            for group in fixed:
                best = group.best(text, best)
            hit = exact.get(text)
            if hit is not None:
                best = hit.best(text, best)
            for length, table in name_prefixes:
                if length > len(name):
                    break
                hit = table.get(name[:length])
                if hit is not None:
                    best = hit.best(text, best)
            for length, table in suffixes:
                if length > len(text):
                    break
                hit = table.get(text[-length:])
                if hit is not None:
                    best = hit.best(text, best)
            hit = components.get(name)
            if hit is not None:
                best = hit.best(text, best)
            if general is not None and (lasts is None or name[-1] in lasts):
                best = general.best(text, best)
            if best[0] >= 0:
                found[i] = best
        return found

    def _candidates(
        self, directory: bytes, names: Sequence[bytes], prefix_keys: tuple[bytes, ...]
    ) -> list[int]:
        """The positions of the names that hold a key of this index, in order: no pattern
        matches the others. One C string method per name and kind of key, where the lookups
        by key length cost a dictionary lookup each, for the many names that hold no key
        (most names in most directories: bench_index.py)."""
        texts = [directory + name for name in names] if directory else names
        found: set[int] = set()
        if self._suffix_keys:
            suffixes = self._suffix_keys
            found.update([i for i, text in enumerate(texts) if text.endswith(suffixes)])
        if prefix_keys:
            found.update([i for i, name in enumerate(names) if name.startswith(prefix_keys)])
        if self._exact:
            exact = self._exact
            found.update([i for i, text in enumerate(texts) if text in exact])
        if self._components:
            components = self._components
            found.update([i for i, name in enumerate(names) if name in components])
        return sorted(found)

    def _groups_of(self, directory: bytes) -> list[_Group]:
        """For patterns of paths, the groups every name in `directory` has the key of: by
        a prefix within the directory, or one of its components."""
        groups = []
        for length, table in self._prefixes:
            if length > len(directory):
                break
            group = table.get(directory[:length])
            if group is not None:
                groups.append(group)
        if self._components:
            for component in directory.split(b"/")[:-1]:
                group = self._components.get(component)
                if group is not None:
                    groups.append(group)
        return groups


def _keys_of(tables: _Tables) -> tuple[bytes, ...]:
    return tuple(key for _, table in tables for key in table)


def _keys(translation: Translation, name_only: bool) -> list[tuple[int, bytes]]:
    """The keys a pattern may be filed under: literal parts every text it matches holds."""
    if translation.literal is not None:
        return [(_EXACT, translation.literal)]
    keys = []
    if translation.head:
        keys.append((_PREFIX, translation.head))
    if translation.tail:
        keys.append((_SUFFIX, translation.tail))
    if not name_only:
        keys.extend((_COMPONENT, c) for c in translation.components)
    return keys


def _key_decides(translation: Translation, kind: int, name_only: bool) -> bool:
    """Whether every text holding the key is matched: a literal pattern, or for names (no
    '/' in them) `head*` by its head and `*tail` by its tail."""
    if kind == _EXACT:
        return True
    if not name_only:
        return False
    if kind == _PREFIX:
        return translation.head_then_star
    return kind == _SUFFIX and translation.star_then_tail
