"""Loading hostile spec files in-process: wall time and peak memory beside examples/acme.yaml.

    .venv/bin/python benchmarks/bench_hostile_spec.py

Each row loads one file with :func:`keyless.spec.load_spec` in a fresh child
process (so peak RSS is that file's alone) and prints seconds, peak RSS and the
first line of the error. Baseline: ``examples/acme.yaml`` (a valid spec). Before
issue 10, the alias bomb ran past 60 s and 1.8 GB and the self-referencing alias
ended in a RecursionError; the target is every hostile file refused within about
a second of the baseline, in bounded memory.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    from keyless.spec import load_spec
    start = time.perf_counter()
    try:
        load_spec(sys.argv[1])
        outcome = "valid"
    except Exception as error:
        outcome = type(error).__name__ + ": " + str(error).splitlines()[-1].strip()[:70]
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "outcome": outcome}))
    """
)


def _bomb(levels: int = 9, width: int = 10) -> str:
    lines = ["version: 1", 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


FILES = {
    "alias bomb (9 x 10)": _bomb(),
    "self-referencing alias": "version: 1\nroles: &r [*r]\n",
    "100k-deep flow nesting": "version: 1\nx: " + "[" * 100_000 + "]" * 100_000 + "\n",
    "30k values in one list": "version: 1\nx: [" + ",".join(["1"] * 29_900) + "]\n",
    "2 MB of comment": "version: 1\n# " + "x" * (2 * 1024 * 1024 - 20) + "\n",
    "python tag": "version: 1\nname: !!python/object/apply:os.system ['true']\n",
}


def _run(path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        return {"seconds": float("nan"), "peak_mb": float("nan"), "outcome": done.stderr[-70:]}
    result: dict[str, object] = json.loads(done.stdout)
    return result


def main() -> None:
    rows = [("baseline: examples/acme.yaml", _run(REPO / "examples" / "acme.yaml"))]
    with tempfile.TemporaryDirectory() as scratch:
        for name, text in FILES.items():
            path = Path(scratch) / "spec.yaml"
            path.write_text(text)
            rows.append((name, _run(path)))
    print(f"{'file':32} {'seconds':>8} {'peak MB':>8}  outcome")
    for name, row in rows:
        print(f"{name:32} {row['seconds']:8.3f} {row['peak_mb']:8.1f}  {row['outcome']}")


if __name__ == "__main__":
    main()
