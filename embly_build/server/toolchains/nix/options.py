"""The `--option` arguments every nix command of ours takes, so Nix works as it is installed.

embly changes none of the user's Nix settings. Two of Nix's defaults still need an answer
per call:

- `substituters`: every call would first try the public binary cache, which an offline
  machine cannot reach (seconds and a warning per call). The host toolchain and the build
  shell never need a substitute, so those calls pass an empty list; a daemon accepts that
  from any user.
- `build-users-group`: Nix run as root on its local store (the bare `nix-bin` package,
  no daemon) prints "the group 'nixbld' specified in 'build-users-group' does not exist"
  on every call when that group was never made, and fails any build. Only then is the
  group emptied for our calls, as Nix itself runs when no group is configured. Through a
  daemon the setting is the daemon's, and a user who is not trusted would be warned that
  it is ignored, so it is left alone.
"""

from __future__ import annotations

import grp
import os
import shutil

from embly_build.server.toolchains.nix.commands import run_command

OFFLINE_OPTIONS = ("--option", "substituters", "")
NO_BUILD_USERS = ("--option", "build-users-group", "")

# What decides the configuration nix reads, so a changed one is asked about again.
_CONFIG_ENVIRONMENT = (
    "NIX_CONF_DIR",
    "NIX_CONFIG",
    "NIX_USER_CONF_FILES",
    "NIX_REMOTE",
    "NIX_STATE_DIR",
    "XDG_CONFIG_HOME",
    "XDG_CONFIG_DIRS",
    "HOME",
)
_LOCAL_STORES = ("", "auto", "local")
_DEFAULT_BUILD_USERS_GROUP = "nixbld"
_SHOW_CONFIG_TIMEOUT_SECONDS = 30.0
_answers: dict[tuple[str | None, ...], tuple[str, ...]] = {}


async def nix_options(*, offline: bool = True) -> tuple[str, ...]:
    """The options for one nix command: offline unless told otherwise, and build users
    turned off where Nix would otherwise fail for lack of their group."""
    options = OFFLINE_OPTIONS if offline else ()
    return options + await _build_users_options()


async def _build_users_options() -> tuple[str, ...]:
    if os.geteuid() != 0:
        return ()  # Nix checks the group only as root
    key = tuple(os.environ.get(name) for name in _CONFIG_ENVIRONMENT)
    answer = _answers.get(key)
    if answer is None:
        answer = _answers[key] = _options_for(await _nix_settings())
    return answer


def _options_for(settings: dict[str, str]) -> tuple[str, ...]:
    # What Nix reads when nothing sets them, also when `nix show-config` cannot say (a Nix
    # without the `nix` command, say): then the group is checked as the default names it.
    store = settings.get("store", os.environ.get("NIX_REMOTE") or "auto")
    local = store in _LOCAL_STORES or store.startswith(("local?", "/"))
    group = settings.get("build-users-group", _DEFAULT_BUILD_USERS_GROUP)
    if not local or not group or _group_exists(group):
        return ()
    return NO_BUILD_USERS


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


async def _nix_settings() -> dict[str, str]:
    """Nix's effective settings as `nix show-config` prints them; none when it cannot say."""
    nix = shutil.which("nix")
    if nix is None:
        return {}
    argv = [nix, "--extra-experimental-features", "nix-command", "show-config"]
    try:
        result = await run_command(argv, timeout=_SHOW_CONFIG_TIMEOUT_SECONDS)
    except (OSError, TimeoutError):
        return {}
    if result.returncode != 0:
        return {}
    settings = {}
    for line in result.stdout.splitlines():
        name, separator, value = line.partition(" = ")
        if separator:
            settings[name.strip()] = value.strip()
    return settings
