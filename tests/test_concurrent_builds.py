"""Concurrent builds with real cargo: one compile per function; newer builds supersede older."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from embly_build import BuildFinished, LogLine, ServerSettings, connect
from embly_build.errors import StoreError
from embly_build.server.executors.nix_shell import SHELL_START_TASK
from tests.helpers import EMBLY, finished_by_function

pytestmark = pytest.mark.slow


def test_two_terminals_building_at_once_compile_each_function_once(
    project: Path, embly_home: Path
) -> None:
    terminals = [
        subprocess.Popen(
            [str(EMBLY), "build", "--json"],
            cwd=project,
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [terminal.communicate(timeout=300) for terminal in terminals]
    assert [t.returncode for t in terminals] == [0, 0], [err for _, err in outputs]
    compiles = sum(out.count('"text": "   Compiling ') for out, _ in outputs)
    # Each function's build space compiles itself and its own copy of `common`: 6 in all,
    # as one terminal alone would; the other terminal compiles nothing.
    assert compiles == 6
    for function in ("greeter", "counter", "shout"):
        hits = [finished_by_function(out)[function]["cache_hit"] for out, _ in outputs]
        assert sorted(hits) == [False, True]


async def test_newer_build_of_a_function_cancels_the_older(project: Path, embly_home: Path) -> None:
    main_rs = project / "greeter" / "src" / "main.rs"
    compiling = asyncio.Event()

    def watch_for_compile(event: object) -> None:
        if isinstance(event, LogLine) and "Compiling greeter-fn" in event.text:
            compiling.set()

    async with connect(settings=ServerSettings(home=embly_home, jobs=2)) as client:
        older = asyncio.create_task(client.build(project, ["greeter"], watch_for_compile))
        await asyncio.wait_for(compiling.wait(), timeout=120)
        main_rs.write_text(main_rs.read_text().replace('"{}"', '"{} (again)"'))
        newer = await client.build(project, ["greeter"])
        (older_result,) = await older

    assert older_result.status == "cancelled"
    assert "a newer build of this function started" in older_result.error
    assert newer[0].ok
    run = subprocess.run(
        [str(EMBLY), "run", "greeter", "--", "Ada"], cwd=project, capture_output=True, text=True
    )
    assert run.stdout == "Hello, Ada! (again)\n", "the artifact on disk is the newer build's"


async def test_when_one_function_cannot_be_saved_the_others_stop_with_the_build(
    project: Path, embly_home: Path
) -> None:
    """`client.build()` raises only once the other functions' builds are cancelled and
    cleaned up: none goes on in the caller's event loop, writing artifacts later."""
    async with connect(settings=ServerSettings(home=embly_home, jobs=2)) as client:
        await client.build(project, ["greeter"])
        artifact = project / "embly_build" / "greeter.wasm"
        artifact.unlink()
        artifact.mkdir()  # greeter is a cache hit whose artifact cannot be written
        main_rs = project / "counter" / "src" / "main.rs"
        main_rs.write_text(main_rs.read_text() + "\n// edited\n")  # counter compiles

        with pytest.raises(StoreError, match="is a directory"):
            await client.build(project, ["greeter", "counter"])

        builds_left = [
            task
            for task in asyncio.all_tasks()
            if task is not asyncio.current_task()
            and task.get_name() != SHELL_START_TASK  # the server's, for a next build
            and _runs_embly_code(task)  # not asyncio's own, finishing a cancelled spawn
        ]
        assert not builds_left
        await asyncio.sleep(1)
    assert not (project / "embly_build" / "counter.wasm").exists()


def _runs_embly_code(task: asyncio.Task[object]) -> bool:
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and "/embly_build/" in code.co_filename


async def test_every_function_gets_its_quick_artifacts_before_any_is_optimised(
    project: Path, embly_home: Path
) -> None:
    """With one slot, the second function compiles while the first waits to be optimised."""
    async with connect(settings=ServerSettings(home=embly_home, jobs=1)) as client:
        results = [
            (event.function, event.optimising)
            async for event in client.build_events(
                project, ["greeter", "counter"], quick_first=True
            )
            if isinstance(event, BuildFinished)
        ]
    assert sorted(results[:2]) == [("counter", True), ("greeter", True)], results
    assert sorted(results[2:]) == [("counter", False), ("greeter", False)], results
