"""The lab's AWS in a process of its own: ``python -m keyless_lab.aws`` (started by the lab).

It prints one JSON line on stdout once it serves (``url``, ``bootstrap_credentials``)
or one with ``error``, then runs until its stdin closes (its parent stopped or
died) or it gets SIGTERM/SIGINT, and writes its final snapshot on the way out.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from keyless_lab.aws.bootstrap import LabAccount


def main(argv: list[str] | None = None) -> int:
    """Run the lab's AWS until stdin closes or a signal arrives."""
    parser = argparse.ArgumentParser(prog="python -m keyless_lab.aws")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--accounts", required=True, help="JSON list of accounts")
    parser.add_argument("--cert", type=Path)
    parser.add_argument("--key", type=Path)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    from keyless_lab.aws.server import LabAwsServer

    accounts = [LabAccount.from_dict(item) for item in json.loads(args.accounts)]
    server = LabAwsServer(
        accounts=accounts,
        state_dir=args.state_dir,
        certfile=args.cert,
        keyfile=args.key,
        port=args.port,
    )
    try:
        server.start()
    except Exception as exc:  # reported to the parent, which raises LabError
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def watch_parent() -> None:
        # The parent holds our stdin open; EOF means it stopped or died.
        sys.stdin.buffer.read()
        done.set()

    threading.Thread(target=watch_parent, name="lab-aws-parent", daemon=True).start()
    print(
        json.dumps({"url": server.url, "bootstrap_credentials": server.bootstrap_credentials}),
        flush=True,
    )
    while not done.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
