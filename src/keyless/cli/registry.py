# ruff: noqa: E501
"""Every command and group of ``keyless``, one line each, imported only when it runs.

``keyless --help`` lists them from this table without importing any of them;
``keyless login`` imports :mod:`keyless.cli.login` and nothing of ``plan``'s
(boto3, the provisioning code). ``tests/cli/test_startup.py`` checks that each
line's help is the command's own first docstring line.

A module offers its commands either as ``app`` (a typer group added under the
line's name) or through ``register(app)`` (top-level commands; the line names
the one it wants). Adding a command is adding one line here.

A line whose module is ``None`` is a *plugin* command: another distribution
provides it through the ``keyless.commands`` entry-point group (the lab,
``keyless-lab``, provides ``lab`` and ``demo``). keyless itself never imports
a plugin by name; the entry points are read only when such a command runs,
so ``keyless --version`` pays nothing for them, and without the plugin the
command says how to install it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer.core


@dataclass(frozen=True)
class Entry:
    """A command (or group) by name: where it lives and its one-line help."""

    name: str
    module: str | None
    help: str

    def load(self) -> typer.core.TyperCommand | typer.core.TyperGroup:
        """Import the module and build the click command (or group) it defines."""
        import typer
        import typer.main

        if self.module is not None:
            module: Any = importlib.import_module(self.module)
        else:
            name = plugin_module(self.name)
            try:
                module = importlib.import_module(name)
            except ImportError as exc:  # its distribution is broken or half-removed
                from keyless.errors import LabError

                raise LabError(
                    f"`keyless {self.name}` comes from {name}, which cannot be imported: {exc}",
                    fix=LAB_INSTALL_FIX,
                ) from exc
        register = getattr(module, "register", None)
        if register is None:
            command: Any = typer.main.get_group(module.app)
        else:
            holder = typer.Typer()
            register(holder)
            command = typer.main.get_group(holder).commands[self.name]
        command.name = self.name
        return command  # type: ignore[no-any-return]


PLUGIN_GROUP = "keyless.commands"
# keyless-lab is not on any package index (nor is keyless): it comes from lab/ in a checkout.
LAB_INSTALL_FIX = (
    "install keyless-lab beside keyless, from lab/ in keyless's repository: `pip install ./lab` "
    "in keyless's venv, `pipx inject keyless ./lab`, or uv's `uv tool install` of keyless "
    "with `--with ./lab` (README, Install; `make demo` does it)"
)


def plugin_module(name: str) -> str:
    """The module a ``keyless.commands`` entry point names for command ``name``.

    :class:`keyless.errors.UsageError`-style refusal when no installed
    distribution provides it: the command is listed, but its plugin is absent.
    """
    from importlib.metadata import entry_points

    from keyless.errors import LabError

    for point in entry_points(group=PLUGIN_GROUP, name=name):
        return point.value.split(":", 1)[0]
    raise LabError(
        f"`keyless {name}` comes with keyless-lab, which is not installed", fix=LAB_INSTALL_FIX
    )


# One line per command, kept long on purpose: merges add lines, never touch others.
# fmt: off
COMMANDS: tuple[Entry, ...] = (
    Entry("plan", "keyless.cli.provision", "Show what `apply` would change in every account and the Okta org (reads only)."),
    Entry("apply", "keyless.cli.provision", "Apply the spec to every account (provider, roles, policies, the IdP's principal, aliases), then to the Okta org (the AWS app's settings, groups, assignments)."),
    Entry("configure", "keyless.cli.login", "Write a keyless profile and its ~/.aws/config credential_process profile."),
    Entry("login", "keyless.cli.login", "Sign in to Okta (or reuse the session) and get AWS credentials for a role."),
    Entry("credential-process", "keyless.cli.login", "AWS credential_process JSON for a profile (cached; refreshed when < 5 min remain)."),
    Entry("exec", "keyless.cli.login", "Run a command with a profile's credentials: keyless exec -p NAME [--ecs-server] -- CMD..."),
    Entry("env", "keyless.cli.login", "Print the AWS_* variables of a profile for a shell (this prints secrets)."),
    Entry("console", "keyless.cli.login", "A console sign-in URL for a profile's role (the lab's sign-in page in the lab)."),
    Entry("whoami", "keyless.cli.login", "Each keyless profile: its role, account and the time left."),
    Entry("logout", "keyless.cli.login", "Forget the Okta session and the cached and written credentials."),
    Entry("doctor", "keyless.cli.doctor", "Check a profile: clocks, CAs, Okta's engine and flow, the AWS app, session lengths."),
    Entry("demo", None, "Run the whole federation flow end to end in the embedded lab, on loopback."),
    Entry("spec", "keyless.cli.spec", "Validate and show the federation spec."),
    Entry("saml", "keyless.cli.saml", "Inspect SAML responses and explain why AWS would refuse one."),
    Entry("lab", None, "Run the embedded lab: an Okta-compatible IdP and a strict AWS, on loopback."),
    Entry("offboard", "keyless.cli.offboard", "Take someone's access away: IdP, then every session they hold in every AWS account."),
    Entry("audit", "keyless.cli.audit", "Find what is still long-lived, check federation health, and show who assumed what."),
    Entry("export", "keyless.cli.provision", "Export the federation's AWS side for Terraform or CloudFormation."),
)
# fmt: on
