"""The interoperability peers the suite tests keyless and the lab against, required.

python3-saml (``onelogin``), xmlsec1, the Okta CLI clients from PyPI (tokendito,
okta-awscli, aws-okta-processor, gimme-aws-creds), Playwright and Chromium are
what prove that keyless and the lab work with other implementations. `make test`
installs every one of them, so a missing peer fails the tests that need it, with
the step that installs it, instead of skipping them: a run that quietly stopped
testing interoperability must not pass.
"""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

PIP_STEP = "`make test` installs it (`pip install -e '.[test]' -e ./lab` in the venv)"
DEBIAN_STEP = "`make test` installs it (`make system-deps`: apt-get install {package})"
# Console scripts of the [test] extra live beside the interpreter running the tests.
BIN = Path(sys.executable).parent


class MissingPeer(ImportError):
    """A Python peer is not importable (raised at collection: the module cannot run)."""


def peer_module(name: str) -> ModuleType:
    """Import ``name``, a peer from the [test] extra; its absence names the install step."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingPeer(f"{name} is not installed: {PIP_STEP}") from exc


def peer_script(name: str) -> str:
    """The path of ``name``, a console script of the [test] extra (a PyPI client under test)."""
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: {PIP_STEP}", pytrace=False)
    return found


def debian_program(name: str, package: str) -> str:
    """The path of ``name`` (an absolute path, or a name on PATH) from Debian's ``package``."""
    found = name if Path(name).is_absolute() and Path(name).exists() else shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} is not installed: {DEBIAN_STEP.format(package=package)}", pytrace=False
        )
    return found
