"""A real `embly serve` on 127.0.0.1 with TLS, client certificates and bearer tokens, built
against by the real `embly build`: what builds, what is refused and how each refusal reads."""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from tests.helpers import EMBLY, embly

pytestmark = pytest.mark.slow

ALICE = "alice-0123456789abcdef0123456789"
BOB = "bob-fedcba9876543210fedcba987654"
CAROL = "carol-00112233445566778899aabbcc"
CLIENT_CERT_HINT = "--tls-cert FILE --tls-key FILE"


@dataclass(frozen=True)
class Pki:
    directory: Path
    ca: Path
    server: Path  # certificate chain and key in one PEM
    client: Path
    other_ca: Path  # a CA nobody here trusts
    stranger: Path  # a client certificate the other CA signed
    expired_server: Path
    expired_client: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca, other = trustme.CA(), trustme.CA()
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=30)
    yesterday = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)

    def write(name: str, blob: trustme.Blob) -> Path:
        path = directory / name
        blob.write_to_path(str(path))
        return path

    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("ci@example.org", common_name="ci-runner")
    expired_server = ca.issue_cert("127.0.0.1", not_before=past, not_after=yesterday)
    expired_client = ca.issue_cert("old@example.org", not_before=past, not_after=yesterday)
    return Pki(
        directory,
        ca=write("ca.pem", ca.cert_pem),
        server=write("server.pem", server.private_key_and_cert_chain_pem),
        client=write("client.pem", client.private_key_and_cert_chain_pem),
        other_ca=write("other-ca.pem", other.cert_pem),
        stranger=write(
            "stranger.pem", other.issue_cert("x@example.org").private_key_and_cert_chain_pem
        ),
        expired_server=write("expired-server.pem", expired_server.private_key_and_cert_chain_pem),
        expired_client=write("expired-client.pem", expired_client.private_key_and_cert_chain_pem),
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    address: str
    process: subprocess.Popen[str]
    log: list[str]

    def stop(self) -> str:
        """Stop it; everything it printed."""
        if self.process.poll() is None:
            self.process.terminate()
        _, err = self.process.communicate(timeout=60)
        self.log.append(err)
        return "".join(self.log)


@contextlib.contextmanager
def serving(store: Path, *options: str) -> Iterator[Server]:
    port = _free_port()
    process = subprocess.Popen(
        [str(EMBLY), "serve", "--listen", f"127.0.0.1:{port}", "--store", str(store), *options],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    server = Server(f"127.0.0.1:{port}", process, [])
    try:
        assert process.stderr is not None
        while "listening on" not in (line := process.stderr.readline()):
            server.log.append(line)
            assert line, "".join(server.log)  # it stopped before listening
        server.log.append(line)
        yield server
    finally:
        if process.poll() is None:
            server.stop()


def _token_file(directory: Path, name: str, token: str) -> Path:
    path = directory / name
    path.write_text(token + "\n")
    return path


def _tokens(path: Path, *lines: str) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    path.chmod(0o600)
    return path


def _build(project: Path, server: Server, *options: str) -> subprocess.CompletedProcess[str]:
    return embly("build", "greeter", "--remote", server.address, *options, cwd=project)


def _artifacts(project: Path) -> dict[str, bytes]:
    out = project / "embly_build"
    return {name: (out / name).read_bytes() for name in ("greeter.wasm", "greeter.cwasm")}


@pytest.fixture
def local_artifacts(project: Path, tmp_path: Path) -> dict[str, bytes]:
    """What an in-process build of the same sources writes."""
    result = embly(
        "build", "greeter", cwd=project, env={"EMBLY_HOME": str(tmp_path / "local-home")}
    )
    assert result.returncode == 0, result.stderr
    artifacts = _artifacts(project)
    for path in (project / "embly_build").iterdir():
        path.unlink()
    return artifacts


def test_token_mtls_and_both_build_what_an_in_process_build_does(
    pki: Pki, project: Path, tmp_path: Path, local_artifacts: dict[str, bytes]
) -> None:
    tokens = _tokens(tmp_path / "tokens", f"alice {ALICE}", f"bob {BOB}")
    alice = _token_file(tmp_path, "alice.token", ALICE)
    tls = ["--tls-cert", str(pki.server), "--tls-key", str(pki.server)]
    client_cert = ["--tls-cert", str(pki.client), "--tls-key", str(pki.client)]
    ca = ["--tls-ca", str(pki.ca)]
    setups = {
        "token": ([*tls, "--token-file", str(tokens)], [*ca, "--token-file", str(alice)]),
        "mtls": ([*tls, "--client-ca", str(pki.ca)], [*ca, *client_cert]),
        "both": (
            [*tls, "--client-ca", str(pki.ca), "--token-file", str(tokens)],
            [*ca, *client_cert, "--token-file", str(alice)],
        ),
    }
    for name, (server_options, client_options) in setups.items():
        with serving(tmp_path / f"store-{name}", *server_options) as server:
            result = _build(project, server, *client_options)
            log = server.stop()
        assert result.returncode == 0, f"{name}: {result.stderr}"
        assert _artifacts(project) == local_artifacts, name
        identity = {
            "token": "token:alice",
            "mtls": "CN=ci-runner",
            "both": "CN=ci-runner",
        }[name]
        assert identity in log and "function=greeter" in log, log
        if name != "token":
            assert 'caller="cert:' in log, log
        if name == "both":
            assert "+token:alice" in log
        assert "(TLS" in log, log


def test_each_refusal_says_what_to_pass(pki: Pki, project: Path, tmp_path: Path) -> None:
    tokens = _tokens(tmp_path / "tokens", f"alice {ALICE}")
    alice = _token_file(tmp_path, "alice.token", ALICE)
    wrong = _token_file(tmp_path, "wrong.token", "not-the-token-at-all-000")
    ca = ["--tls-ca", str(pki.ca)]
    client_cert = ["--tls-cert", str(pki.client), "--tls-key", str(pki.client)]
    cases: list[tuple[list[str], int, str]] = [
        (ca + client_cert, 2, "this server needs a token: pass --token-file FILE"),
        (
            [*ca, *client_cert, "--token-file", str(wrong)],
            2,
            "the token is not one this server accepts",
        ),
        (
            ["--tls-ca", str(pki.other_ca), *client_cert, "--token-file", str(alice)],
            2,
            "not signed by a CA this client trusts: pass the CA that signed it with --tls-ca",
        ),
        ([*ca, "--token-file", str(alice)], 2, CLIENT_CERT_HINT),
        (
            [*ca, "--tls-cert", str(pki.stranger), "--tls-key", str(pki.stranger)],
            2,
            "certificate",
        ),
        (
            [*ca, "--tls-cert", str(pki.expired_client), "--tls-key", str(pki.expired_client)],
            2,
            "certificate",
        ),
        (["--token-file", str(alice)], 3, "if it serves TLS, pass --tls-ca FILE"),
    ]
    with serving(
        tmp_path / "store",
        "--tls-cert",
        str(pki.server),
        "--tls-key",
        str(pki.server),
        "--client-ca",
        str(pki.ca),
        "--token-file",
        str(tokens),
    ) as server:
        for options, code, message in cases:
            result = _build(project, server, *options)
            assert result.returncode == code, (options, result.stderr)
            assert message in result.stderr, (options, result.stderr)
            assert "Traceback" not in result.stderr
        log = server.stop()
    assert log.count("refused") >= 2, "token refusals are logged, naming the call"
    assert "Traceback" not in log


def test_tls_to_a_plaintext_port_and_an_expired_server_certificate(
    pki: Pki, project: Path, tmp_path: Path
) -> None:
    with serving(tmp_path / "plain") as plain:
        result = _build(project, plain, "--tls-ca", str(pki.ca))
    assert result.returncode == 2, result.stderr
    assert "not TLS (a server without TLS on this port?)" in result.stderr, result.stderr

    expired = ["--tls-cert", str(pki.expired_server), "--tls-key", str(pki.expired_server)]
    tokens = _tokens(tmp_path / "tokens", f"alice {ALICE}")
    with serving(tmp_path / "expired", *expired, "--token-file", str(tokens)) as server:
        result = _build(
            project,
            server,
            "--tls-ca",
            str(pki.ca),
            "--token-file",
            str(_token_file(tmp_path, "a", ALICE)),
        )
    assert result.returncode == 2, result.stderr
    assert "the server's TLS certificate has expired" in result.stderr, result.stderr


def test_a_token_is_rotated_and_revoked_by_editing_the_file(
    pki: Pki, project: Path, tmp_path: Path
) -> None:
    tokens = _tokens(tmp_path / "tokens", f"alice {ALICE}")
    alice = ["--tls-ca", str(pki.ca), "--token-file", str(_token_file(tmp_path, "a", ALICE))]
    bob = ["--tls-ca", str(pki.ca), "--token-file", str(_token_file(tmp_path, "b", BOB))]
    tls = ["--tls-cert", str(pki.server), "--tls-key", str(pki.server)]
    with serving(tmp_path / "store", *tls, "--token-file", str(tokens)) as server:
        assert _build(project, server, *alice).returncode == 0
        refused = _build(project, server, *bob)
        assert refused.returncode == 2 and "not one this server accepts" in refused.stderr

        _tokens(tokens, f"alice {ALICE}", f"bob {BOB}")  # the new token added
        assert _build(project, server, *bob).returncode == 0

        _tokens(tokens, f"bob {BOB}")  # the old one removed: revoked
        time.sleep(0.01)  # a file rewritten within one timestamp tick is still seen
        revoked = _build(project, server, *alice)
        assert revoked.returncode == 2, revoked.stderr
        assert "not one this server accepts (wrong, or revoked)" in revoked.stderr

        tokens.write_text("bob\n")  # a broken file: no token passes until it is fixed
        broken = _build(project, server, *bob)
        assert broken.returncode == 3, "the server's to fix: the client's command was right"
        assert "token file is unreadable or invalid" in broken.stderr
        _tokens(tokens, f"bob {BOB}")
        assert _build(project, server, *bob).returncode == 0
        log = server.stop()
    assert "line 1: expected NAME TOKEN" in log, "the server's log says what is wrong"


def test_callers_have_their_own_build_spaces_and_cache(
    pki: Pki, project: Path, tmp_path: Path
) -> None:
    tokens = _tokens(tmp_path / "tokens", f"alice {ALICE}", f"carol {CAROL}")
    tls = ["--tls-cert", str(pki.server), "--tls-key", str(pki.server)]
    store = tmp_path / "store"

    def as_(name: str, token: str) -> list[str]:
        return ["--tls-ca", str(pki.ca), "--token-file", str(_token_file(tmp_path, name, token))]

    with serving(store, *tls, "--token-file", str(tokens)) as server:
        first = embly(
            "build", "greeter", "--json", "--remote", server.address, *as_("a", ALICE), cwd=project
        )
        again = embly(
            "build", "greeter", "--json", "--remote", server.address, *as_("c", CAROL), cwd=project
        )
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    assert '"cache_hit": false' in again.stdout, "carol's build does not take alice's result"
    owners = sorted(path.name for path in (store / "spaces").iterdir())
    assert len(owners) == 2 and all("@" in owner for owner in owners), owners
    assert len({owner.split("@")[0] for owner in owners}) == 1, "the same project id"


def test_serve_refuses_bad_files_and_open_addresses_before_listening(
    pki: Pki, tmp_path: Path
) -> None:
    def serve(*options: str) -> subprocess.CompletedProcess[str]:
        return embly("serve", "--store", str(tmp_path / "s"), *options, cwd=tmp_path, timeout=60)

    tls = ["--tls-cert", str(pki.server), "--tls-key", str(pki.server)]
    open_address = f"0.0.0.0:{_free_port()}"
    unreadable = tmp_path / "unreadable.pem"
    unreadable.write_text("x")
    unreadable.chmod(0)
    cases = [
        (["--tls-cert", str(tmp_path / "none.pem"), "--tls-key", str(pki.server)], "no such file"),
        (["--tls-cert", str(pki.server)], "TLS needs both --tls-cert FILE and --tls-key FILE"),
        (["--tls-cert", str(pki.ca), "--tls-key", str(pki.ca)], "holds a certificate (swapped"),
        (
            ["--tls-cert", str(pki.ca), "--tls-key", str(pki.client)],
            "cannot use --tls-cert",  # a key that is not the certificate's
        ),
        (["--client-ca", str(pki.ca)], "give the server's own certificate too"),
        ([*tls, "--token-file", str(tmp_path / "none")], "--token-file"),
        (["--listen", open_address], f"refusing to serve {open_address} without TLS"),
        (
            ["--listen", open_address, *tls],
            f"refusing to serve {open_address} without client authentication",
        ),
    ]
    if os.geteuid() != 0:  # root reads any file
        cases.append(([*tls, "--client-ca", str(unreadable)], "cannot read it"))
    for options, message in cases:
        result = serve(*options)
        assert result.returncode == 2, (options, result.stderr)
        assert message in result.stderr, (options, result.stderr)
        assert "listening" not in result.stderr and "Traceback" not in result.stderr

    with serving(tmp_path / "open", "--insecure", "--listen", open_address) as server:
        log = server.stop()
    assert "run arbitrary code (build scripts)" in log and "--insecure" in log, log
