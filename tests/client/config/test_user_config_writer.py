"""Writing the user config: the keys set in place, everything else the user wrote kept."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from embly_build.client.config.user_config import load_user_config
from embly_build.client.config.user_config_writer import update_user_config
from embly_build.errors import ConfigError


def test_a_new_file_is_made_with_its_directory_readable_only_by_its_user(tmp_path: Path) -> None:
    config = tmp_path / "embly" / "config.toml"
    update_user_config(config, {"executor": "remote", "remote": "build.example:9276", "jobs": 4})
    assert tomllib.loads(config.read_text()) == {
        "executor": "remote",
        "remote": "build.example:9276",
        "jobs": 4,
    }
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert load_user_config(config).remote == "build.example:9276"


def test_keys_are_set_in_place_and_comments_and_other_keys_stay(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '# where builds run\nexecutor = "docker"\n\njobs = 2  # my laptop\nremote = "old:1"'
    )
    config.chmod(0o644)
    update_user_config(config, {"executor": "nix", "remote": None, "opt_level": "O3"})
    assert config.read_text() == (
        '# where builds run\nexecutor = "nix"\n\njobs = 2  # my laptop\nopt_level = "O3"\n'
    )
    assert stat.S_IMODE(config.stat().st_mode) == 0o644, "its permissions are kept"


def test_a_file_the_lines_cannot_be_edited_in_is_written_whole(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('"executor" = "docker"\njobs = 2\n')  # a quoted key
    update_user_config(config, {"executor": "nix"})
    assert tomllib.loads(config.read_text()) == {"executor": "nix", "jobs": 2}


def test_a_config_reached_through_a_symbolic_link_is_written_where_it_is(tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles" / "embly.toml"
    dotfiles.parent.mkdir()
    dotfiles.write_text("jobs = 2\n")
    config = tmp_path / "config.toml"
    config.symlink_to(dotfiles)
    update_user_config(config, {"executor": "nix"})
    assert config.is_symlink()
    assert dotfiles.read_text() == 'jobs = 2\nexecutor = "nix"\n'


def test_an_invalid_config_is_left_as_it_is(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("executor = nix\n")  # not TOML: the value needs quotes
    with pytest.raises(ConfigError, match="fix the file"):
        update_user_config(config, {"executor": "docker"})
    assert config.read_text() == "executor = nix\n"


def test_a_directory_that_cannot_be_made_is_a_config_error_naming_the_file() -> None:
    # Nothing can be made in /proc, even as root (as in a read-only mount).
    path = Path("/proc/embly-no-such-directory/embly/config.toml")
    with pytest.raises(ConfigError, match=rf"cannot write {path}"):
        update_user_config(path, {"executor": "nix"})
