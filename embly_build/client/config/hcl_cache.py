"""Remember the parse of each project's embly.hcl, so an unchanged file is never re-parsed.

Loading HCL's grammar costs more than everything else a no-op `embly build` does, so the
parsed body is kept per config file under EMBLY_HOME, keyed by the file's exact text and by
the parser's own files: a new python-hcl2, lark or embly-build parses afresh. Only files
that parse are kept; a syntax error is always reported by the real parser. Validation
(paths exist, names are known) is not cached: it runs on every load.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from embly_build.atomic_write import write_atomically
from embly_build.client.config.hcl_model import Attribute, Block, Body
from embly_build.errors import SourceLocation
from embly_build.home import embly_home

_FORMAT = 1
_PARSER_MODULES = ("hcl2", "lark")


def default_hcl_cache_dir() -> Path:
    return embly_home() / "client" / "parsed-hcl"


def parse_hcl_cached(text: str, file: Path, cache_dir: Path | None = None) -> Body:
    """Like `parse_hcl`, reusing the body parsed from the same text by an earlier process."""
    cache_dir = default_hcl_cache_dir() if cache_dir is None else cache_dir
    entry = cache_dir / f"{hashlib.sha256(os.fsencode(file)).hexdigest()[:32]}.json"
    key = _cache_key(text)
    cached = _read_entry(entry, key, file)
    if cached is not None:
        return cached
    from embly_build.client.config.hcl_tree import parse_hcl  # loads the grammar: only on a miss

    body = parse_hcl(text, file)
    _write_entry(entry, key, body)
    return body


def _cache_key(text: str) -> str:
    digest = hashlib.sha256(f"{_FORMAT}\n".encode())
    for origin in _parser_files():
        stat = origin.stat()
        digest.update(f"{origin}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _parser_files() -> list[Path]:
    """Files whose change (an upgrade, an edit) can change what a parse gives."""
    files = [Path(__file__).with_name("hcl_tree.py")]
    for module in _PARSER_MODULES:
        spec = importlib.util.find_spec(module)  # finds without importing
        if spec is not None and spec.origin:
            files.append(Path(spec.origin))
    return files


def _read_entry(entry: Path, key: str, file: Path) -> Body | None:
    try:
        data = json.loads(entry.read_bytes())
        if data["key"] != key:
            return None
        return _body_from_data(data["body"], file)
    # Missing, unreadable or damaged: parse afresh and replace it.
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def _write_entry(entry: Path, key: str, body: Body) -> None:
    data = {"key": key, "body": _body_to_data(body)}
    if json.loads(json.dumps(data)) != data:
        return  # a value JSON cannot carry exactly (a tuple, a non-string key): keep no entry
    # The cache is an optimisation: a read-only or full disk must not fail the build.
    with contextlib.suppress(OSError):
        entry.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(data, separators=(",", ":"))
        write_atomically(entry, text.encode("utf-8"), temp_prefix=".parsed-")


def _body_to_data(body: Body) -> dict[str, Any]:
    return {
        "attributes": [
            [a.name, a.value, a.literal, a.location.line, a.location.column]
            for a in body.attributes.values()
        ],
        "blocks": [
            [b.type, list(b.labels), _body_to_data(b.body), b.location.line, b.location.column]
            for b in body.blocks
        ],
    }


def _body_from_data(data: dict[str, Any], file: Path) -> Body:
    attributes = {}
    for name, value, literal, line, column in data["attributes"]:
        attributes[name] = Attribute(name, value, literal, SourceLocation(file, line, column))
    blocks = tuple(
        Block(type_, tuple(labels), _body_from_data(body, file), SourceLocation(file, line, column))
        for type_, labels, body, line, column in data["blocks"]
    )
    return Body(attributes, blocks)
