"""`embly watch --json` run in the background by a test, its events read as they come."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.helpers import EMBLY

Event = dict[str, Any]


class WatchProcess:
    """`embly watch --json` in the background, its events read line by line."""

    def __init__(self, project: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [str(EMBLY), "watch", "--json", *args],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.events: queue.Queue[Event] = queue.Queue()
        self.seen: list[Event] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.put(json.loads(line))

    def wait_for(self, matches: Callable[[Event], bool], timeout: float = 120) -> Event:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=0.1)
            except queue.Empty:
                if self.process.poll() is not None:
                    assert self.process.stderr is not None
                    raise AssertionError(f"watch exited: {self.process.stderr.read()}") from None
                continue
            self.seen.append(event)
            if matches(event):
                return event
        raise AssertionError(f"no matching event in {timeout}s; saw {self.seen[-10:]}")

    def quiet_for(self, seconds: float) -> list[Event]:
        """Events (other than logs) that arrive within `seconds`."""
        deadline = time.monotonic() + seconds
        arrived = []
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=0.05)
            except queue.Empty:
                continue
            if event["event"] != "log":
                arrived.append(event)
        return arrived


def finished(function: str) -> Callable[[Event], bool]:
    return lambda e: e["event"] == "build_finished" and e["function"] == function


def is_event(kind: str) -> Callable[[Event], bool]:
    return lambda e: e["event"] == kind


@contextlib.contextmanager
def watch_running(project: Path, *args: str) -> Iterator[WatchProcess]:
    """`embly watch --json ARGS` for the duration of the block, then killed (with its group)."""
    watch = WatchProcess(project, *args)
    try:
        yield watch
    finally:
        if watch.process.poll() is None:
            os.killpg(watch.process.pid, signal.SIGKILL)
        watch.process.wait()
