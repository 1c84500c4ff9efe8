"""Which wasm-opt level a command uses (the flag, else the user config, else O2), and whether
`embly watch` writes quick artifacts first."""

from __future__ import annotations

from pathlib import Path

import pytest

from embly_build.cli.connect import resolve, watch_quick_first
from embly_build.cli.options import ClientOptions
from embly_build.errors import ConfigError


@pytest.fixture
def user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    monkeypatch.setenv("EMBLY_CONFIG", str(path))
    return path


def test_o2_without_flag_or_config(user_config: Path) -> None:
    assert resolve(ClientOptions()).opt_level == "O2"
    assert resolve(ClientOptions(watching=True)).opt_level == "O2"


def test_watch_has_its_own_level_in_the_user_config(user_config: Path) -> None:
    user_config.write_text('opt_level = "Oz"\nwatch_opt_level = "none"\n')
    assert resolve(ClientOptions()).opt_level == "Oz"
    assert resolve(ClientOptions(watching=True)).opt_level == "none"


def test_watch_falls_back_to_opt_level(user_config: Path) -> None:
    user_config.write_text('opt_level = "O1"\n')
    assert resolve(ClientOptions(watching=True)).opt_level == "O1"


def test_the_flag_wins(user_config: Path) -> None:
    user_config.write_text('opt_level = "Oz"\nwatch_opt_level = "none"\n')
    assert resolve(ClientOptions(opt_level="O3", watching=True)).opt_level == "O3"


def test_a_bad_level_names_its_key(user_config: Path) -> None:
    user_config.write_text('watch_opt_level = "fastest"\n')
    assert resolve(ClientOptions()).opt_level == "O2", "not read by build"
    with pytest.raises(ConfigError, match="watch_opt_level: unknown wasm-opt level 'fastest'"):
        resolve(ClientOptions(watching=True))


def test_watch_writes_quick_artifacts_first_unless_told_not_to(user_config: Path) -> None:
    assert watch_quick_first(ClientOptions(watching=True)) is True
    user_config.write_text("watch_quick_first = false\n")
    assert watch_quick_first(ClientOptions(watching=True)) is False
    assert watch_quick_first(ClientOptions(watching=True, quick_first=True)) is True, "flag wins"


def test_watch_quick_first_must_be_true_or_false(user_config: Path) -> None:
    user_config.write_text('watch_quick_first = "yes"\n')
    with pytest.raises(ConfigError, match="watch_quick_first must be true or false"):
        watch_quick_first(ClientOptions(watching=True))
