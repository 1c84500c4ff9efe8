"""Which `.cargo/config.toml` files a build may see: those in its input tree, no others.

Cargo reads a config file from every ancestor of its working directory. Run from inside
the build space, it would also read the server user's `~/.cargo/config.toml` (EMBLY_HOME
usually lies under the home directory) and anything above it: rustflags, linkers and
source replacements that the action key knows nothing about. So cargo runs from `/` and
is handed the tree's own config files with `--config FILE`, in discovery order: the tree
root first, the crate's directory last (a later file wins, as a nearer one does in
discovery). Environment variables still override them, as they override discovered files.
"""

from __future__ import annotations

from pathlib import Path

# Cargo's working directory: its search for config files, from there up, finds only the
# machine-wide /.cargo/config.toml, never a user's or the build space's surroundings.
NEUTRAL_CWD = Path("/")
# Cargo reads `config` when both exist in one directory (and warns about it).
_NAMES = ("config", "config.toml")


def tree_cargo_configs(source_dir: Path, crate_dir: str) -> list[Path]:
    """Config files cargo would discover from the crate up to the tree root, root first."""
    found = []
    relative = Path(crate_dir)
    for directory in [relative, *relative.parents]:
        for name in _NAMES:
            candidate = source_dir / directory / ".cargo" / name
            if candidate.is_file():
                found.append(candidate)
                break
    return found[::-1]


def config_arguments(source_dir: Path, crate_dir: str) -> list[str]:
    arguments = []
    for config in tree_cargo_configs(source_dir, crate_dir):
        arguments += ["--config", str(config)]
    return arguments
