"""Rewrite SOURCE_ROOT paths in server logs to this machine's real files."""

from __future__ import annotations

import os
import re
from pathlib import Path

from embly_build.protocol.paths import SOURCE_ROOT

_SOURCE_PATH = re.compile(re.escape(SOURCE_ROOT) + r"(/[^\s:)'\"`]*)?")


class LogPathMapper:
    """Map `/embly-src/<tree path>` to `<root>/<tree path>`, shown relative to the working
    directory when the file lies under it (as cargo shows paths), else absolute."""

    def __init__(self, root: Path, cwd: Path | None = None) -> None:
        self._root = root
        self._cwd = cwd or Path.cwd()

    def __call__(self, text: str) -> str:
        return _SOURCE_PATH.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        tail = (match.group(1) or "").lstrip("/")
        real = self._root / tail if tail else self._root
        try:
            relative = real.relative_to(self._cwd)
        except ValueError:
            return str(real)
        return str(relative) if str(relative) != "." else os.curdir
