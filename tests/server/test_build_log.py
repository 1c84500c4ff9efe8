"""The server's line per finished build: who, what, how it ended, how long it took."""

from __future__ import annotations

import logging

import pytest

from embly_build.protocol import enums, pb
from embly_build.server.build_log import LOGGER_NAME, log_finished_build


def _logged(caplog: pytest.LogCaptureFixture, caller: str, finished: pb.Finished) -> str:
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        log_finished_build(caller, "hello-1a2b", "greeter", finished, 1.234)
    [record] = [r for r in caplog.records if r.name == LOGGER_NAME]
    return record.getMessage()


def test_an_unauthenticated_caller_is_logged_as_local(caplog: pytest.LogCaptureFixture) -> None:
    line = _logged(caplog, "", pb.Finished(status=enums.SUCCEEDED, cache_hit=True))
    assert line == (
        "build caller=anonymous project=hello-1a2b function=greeter status=ok cache_hit=yes "
        "duration=1.23s"
    )


def test_an_identity_with_spaces_stays_one_quoted_value(caplog: pytest.LogCaptureFixture) -> None:
    line = _logged(caplog, "cert:CN=ci, O=Acme+token:alice", pb.Finished(status=enums.FAILED))
    assert line.startswith('build caller="cert:CN=ci, O=Acme+token:alice" project=hello-1a2b ')
    assert " status=failed cache_hit=no " in line
