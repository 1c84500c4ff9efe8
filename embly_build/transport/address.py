"""Server addresses: `inproc`, `unix:/path/to/sock`, `HOST:PORT`."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from embly_build.errors import UsageError

DEFAULT_PORT = 9276
INPROC = "inproc"
# The kernel keeps a unix socket's path in sockaddr_un.sun_path: 108 bytes on Linux, the
# last a NUL. A longer path fails only at bind() or connect(), so it is refused here.
MAX_SOCKET_PATH_BYTES = 107

AddressKind = Literal["inproc", "unix", "tcp"]


@dataclass(frozen=True)
class Address:
    kind: AddressKind
    path: Path | None = None
    host: str = ""
    port: int = 0

    def __str__(self) -> str:
        if self.kind == "unix":
            return f"unix:{self.path}"
        if self.kind == "tcp":
            host = f"[{self.host}]" if ":" in self.host else self.host
            return f"{host}:{self.port}"
        return INPROC


def parse_address(text: str) -> Address:
    if text == INPROC:
        return Address("inproc")
    if text.startswith("unix:"):
        path = text.removeprefix("unix:")
        if not path:
            raise UsageError("a unix address needs a socket path: unix:/path/to/embly.sock")
        absolute = Path(path).expanduser().absolute()
        _check_socket_path_length(absolute)
        return Address("unix", path=absolute)
    scheme, separator, rest = text.partition("://")
    if separator:
        raise UsageError(
            f"invalid address {text!r}: no URL schemes ({scheme}://); give HOST:PORT"
            f" ({rest or 'localhost:9276'}), unix:/path/to/sock or inproc"
        )
    host, port = _split_host_port(text)
    return Address("tcp", host=host, port=port)


def _check_socket_path_length(path: Path) -> None:
    length = len(os.fsencode(path))
    if length > MAX_SOCKET_PATH_BYTES:
        raise UsageError(
            f"the socket path of unix:{path} is too long: {length} bytes, and a unix socket's "
            f"path can have at most {MAX_SOCKET_PATH_BYTES} bytes; use a shorter one (e.g. in "
            "/tmp or $XDG_RUNTIME_DIR)"
        )


def _split_host_port(text: str) -> tuple[str, int]:
    if text.startswith("["):  # [::1]:9276
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if not host:
        raise UsageError(f"invalid address {text!r}: expected inproc, unix:/path or HOST:PORT")
    if not port_text:
        return host, DEFAULT_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(f"invalid port in address {text!r}: expected a number from 1 to 65535")
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    """Whether a host reaches this machine only: a loopback IP address, or `localhost` (no
    other name is resolved: what it names can change after the check)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
