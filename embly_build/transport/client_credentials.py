"""A client's credentials for an address, from the files a user names: a CA to verify the
server (TLS), a client certificate and key (mutual TLS), a token (bearer metadata).

Each file is read at once, so a mistake is a UsageError before anything connects. A token
is never sent in clear text beyond this machine: to a non-loopback TCP address it needs TLS.
"""

from __future__ import annotations

from pathlib import Path

from embly_build.errors import UsageError
from embly_build.transport.address import Address, is_loopback
from embly_build.transport.bearer_tokens import header_safe
from embly_build.transport.credentials import NO_CREDENTIALS, Credentials
from embly_build.transport.tls import client_context


def client_credentials(
    address: Address,
    *,
    tls_ca: Path | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    token: str | None = None,
    token_file: Path | None = None,
) -> Credentials:
    tls = tls_ca is not None or tls_cert is not None or tls_key is not None
    if token is not None and token_file is not None:
        raise UsageError("give a token or a token file, not both")
    if token_file is not None:
        token = read_token_file(token_file)
    if token is not None:
        _check_token(token, f"the token in {token_file}" if token_file else "the token")
    if not tls and token is None:
        return NO_CREDENTIALS
    if address.kind != "tcp":
        what = "TLS (--tls-ca, --tls-cert, --tls-key)" if tls else "a token (--token-file)"
        if address.kind == "inproc" or tls:
            raise UsageError(
                f"{what} is for a build server at HOST:PORT, not {address}: drop it, or give "
                "--remote HOST:PORT"
            )
    if token is not None and not tls and address.kind == "tcp" and not is_loopback(address.host):
        raise UsageError(
            f"refusing to send a token to {address} in clear text: pass the server's CA with "
            "--tls-ca FILE to connect with TLS"
        )
    ssl_context = client_context(tls_ca, tls_cert, tls_key) if tls else None
    metadata = {"authorization": f"Bearer {token}"} if token is not None else {}
    return Credentials(ssl_context=ssl_context, metadata=metadata)


def read_token_file(path: Path) -> str:
    """The token a client's token file holds: the file's one line."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # an editor's byte-order mark is no token
    except FileNotFoundError:
        raise UsageError(f"--token-file {path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(
            f"--token-file {path} is a directory; give the file holding the token"
        ) from None
    except UnicodeDecodeError:
        raise UsageError(f"--token-file {path}: not a text file holding a token") from None
    except OSError as error:
        raise UsageError(f"--token-file {path}: cannot read it: {error.strerror}") from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise UsageError(f"--token-file {path} is empty: put the token the server accepts in it")
    if len(lines) > 1 or len(lines[0].split()) > 1:
        raise UsageError(
            f"--token-file {path} holds more than one token: a client's token file holds its "
            "token alone, on one line (the server's file has a NAME before each token)"
        )
    return lines[0]


def _check_token(token: str, what: str) -> None:
    if not header_safe(token):
        raise UsageError(
            f"{what} has characters a token cannot have (a token is printable ASCII without "
            "spaces): check it against the one the server's administrator gave you"
        )
