"""Run the whole embedded lab: its AWS, its IdP, its users, and the state file that describes them.

:class:`Lab` starts the lab AWS (moto behind the strict STS, in a child
process; see :mod:`keyless_lab.aws`) and then the lab IdP pointed at it,
creates the spec's users, and writes ``<state dir>/lab.json``
(:class:`LabInfo`, mode 0600) so that scripts, tests and other clients can
drive the lab. One lab per state directory: a lock file held for the lab's
lifetime (``lab.lock``, holding the pid) makes a second start fail clearly,
and is released by the kernel if the process dies.

The lab keeps its two ports in ``<state dir>/ports.json`` and a restart takes
them again when they are free (:func:`choose_ports`), so the URLs profiles and
``~/.aws/config`` hold keep working; :func:`reset` clears a lab directory for a
fresh start and keeps that record.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from keyless.core import paths
from keyless.errors import LabError
from keyless.files import write_atomic
from keyless.spec.model import FederationSpec
from keyless_lab.aws import LabAccount, LabAwsProcess, management_of
from keyless_lab.aws.state import check_state_dir
from keyless_lab.config import lab_section
from keyless_lab.extras import require_lab_extras
from keyless_lab.idp.admin import provider_arn
from keyless_lab.info import LAB_FILE, LabInfo

__all__ = [
    "LAB_FILE",
    "Lab",
    "LabInfo",
    "PortChoice",
    "choose_ports",
    "default_state_dir",
    "lab_accounts",
    "load_running",
    "reset",
    "running_pid",
    "stop_running",
]

LOCK_FILE = "lab.lock"
PORTS_FILE = "ports.json"
# What a lab writes in its directory, and so what `keyless lab reset` removes: only these,
# since --lab-dir may name a directory that holds other files too.
_LAB_FILES = (
    LAB_FILE,
    "idp.sqlite",
    "idp.sqlite-wal",
    "idp.sqlite-shm",
    "idp.sqlite-journal",
    "aws-state.json",
    "aws-state.pickle",
    "aws.log",
    "audit.jsonl",
    "sms.log",
    "idp-signing-key.pem",
    "idp-signing-cert.pem",
    "oidc-signing-key.pem",
    "tls",
)


def default_state_dir() -> Path:
    """The lab's state dir: ``$XDG_DATA_HOME/keyless/lab``, else ``~/.local/share/keyless/lab``."""
    return Path(paths.lab_dir())


# -- the state directory's lock -------------------------------------------------------


def load_running(state_dir: Path | None = None) -> LabInfo:
    """The ``LabInfo`` of the lab running in ``state_dir`` (default: the default dir).

    ``lab.json`` outlives the lab, so a stopped lab must be told apart here;
    otherwise its stale URLs surface later as "connection refused".
    """
    directory = state_dir or default_state_dir()
    info = LabInfo.load(directory)
    if running_pid(directory) is None:
        raise LabError(
            f"no lab is running in {directory} (its lab.json is from one that stopped)",
            fix="start it in another shell: `keyless lab up --spec FILE"
            + ("" if state_dir is None else f" --lab-dir {state_dir}")
            + "`",
        )
    return info


def running_pid(state_dir: Path) -> int | None:
    """The pid of the lab running in ``state_dir``, or None when none is."""
    path = state_dir / LOCK_FILE
    try:
        handle = path.open("r")
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = handle.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


def _acquire(state_dir: Path) -> IO[str]:
    path = state_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    handle = os.fdopen(fd, "r+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        text = handle.read().strip()
        handle.close()
        pid = f" (pid {text})" if text.isdigit() else ""
        raise LabError(
            f"a lab is already running in {state_dir}{pid}",
            fix=f"stop it (Ctrl-C where it runs, or `keyless lab down --lab-dir {state_dir}`), "
            "or start this one with another --lab-dir",
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def stop_running(state_dir: Path, *, timeout: float = 30.0) -> int:
    """Ask the lab running in ``state_dir`` to stop (SIGTERM) and wait; return its pid."""
    pid = running_pid(state_dir)
    if pid is None:
        raise LabError(
            f"no lab is running in {state_dir}",
            fix="start one with `keyless lab up --spec FILE`",
        )
    if pid <= 0:
        raise LabError(
            f"a lab holds {state_dir / LOCK_FILE} but did not write its pid",
            fix="stop it with Ctrl-C where it runs",
        )
    if pid == os.getpid():
        raise LabError(
            "the lab in this state dir runs in this process", fix="call Lab.stop() instead"
        )
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while running_pid(state_dir) is not None:
        if time.monotonic() > deadline:
            raise LabError(
                f"the lab in {state_dir} (pid {pid}) did not stop within {timeout:.0f}s",
                fix=f"kill {pid}",
            )
        time.sleep(0.1)
    return pid


# -- ports: the same ones after a restart -----------------------------------------------


@dataclass(frozen=True)
class PortChoice:
    """The ports a lab start asks for (0: any free one) and what to tell the user about them."""

    idp_port: int
    aws_port: int
    notes: tuple[str, ...] = ()


def _recorded_ports(state_dir: Path) -> dict[str, int]:
    """The ports this lab directory's last lab listened on: ``ports.json``, or, for a
    directory from before that file, the URLs in its ``lab.json``."""
    try:
        data = json.loads((state_dir / PORTS_FILE).read_text())
        return {name: int(data[name]) for name in ("idp", "aws") if name in data}
    except (OSError, ValueError, TypeError, KeyError):
        pass
    try:
        data = json.loads((state_dir / LAB_FILE).read_text())
        urls = {"idp": data["idp_url"], "aws": data["aws_endpoint_url"]}
        return {
            name: port for name, url in urls.items() if (port := _port_of(str(url))) is not None
        }
    except (OSError, ValueError, TypeError, KeyError):
        return {}


def _port_of(url: str) -> int | None:
    parts = urllib.parse.urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else None)


def _free(port: int) -> bool:
    """Whether 127.0.0.1:``port`` can be listened on now (as the lab's servers listen:
    SO_REUSEADDR, so a previous run's connections in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen(1)
        except OSError:
            return False
    return True


def _any_free_port(avoid: set[int]) -> int:
    # Picked here rather than by each server's bind(0): the IdP binds while the AWS
    # child is still starting and could otherwise take the port the AWS is about to reuse.
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in avoid:
            return port


def choose_ports(state_dir: Path, *, idp_port: int | None, aws_port: int | None) -> PortChoice:
    """The ports for a lab start in ``state_dir``: a port given is kept (0: any free one);
    one not given is the port this directory's last lab used when it is free, else a free
    one, with a note naming the port that was taken."""
    recorded = _recorded_ports(state_dir)
    wanted = {"idp": idp_port, "aws": aws_port}
    labels = {"idp": "IdP", "aws": "AWS"}
    chosen: dict[str, int] = {}
    notes: list[str] = []
    for name, given in wanted.items():
        if given:
            chosen[name] = given
        elif given is None and name in recorded and _free(recorded[name]):
            chosen[name] = recorded[name]
    for name, given in wanted.items():
        if name in chosen:
            continue
        chosen[name] = _any_free_port(set(chosen.values()))
        if given is None and name in recorded:
            notes.append(
                f"the {labels[name]} port this lab used before, {recorded[name]}, is taken: "
                f"the lab now listens on {chosen[name]}"
            )
    return PortChoice(idp_port=chosen["idp"], aws_port=chosen["aws"], notes=tuple(notes))


def _record_ports(state_dir: Path, idp_url: str, aws_url: str) -> None:
    ports = {"idp": _port_of(idp_url), "aws": _port_of(aws_url)}
    write_atomic(state_dir / PORTS_FILE, (json.dumps(ports) + "\n").encode())


def reset(state_dir: Path) -> list[str]:
    """Stop the lab running in ``state_dir`` (if one is) and remove its state: users,
    what its AWS accounts hold, keys, CA and ``lab.json``. The ports record stays, so
    the next ``keyless lab up`` listens where profiles expect it. Returns what it removed."""
    if running_pid(state_dir) is not None:
        stop_running(state_dir)
    check_state_dir(state_dir)  # before anything there is touched, as a start checks it
    # Held while removing, as a running lab holds it: a `lab up` meanwhile is refused.
    lock = _acquire(state_dir)
    removed: list[str] = []
    try:
        for name in _LAB_FILES:
            path = state_dir / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
            else:
                continue
            removed.append(name)
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
    return removed


# -- the lab --------------------------------------------------------------------------


def lab_accounts(spec: FederationSpec) -> list[LabAccount]:
    """The accounts the lab creates for ``spec`` (the management one first if none is marked)."""
    return [
        LabAccount(
            id=account.id,
            alias=account.alias,
            environment=account.environment,
            management=account.management,
            access_role=account.access_role,
        )
        for account in spec.accounts
    ]


def settings_for_spec(spec: FederationSpec, **overrides: Any) -> Any:
    """The lab IdP's settings: the spec's ``lab`` section, then ``overrides`` (None: keep)."""
    from keyless_lab.idp.core import IdpSettings

    chosen = {
        **lab_section(spec).idp_overrides(),
        **{key: value for key, value in overrides.items() if value is not None},
    }
    return IdpSettings(**{key: value for key, value in chosen.items() if value is not None})


class Lab:
    """The whole lab for one spec and state directory; a context manager too.

    ``start()`` returns the :class:`LabInfo` it wrote; ``stop()`` stops both
    servers and leaves nothing running (lab.json and the state stay for a restart).
    """

    def __init__(
        self,
        spec: FederationSpec,
        *,
        state_dir: Path,
        spec_path: Path | None = None,
        idp_port: int = 0,
        aws_port: int = 0,
        okta_app_configured: bool = True,
        okta_storm_every: int = 0,
        idp_settings: Any = None,
    ) -> None:
        """``okta_app_configured=False`` starts the Okta org as before any `keyless apply`:
        the AWS app blank, no spec group yet; ``okta_storm_every=N`` answers every Nth
        management API call with 429 (a rate-limit storm). ``idp_settings`` is a
        :class:`keyless_lab.idp.core.IdpSettings` (Okta's defaults when None)."""
        self.spec = spec
        self.okta_app_configured = okta_app_configured
        self.okta_storm_every = okta_storm_every
        self.state_dir = state_dir
        self.spec_path = spec_path
        self._idp_port = idp_port
        self._aws_port = aws_port
        self._idp_settings = idp_settings
        self._lock: IO[str] | None = None
        self._aws: LabAwsProcess | None = None
        self._idp: Any = None
        self.info: LabInfo | None = None

    @property
    def idp(self) -> Any:
        """The running :class:`keyless_lab.idp.server.IdpServer` (None when stopped)."""
        return self._idp

    def start(self) -> LabInfo:
        """Start the lab AWS, then the IdP, create the spec's users and write lab.json."""
        if self._lock is not None:
            raise LabError("this lab is already started", fix="call stop() first")
        require_lab_extras()
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Before the lock file, the TLS keys or any state is touched (issue 21, item 7).
        check_state_dir(self.state_dir)
        self._lock = _acquire(self.state_dir)
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> LabInfo:
        from keyless_lab.idp.server import IdpServer
        from keyless_lab.tls import ensure_lab_tls

        tls = ensure_lab_tls(self.state_dir)
        accounts = lab_accounts(self.spec)
        self._aws = LabAwsProcess(
            accounts=accounts,
            state_dir=self.state_dir,
            certfile=tls.server_cert,
            keyfile=tls.server_key,
            port=self._aws_port,
        )
        # The AWS child needs a second to import moto: start the IdP meanwhile.
        self._aws.launch()
        self._idp = IdpServer(
            spec=self.spec,
            state_dir=self.state_dir,
            port=self._idp_port,
            okta_app_configured=self.okta_app_configured,
            settings=self._idp_settings or settings_for_spec(self.spec),
        )
        self._idp.start()
        self._aws.wait_ready()
        self._idp.set_aws_endpoint(self._aws.url, str(tls.ca_cert))
        users = self._idp.directory.ensure_spec_users(self.spec, groups=self.okta_app_configured)
        from keyless_lab.idp.appstate import ALL_SCOPES

        appstate = self._idp.idp.appstate
        appstate.storm_every = self.okta_storm_every
        okta_token = appstate.create_token("lab bootstrap admin", ALL_SCOPES)
        management = management_of(accounts)
        self.info = LabInfo(
            state_dir=self.state_dir,
            idp_url=self._idp.url,
            aws_endpoint_url=self._aws.url,
            ca_bundle=str(tls.ca_cert),
            app_id=self._idp.app_id,
            app_url=self._idp.app_url,
            metadata_url=self._idp.metadata_url,
            entity_id=self._idp.entity_id,
            management_account_id=management.id,
            accounts=accounts,
            provider_arns=[provider_arn(self.spec, a) for a in self.spec.accounts],
            users=users,
            bootstrap_credentials=dict(self._aws.bootstrap_credentials),
            spec_path=str(self.spec_path) if self.spec_path else None,
            okta_api_token=okta_token,
            engine=self._idp.idp.settings.engine,
            app_policy=self._idp.idp.settings.app_policy,
            oidc_client_id=self._idp.oidc_client_id,
            lock_file=LOCK_FILE,  # beside lab.json: a copied file is a stopped lab's
        )
        self.info.save()
        _record_ports(self.state_dir, self.info.idp_url, self.info.aws_endpoint_url)
        return self.info

    def stop(self) -> None:
        """Stop the IdP and the AWS endpoint (which saves its state); release the state dir."""
        idp, self._idp = self._idp, None
        aws, self._aws = self._aws, None
        try:
            if idp is not None:
                idp.stop()
        finally:
            try:
                if aws is not None:
                    aws.stop()
            finally:
                lock, self._lock = self._lock, None
                if lock is not None:
                    with contextlib.suppress(OSError):
                        fcntl.flock(lock, fcntl.LOCK_UN)
                    lock.close()

    def __enter__(self) -> LabInfo:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
