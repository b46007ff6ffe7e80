"""Start and stop the lab's AWS in a child process, from the process that runs the lab.

moto's backends and settings are global to a Python process: two labs, or a
lab and a test using ``moto.mock_aws``, in one process would share (and
reset) each other's accounts. So the lab's AWS runs in a child process of its
own, which dies with its parent (it watches its stdin) and writes its state
on the way out. Starting it costs one Python start-up and moto's import.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from keyless.errors import LabError
from keyless_lab.aws.bootstrap import LabAccount
from keyless_lab.aws.state import SNAPSHOT_NAME, check_state_dir

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


class LabAwsProcess:
    """A running lab AWS endpoint in a child process (a context manager too)."""

    def __init__(
        self,
        *,
        accounts: Sequence[LabAccount],
        state_dir: Path,
        certfile: Path | None = None,
        keyfile: Path | None = None,
        port: int = 0,
    ) -> None:
        self.accounts = list(accounts)
        self.state_dir = state_dir
        self._certfile = certfile
        self._keyfile = keyfile
        self._port = port
        self._process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.bootstrap_credentials: dict[str, str] = {}

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._process.pid if self._process else None

    def start(self) -> LabAwsProcess:
        """Start the child and wait until it serves; :class:`LabError` if it cannot."""
        self.launch()
        return self.wait_ready()

    def launch(self) -> None:
        """Start the child without waiting (the lab starts its IdP meanwhile)."""
        command = [
            sys.executable,
            "-m",
            "keyless_lab.aws",
            "--state-dir",
            str(self.state_dir),
            "--accounts",
            json.dumps([account.as_dict() for account in self.accounts]),
            "--port",
            str(self._port),
        ]
        if self._certfile is not None and self._keyfile is not None:
            command += ["--cert", str(self._certfile), "--key", str(self._keyfile)]
        env = {
            key: value
            for key, value in os.environ.items()
            # moto reads these; the lab decides them itself.
            if not key.startswith(("MOTO_", "AWS_", "TEST_SERVER_MODE"))
        }
        check_state_dir(self.state_dir)  # before anything is written or read there (issue 21)
        log = (self.state_dir / "aws.log").open("ab")
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                start_new_session=True,  # Ctrl-C in a terminal reaches the parent, which stops us
            )
        finally:
            log.close()

    def wait_ready(self) -> LabAwsProcess:
        """Wait until the launched child serves; :class:`LabError` if it does not."""
        line = self._read_line(START_TIMEOUT)
        try:
            message = json.loads(line) if line else {}
        except json.JSONDecodeError:
            message = {}
        if "url" not in message:
            self.stop()
            detail = message.get("error") or "it exited without saying why"
            raise LabError(
                f"the lab's AWS endpoint did not start: {detail}",
                fix=f"see {self.state_dir / 'aws.log'}; if the state is damaged, move "
                f"{self.state_dir / SNAPSHOT_NAME} away and start again",
            )
        self.url = str(message["url"])
        self.bootstrap_credentials = dict(message["bootstrap_credentials"])
        return self

    def _read_line(self, timeout: float) -> bytes:
        assert self._process is not None
        assert self._process.stdout is not None
        stream = self._process.stdout
        deadline = time.monotonic() + timeout
        buffer = b""
        while not buffer.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return b""
            ready, _, _ = select.select([stream], [], [], remaining)
            if not ready:
                return b""
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                break
            buffer += chunk
        return buffer

    def stop(self) -> None:
        """Stop the child (it saves its state first); safe to call twice."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> LabAwsProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
