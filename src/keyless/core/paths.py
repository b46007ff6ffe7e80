"""Where keyless keeps things on this machine: the XDG base directories, once.

``os`` only (no :mod:`pathlib`): the ``credential-process`` hot path uses it.

- config (profiles):          ``$XDG_CONFIG_HOME/keyless``, else ``~/.config/keyless``
- cache (AWS credentials):    ``$XDG_CACHE_HOME/keyless``, else ``~/.cache/keyless``
- state (Okta session, keys): ``$XDG_STATE_HOME/keyless``, else ``~/.local/state/keyless``
- data (the lab):             ``$XDG_DATA_HOME/keyless``, else ``~/.local/share/keyless``

An empty variable counts as unset, as the XDG Base Directory specification says.
"""

from __future__ import annotations

import os


def _base(variable: str, *fallback: str) -> str:
    return os.environ.get(variable) or os.path.join(os.path.expanduser("~"), *fallback)


def config_dir() -> str:
    """``$XDG_CONFIG_HOME/keyless`` (or ``~/.config/keyless``)."""
    return os.path.join(_base("XDG_CONFIG_HOME", ".config"), "keyless")


def cache_dir() -> str:
    """``$XDG_CACHE_HOME/keyless`` (or ``~/.cache/keyless``)."""
    return os.path.join(_base("XDG_CACHE_HOME", ".cache"), "keyless")


def state_dir() -> str:
    """``$XDG_STATE_HOME/keyless`` (or ``~/.local/state/keyless``)."""
    return os.path.join(_base("XDG_STATE_HOME", ".local", "state"), "keyless")


def data_dir() -> str:
    """``$XDG_DATA_HOME/keyless`` (or ``~/.local/share/keyless``)."""
    return os.path.join(_base("XDG_DATA_HOME", ".local", "share"), "keyless")
