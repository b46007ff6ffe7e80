"""Work across accounts: a bounded number at a time, results in the accounts' order.

Every service that touches many accounts (plan, apply, offboard, audit) goes
through here, so the rules live once:

- ``--parallel`` is at least 1 (:func:`checked_parallel`);
- at most ``parallel`` accounts are worked on at once, never more workers than
  accounts (:func:`account_pool`, :func:`across`);
- while they are, the garbage collector leaves alone every object that existed
  before (:func:`_earlier_objects_frozen`), which keeps keyless's CPU per
  account flat as accounts are added.

Why the last one: each account's work builds a botocore client with its
assumed-role keys, thousands of objects in reference cycles. Enough of them
outlive a few young collections that CPython runs full collections as
accounts add up, and a full collection walks every tracked object in the
process, most of them boto3's loaded service models and the modules, which
do not change. Measured with ``benchmarks/bench_plan.py``'s no-change plan:
13.4 ms of CPU per account at 10 accounts, 18.1 ms at 100, 4.8 ms of it the
collector (0.8 ms at 10); with what existed before frozen, 13.3 and 14.1 ms
(2.1 ms of it the collector).
"""

from __future__ import annotations

import gc
import threading
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
    org beside the accounts); :func:`across` is the common case.
    """
    workers = max(1, min(checked_parallel(parallel), tasks))
    with _earlier_objects_frozen(), ThreadPoolExecutor(max_workers=workers) as pool:
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
        return list(pool.map(work, items))


# How many fan-outs are running (they may nest, or run in two threads at once); the
# objects stay frozen until the last one ends.
_frozen_lock = threading.Lock()
_frozen_depth = 0
_we_froze = False


@contextmanager
def _earlier_objects_frozen() -> Iterator[None]:
    """Hide every object that exists now from the garbage collector until the block ends.

    ``gc.freeze()`` moves them to the collector's permanent generation, which no
    collection walks; ``gc.unfreeze()`` puts them back into the oldest
    generation afterwards, so nothing is leaked: garbage among them is freed by
    the next full collection. A process that froze objects for its own reasons
    (a pre-fork server) is left as it is.
    """
    global _frozen_depth, _we_froze
    with _frozen_lock:
        if _frozen_depth == 0:
            _we_froze = gc.get_freeze_count() == 0
            if _we_froze:
                gc.freeze()
        _frozen_depth += 1
    try:
        yield
    finally:
        with _frozen_lock:
            _frozen_depth -= 1
            if _frozen_depth == 0 and _we_froze:
                # The work's own garbage (the dropped clients) is collected now, while
                # a full collection walks only what the work made: once unfrozen, the
                # next one would walk the whole process for it.
                gc.collect()
                gc.unfreeze()
                _we_froze = False
