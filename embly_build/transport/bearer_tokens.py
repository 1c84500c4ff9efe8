"""A server's bearer tokens: a file of `NAME TOKEN` lines, re-read when it changes.

Several tokens at once let one be rotated: add the new line, move clients over, remove the
old line; no restart, since the file is checked (a stat) at every call and read again when
it changed. A token is compared in constant time with every accepted token, so neither
timing nor the order of lines tells how much of a guess was right.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from embly_build.errors import ConfigError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_TOKEN = re.compile(r"[\x21-\x7e]+")  # printable ASCII without spaces: valid in a header
MIN_TOKEN_LENGTH = 16
FORMAT_HINT = (
    "each line is NAME TOKEN (a name for the logs, then a token of at least "
    f"{MIN_TOKEN_LENGTH} printable characters, e.g. from `openssl rand -hex 32`); "
    "lines starting with '#' are comments"
)


def header_safe(token: str) -> bool:
    """Whether `token` is printable ASCII without spaces: what a header carries unchanged."""
    return _TOKEN.fullmatch(token) is not None


class TokenFileError(ConfigError):
    """The token file cannot be read, or a line of it is not NAME TOKEN."""


@dataclass(frozen=True)
class _Accepted:
    name: str
    token_sha256: bytes


class TokenFile:
    """The tokens a server accepts, as its --token-file says at each call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int, int] | None = None
        self._accepted: list[_Accepted] = []
        self._problem: TokenFileError | None = None
        self.reload_if_changed()
        if self._problem is not None:
            raise self._problem

    def world_readable(self) -> bool:
        try:
            return bool(self.path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))
        except OSError:
            return False

    def names(self) -> list[str]:
        self.reload_if_changed()
        return [accepted.name for accepted in self._accepted]

    def match(self, token: str) -> str | None:
        """The name of `token` if the file (as it is now) accepts it; TokenFileError when the
        file has become unreadable or invalid: then no token is accepted until it is fixed."""
        self.reload_if_changed()
        if self._problem is not None:
            raise self._problem
        presented = hashlib.sha256(token.encode()).digest()
        found = None
        for accepted in self._accepted:  # every one, with no early exit
            if hmac.compare_digest(presented, accepted.token_sha256):
                found = accepted.name
        return found

    def reload_if_changed(self) -> None:
        try:
            info = os.stat(self.path)
        except OSError as error:
            self._fail(TokenFileError(f"--token-file {self.path}: {error.strerror}"))
            return
        seen = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        if seen == self._seen:
            return
        with self._lock:
            try:
                accepted = _parse(self.path, self.path.read_text(encoding="utf-8-sig"))
            except IsADirectoryError:
                self._fail(
                    TokenFileError(f"--token-file {self.path} is a directory; {FORMAT_HINT}")
                )
            except UnicodeDecodeError:
                self._fail(TokenFileError(f"--token-file {self.path}: not UTF-8 text"))
            except OSError as error:
                self._fail(TokenFileError(f"--token-file {self.path}: {error.strerror}"))
            except TokenFileError as error:
                self._fail(error)
            else:
                self._accepted, self._problem = accepted, None
            self._seen = seen

    def _fail(self, problem: TokenFileError) -> None:
        self._accepted, self._problem = [], problem


def _parse(path: Path, text: str) -> list[_Accepted]:
    accepted: list[_Accepted] = []
    names: set[str] = set()
    tokens: set[bytes] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.strip()
        if not content or content.startswith("#"):
            continue
        where = f"--token-file {path}, line {number}"
        fields = content.split()
        if len(fields) != 2:
            raise TokenFileError(f"{where}: expected NAME TOKEN; {FORMAT_HINT}")
        name, token = fields
        if not _NAME.fullmatch(name):
            raise TokenFileError(
                f"{where}: invalid name {name!r}: use letters, digits, '.', '_', '-', '@'"
            )
        if not header_safe(token) or len(token) < MIN_TOKEN_LENGTH:
            raise TokenFileError(
                f"{where}: the token of {name!r} is too short or has characters a header "
                f"cannot carry; {FORMAT_HINT}"
            )
        digest = hashlib.sha256(token.encode()).digest()
        if name in names:
            raise TokenFileError(f"{where}: the name {name!r} is used twice")
        if digest in tokens:
            raise TokenFileError(f"{where}: the token of {name!r} is another line's too")
        names.add(name)
        tokens.add(digest)
        accepted.append(_Accepted(name, digest))
    if not accepted:
        raise TokenFileError(f"--token-file {path} holds no token; {FORMAT_HINT}")
    return accepted
