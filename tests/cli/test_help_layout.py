"""Each command's --help reads well in the most common terminal width."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tests.helpers import embly

COMMANDS = ["build", "watch", "run", "info", "toolchains", "gc", "serve"]
WIDTH = 80


def _description(help_text: str) -> list[list[str]]:
    """The paragraphs between the usage line and the first box, as lists of lines."""
    text = help_text.split("Usage:", 1)[1].split("╭", 1)[0]
    lines = [line.strip() for line in text.splitlines()[1:]]
    return [p.splitlines() for p in "\n".join(lines).strip().split("\n\n")]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_paragraphs_fill_an_80_column_terminal(command: str, tmp_path: Path) -> None:
    result = embly(command, "--help", cwd=tmp_path, env={"COLUMNS": str(WIDTH)})
    assert result.returncode == 0
    for paragraph in _description(result.stdout):
        for line, following in itertools.pairwise(paragraph):
            next_word = following.split()[0]
            # Rich leaves a margin of a column or two; a line with room for the next word
            # to spare was broken by the source's line length, mid-sentence.
            assert len(line) + 1 + len(next_word) > WIDTH - 4, f"broken early: {line!r}"
