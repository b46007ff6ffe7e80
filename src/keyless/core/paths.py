"""Where keyless keeps things on disk: every standard location, defined once.

keyless follows the XDG base directory convention (a variable set to an empty
string counts as unset, as the specification says) and the AWS CLI's own
variables for the AWS files:

==========================  =========================================  ==========================
what                        where                                      function
==========================  =========================================  ==========================
keyless profiles            ``$XDG_CONFIG_HOME/keyless``               :func:`config_dir`
credential cache            ``$XDG_CACHE_HOME/keyless``                :func:`cache_dir`
kept sessions, secrets      ``$XDG_STATE_HOME/keyless``                :func:`state_dir`
keyless's data              ``$XDG_DATA_HOME/keyless``                 :func:`data_dir`
the lab                     ``$XDG_DATA_HOME/keyless/lab``             :func:`lab_dir`
AWS CLI config              ``$AWS_CONFIG_FILE`` or ``~/.aws/config``  :func:`aws_config_file`
AWS shared credentials      ``$AWS_SHARED_CREDENTIALS_FILE`` or        :func:`aws_credentials_file`
                            ``~/.aws/credentials``
==========================  =========================================  ==========================

Only ``os`` is imported and every function returns a ``str``:
``keyless credential-process`` reads its cache through this module on the hot
path, where even ``pathlib`` is an import too many. Callers that want a
:class:`pathlib.Path` wrap the result. Each function reads the environment
when called, so a test (or a user) that changes a variable is obeyed at once.
"""

# No `from __future__ import annotations` on credential-process's cached path: importing
# __future__ cost more than this module (annotations here are valid at run time anyway).

import os


def _xdg(variable: str, *fallback: str) -> str:
    """``$variable``, else ``~/<fallback...>`` (the XDG defaults)."""
    return os.environ.get(variable) or os.path.join(os.path.expanduser("~"), *fallback)


def config_dir() -> str:
    """``$XDG_CONFIG_HOME/keyless`` (or ``~/.config/keyless``): keyless's profiles."""
    return os.path.join(_xdg("XDG_CONFIG_HOME", ".config"), "keyless")


def cache_dir() -> str:
    """``$XDG_CACHE_HOME/keyless`` (or ``~/.cache/keyless``): what can be fetched again."""
    return os.path.join(_xdg("XDG_CACHE_HOME", ".cache"), "keyless")


def state_dir() -> str:
    """``$XDG_STATE_HOME/keyless`` (or ``~/.local/state/keyless``): kept sessions, secrets."""
    return os.path.join(_xdg("XDG_STATE_HOME", ".local", "state"), "keyless")


def data_dir() -> str:
    """``$XDG_DATA_HOME/keyless`` (or ``~/.local/share/keyless``)."""
    return os.path.join(_xdg("XDG_DATA_HOME", ".local", "share"), "keyless")


def lab_dir() -> str:
    """``$XDG_DATA_HOME/keyless/lab`` (or ``~/.local/share/keyless/lab``): the lab's state."""
    return os.path.join(data_dir(), "lab")


def aws_config_file() -> str:
    """``$AWS_CONFIG_FILE``, else ``~/.aws/config`` (``~`` expanded, as the AWS CLI does)."""
    return os.path.expanduser(
        os.environ.get("AWS_CONFIG_FILE") or os.path.join("~", ".aws", "config")
    )


def aws_credentials_file() -> str:
    """``$AWS_SHARED_CREDENTIALS_FILE``, else ``~/.aws/credentials`` (``~`` expanded)."""
    return os.path.expanduser(
        os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join("~", ".aws", "credentials")
    )
