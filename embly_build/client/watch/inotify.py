"""Linux inotify through libc: watches on directories, read from a non-blocking descriptor.

An event loop waits on the descriptor, so a watch that sees no change never wakes up, and a
change is read the moment the kernel reports it (no polling interval in between).
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import struct
import sys
from pathlib import Path

_IN_MODIFY = 0x002
_IN_ATTRIB = 0x004
_IN_CLOSE_WRITE = 0x008
_IN_MOVED_FROM = 0x040
_IN_MOVED_TO = 0x080
_IN_CREATE = 0x100
_IN_DELETE = 0x200
_IN_DELETE_SELF = 0x400
_IN_MOVE_SELF = 0x800
_IN_UNMOUNT = 0x2000
_IN_Q_OVERFLOW = 0x4000
_IN_IGNORED = 0x8000
_IN_ONLYDIR = 0x01000000
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC

# Everything that can change a directory's entries or a file's bytes, mode or mtime.
_DIRECTORY_MASK = (
    _IN_MODIFY
    | _IN_ATTRIB
    | _IN_CLOSE_WRITE
    | _IN_MOVED_FROM
    | _IN_MOVED_TO
    | _IN_CREATE
    | _IN_DELETE
    | _IN_DELETE_SELF
    | _IN_MOVE_SELF
    | _IN_ONLYDIR
)
# The watch no longer sees the directory at its path: the directory was deleted (a new one
# made there is not watched), moved (its watch follows it elsewhere) or unmounted.
_WATCH_LOST = _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_UNMOUNT | _IN_IGNORED
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of NUL-padded name
_READ_SIZE = 64 * 1024


class EventsLost(Exception):
    """The kernel's event queue overflowed: changes happened that no event describes."""


class InstanceLimitReached(OSError):
    """No inotify instance can be made: the user's limit on them is reached (or this
    process's limit on open files)."""


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if sys.platform != "linux":
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # the process's own symbols: libc's among them
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    except (OSError, AttributeError):
        return None
    return libc


def available() -> bool:
    return _libc() is not None


class Inotify:
    """One inotify instance watching directories (not recursively). Close it when done
    (`contextlib.closing`)."""

    def __init__(self) -> None:
        libc = _libc()
        if libc is None:
            raise OSError(errno.ENOSYS, "inotify is not available on this system")
        self._libc = libc
        fd = int(self._libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC))
        if fd < 0:
            error = _os_error("inotify_init1")
            if error.errno == errno.EMFILE:
                raise InstanceLimitReached(error.errno, error.strerror)
            raise error
        self._fd = fd
        self._directories: dict[int, Path] = {}
        self._lost: set[Path] = set()

    def fileno(self) -> int:
        return self._fd

    def add_directory(self, directory: Path) -> bool:
        """Watch the entries of `directory`; False when it is gone, no longer a directory or
        not readable (a change to that is an event in its parent's watch). Other failures
        raise, ENOSPC among them: the user's limit on watches is reached."""
        wd: int = self._libc.inotify_add_watch(self._fd, os.fsencode(directory), _DIRECTORY_MASK)
        if wd < 0:
            error = _os_error("inotify_add_watch", directory)
            if error.errno in (errno.ENOENT, errno.ENOTDIR, errno.EACCES):
                return False
            raise error
        self._directories[wd] = directory
        return True

    def read_paths(self) -> list[Path]:
        """The paths named by every event queued so far (a watched directory itself for
        events on it), oldest first; [] when none are queued. Raises `EventsLost` when the
        queue overflowed."""
        paths: list[Path] = []
        while True:
            try:
                data = os.read(self._fd, _READ_SIZE)
            except BlockingIOError:
                return paths
            paths.extend(self._parse(data))

    def _parse(self, data: bytes) -> list[Path]:
        paths = []
        offset = 0
        while offset < len(data):
            wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
            offset += _HEADER.size
            name = data[offset : offset + length].rstrip(b"\0")
            offset += length
            if mask & _IN_Q_OVERFLOW:
                raise EventsLost("the kernel dropped file events (its queue overflowed)")
            directory = self._directories.get(wd)
            if directory is not None:
                paths.append(directory / os.fsdecode(name) if name else directory)
                if mask & _WATCH_LOST:
                    self._lost.add(directory)
        return paths

    def take_lost(self) -> set[Path]:
        """The watched directories whose watch stopped following their path (deleted, moved
        or unmounted) since the last call: what is at that path now is not watched."""
        lost, self._lost = self._lost, set()
        return lost

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _os_error(call: str, path: Path | None = None) -> OSError:
    number = ctypes.get_errno()
    message = f"{call}: {os.strerror(number)}"
    return OSError(number, message) if path is None else OSError(number, message, str(path))
