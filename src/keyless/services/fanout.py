"""Work across accounts: a bounded number at a time, results in the accounts' order.

Every service that touches many accounts (plan, apply, offboard, audit) goes
through here, so the rules live once:

- ``--parallel`` is at least 1 (:func:`checked_parallel`);
- at most ``parallel`` accounts are worked on at once, never more workers than
  accounts (:func:`account_pool`, :func:`across`);
- while they are, the garbage collector leaves alone every object that existed
  before and collects young objects less often; when they are done, it
  collects their garbage (:func:`_earlier_objects_frozen`). This keeps
  keyless's CPU per account flat as accounts are added.

Why the last one: each account's work builds a botocore client with its
assumed-role keys, some 3,000 objects in reference cycles (a copy of the
event handlers' tree), so it can only be freed by the collector. With
CPython's defaults a client outlives a score of young collections, lands in
the old generation and dies there, and the full collections that garbage sets
off walk every tracked object in the process, most of them boto3's loaded
service models and the modules, which do not change. Measured in one process
against one moto, no-change plans of 10 and 100 accounts taking turns: 13.4
and 18.1 ms of CPU per account with neither measure, most of the difference the
collector's (0.8 and 4.8 ms); Python function calls per account were the same
at both sizes. ``benchmarks/bench_plan.py``, which measures the same way: 15.4
and 18.7 ms (1.21x) with only the freezing, 11.8 and 12.5 ms (1.05x) with the
young collections spaced out as well.
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


# A young collection every this many new objects while accounts are worked on (the
# default is 700). An account's work allocates a botocore client of some thousands
# of objects that lives until the account is done: with the default, it is walked by
# a score of young collections, promoted to the old generation and dies there as
# garbage only a full collection frees. Collecting young objects this much less
# often lets most clients die young, where a collection frees them cheaply.
YOUNG_COLLECTION_EVERY = 10_000


class _CollectorTuning:
    """The collector's settings while any fan-out runs (they may nest, or run in two
    threads at once): set when the first starts, given back when the last ends."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.froze = False
        self.thresholds: tuple[int, int, int] = gc.get_threshold()

    def enter(self) -> None:
        with self.lock:
            if self.depth == 0:
                self.thresholds = gc.get_threshold()
                young, middle, old = self.thresholds
                if young:  # 0: the process turned automatic collection off; leave it so
                    gc.set_threshold(max(young, YOUNG_COLLECTION_EVERY), middle, old)
                self.froze = gc.get_freeze_count() == 0
                if self.froze:
                    gc.freeze()
            self.depth += 1

    def leave(self) -> None:
        with self.lock:
            self.depth -= 1
            if self.depth:
                return
            gc.set_threshold(*self.thresholds)
            if self.froze:
                # The work's own garbage (the dropped clients) is collected now, while
                # a full collection walks only what the work made: once unfrozen, the
                # next one would walk the whole process for it.
                gc.collect()
                gc.unfreeze()
                self.froze = False


_tuning = _CollectorTuning()


@contextmanager
def _earlier_objects_frozen() -> Iterator[None]:
    """Hide every object that exists now from the garbage collector until the block ends,
    and collect young objects less often meanwhile (:data:`YOUNG_COLLECTION_EVERY`).

    ``gc.freeze()`` moves them to the collector's permanent generation, which no
    collection walks; ``gc.unfreeze()`` puts them back into the oldest
    generation afterwards, so nothing is leaked: garbage among them is freed by
    the next full collection. A process that froze objects for its own reasons
    (a pre-fork server) is left as it is.
    """
    _tuning.enter()
    try:
        yield
    finally:
        _tuning.leave()
