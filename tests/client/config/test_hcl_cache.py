"""The parsed embly.hcl is reused only while the file's text is unchanged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from embly_build.client.config.hcl_cache import default_hcl_cache_dir
from embly_build.client.config.project import load_project
from embly_build.errors import ConfigError
from tests.conftest import REPO


def _cache_entries() -> list[Path]:
    return sorted(default_hcl_cache_dir().glob("*.json"))


def test_second_load_gives_the_same_project_from_the_cache(project: Path) -> None:
    first = load_project(project / "embly.hcl")
    assert len(_cache_entries()) == 1
    second = load_project(project / "embly.hcl")
    assert second == first
    assert second.functions["shout"].location == first.functions["shout"].location


def test_an_edit_is_seen_at_once(project: Path) -> None:
    config = project / "embly.hcl"
    load_project(config)
    config.write_text(config.read_text().replace('function "shout"', 'function "yell"'))
    assert "yell" in load_project(config).functions
    config.write_text(config.read_text().replace('function "yell"', 'function "shout"'))
    assert "shout" in load_project(config).functions
    assert len(_cache_entries()) == 1, "one entry per embly.hcl, replaced on change"


def test_a_broken_file_after_a_good_one_reports_its_own_error(project: Path) -> None:
    config = project / "embly.hcl"
    load_project(config)
    config.write_text(config.read_text() + '\nfunction "oops" {\n')
    with pytest.raises(ConfigError) as raised:
        load_project(config)
    assert raised.value.location is not None
    assert raised.value.location.file == config


def test_validation_still_runs_on_a_cached_parse(project: Path) -> None:
    config = project / "embly.hcl"
    load_project(config)
    (project / "greeter" / "Cargo.toml").unlink()
    with pytest.raises(ConfigError, match=r"has no Cargo\.toml"):
        load_project(config)


def test_a_damaged_cache_entry_is_replaced(project: Path) -> None:
    config = project / "embly.hcl"
    expected = load_project(config)
    (entry,) = _cache_entries()
    entry.write_text('{"key": "')
    assert load_project(config) == expected
    assert entry.read_text().startswith('{"key":"')


def test_an_unwritable_cache_does_not_fail_the_load(project: Path) -> None:
    default_hcl_cache_dir().parent.mkdir(parents=True)
    default_hcl_cache_dir().write_text("a file where the cache directory should be")
    assert "greeter" in load_project(project / "embly.hcl").functions


def test_a_cached_load_does_not_load_the_hcl_grammar(project: Path) -> None:
    load_project(project / "embly.hcl")
    script = (
        "import sys; from embly_build.client.config.project import load_project;"
        f" load_project(__import__('pathlib').Path({str(project / 'embly.hcl')!r}));"
        " print('lark' in sys.modules)"
    )
    shown = subprocess.run(
        [sys.executable, "-P", "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip() == "False"
