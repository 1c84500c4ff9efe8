"""The user's configuration file (TOML at EMBLY_CONFIG), written by `embly setup`.

executor = "nix"          # nix | docker | remote (default: remote when remote is set)
remote = "unix:/run/embly.sock"
toolchains = "host"       # host | nixpkgs
jobs = 4
opt_level = "O2"         # wasm-opt level: O0..O4, Os, Oz, or "none" to skip wasm-opt
watch_opt_level = "none" # the same for `embly watch` (default: opt_level)
watch_quick_first = false # `embly watch`: wait for wasm-opt before writing artifacts
tls_ca = "~/.config/embly/ca.pem"   # the remote server's CA: connect with TLS
tls_cert = "client.pem"             # mutual TLS: this client's certificate and key
tls_key = "client-key.pem"          # (a relative path is relative to this file)
token_file = "token"                # a file holding the bearer token the server accepts
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from embly_build.errors import ConfigError

_KEYS = {
    "executor": str,
    "remote": str,
    "toolchains": str,
    "jobs": int,
    "opt_level": str,
    "watch_opt_level": str,
    "watch_quick_first": bool,
    "tls_ca": str,
    "tls_cert": str,
    "tls_key": str,
    "token_file": str,
}
_PATH_KEYS = ("tls_ca", "tls_cert", "tls_key", "token_file")

_KIND_WORDS = {str: "a quoted string", int: "a whole number", bool: "true or false"}


@dataclass(frozen=True)
class UserConfig:
    executor: str | None = None
    remote: str | None = None
    toolchains: str | None = None
    jobs: int | None = None
    opt_level: str | None = None
    watch_opt_level: str | None = None
    watch_quick_first: bool | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    token_file: Path | None = None


def load_user_config(path: Path) -> UserConfig:
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return UserConfig()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}; fix the file or set EMBLY_CONFIG elsewhere") from exc
    for key, value in raw.items():
        expected = _KEYS.get(key)
        if expected is None:
            raise ConfigError(f"{path}: unknown key {key!r}; known keys: {', '.join(_KEYS)}")
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            kind = _KIND_WORDS[expected]
            raise ConfigError(f"{path}: {key} must be {kind}, not {value!r}")
    for key in _PATH_KEYS:
        if key in raw:
            if not raw[key]:
                raise ConfigError(f"{path}: {key} is empty; give a file's path or remove the key")
            raw[key] = path.parent / Path(raw[key]).expanduser()
    return UserConfig(**raw)
