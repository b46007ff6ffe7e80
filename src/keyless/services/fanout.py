"""Work across accounts: a bounded number at a time, results in the accounts' order.

Every service that touches many accounts (plan, apply, offboard, audit) goes
through here, so the rules live once:

- ``--parallel`` is at least 1 (:func:`checked_parallel`);
- at most ``parallel`` accounts are worked on at once, never more workers than
  accounts (:func:`account_pool`, :func:`across`);
- results come back in the accounts' order, whatever order they finish in;
- an exception that escapes the work drops what has not started yet and is
  raised to the caller once the running work has finished.

It is a plain thread pool and nothing else: a library call changes no
process-wide state (the garbage collector's settings, a freeze, signal
handlers), so the process that calls it — the CLI or a host program — keeps
whatever it had set. A multi-account command's time goes to waiting on the
network, which the parallelism is for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from keyless.errors import InputError

Item = TypeVar("Item")
Result = TypeVar("Result")


def checked_parallel(parallel: int) -> int:
    """``parallel`` if it is a usable number of accounts at a time (1 or more)."""
    if parallel < 1:
        raise InputError(f"--parallel must be at least 1, got {parallel}")
    return parallel


@contextmanager
def account_pool(parallel: int, tasks: int) -> Iterator[ThreadPoolExecutor]:
    """Workers for ``tasks`` pieces of work, at most ``parallel`` at once.

    For callers that submit more than one kind of work (audit reads the Okta
    org beside the accounts); :func:`across` is the common case. Leaving the
    block waits for everything submitted.
    """
    workers = max(1, min(checked_parallel(parallel), tasks))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        yield pool


def across(items: Sequence[Item], work: Callable[[Item], Result], *, parallel: int) -> list[Result]:
    """``work`` on each of ``items``, ``parallel`` at a time; results in ``items``' order.

    If ``work`` raises (a bug: services catch what one account may fail with
    inside ``work``, so the others' results are kept), the items not yet
    started are dropped and the exception is raised here once the running
    ones have finished.
    """
    if not items:
        checked_parallel(parallel)
        return []
    with account_pool(parallel, len(items)) as pool:
        # Executor.map cancels the futures not yet started when its iterator is left
        # by an exception; leaving the pool then waits for the running ones.
        return list(pool.map(work, items))
