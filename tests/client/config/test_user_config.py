"""The user's configuration file: a value of the wrong kind says which kind it must be."""

from __future__ import annotations

from pathlib import Path

import pytest

from embly_build.client.config.user_config import load_user_config
from embly_build.errors import ConfigError


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('jobs = "4"', "jobs must be a whole number, not '4'"),
        ("jobs = true", "jobs must be a whole number, not True"),
        ("remote = 9276", "remote must be a quoted string, not 9276"),
        ('watch_quick_first = "no"', "watch_quick_first must be true or false, not 'no'"),
    ],
)
def test_a_value_of_the_wrong_kind_names_the_kind(tmp_path: Path, line: str, message: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(line + "\n")

    with pytest.raises(ConfigError) as caught:
        load_user_config(config)

    assert str(caught.value) == f"{config}: {message}"
