"""The fan-out every multi-account service uses: bounds, order, errors, and the frozen heap."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator

import pytest

from keyless.errors import InputError
from keyless.services.fanout import (
    YOUNG_COLLECTION_EVERY,
    account_pool,
    across,
    checked_parallel,
)


@pytest.fixture(autouse=True)
def _collector_as_found() -> Iterator[None]:
    # These tests read and change the collector's state; a failure must not leave the
    # process frozen or with other thresholds.
    assert gc.get_freeze_count() == 0
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_results_come_back_in_the_items_order_whatever_order_they_finish_in() -> None:
    finished: list[int] = []
    first_may_finish = threading.Event()

    def work(item: int) -> str:
        if item == 0:
            # The first item finishes last: it waits until the second is done.
            assert first_may_finish.wait(timeout=10)
        finished.append(item)
        if item == 1:
            first_may_finish.set()
        return f"r{item}"

    assert across([0, 1, 2], work, parallel=3) == ["r0", "r1", "r2"]
    assert finished.index(1) < finished.index(0)


def test_parallel_accounts_are_worked_on_at_once_and_never_more() -> None:
    # A barrier of 2 is only passed if two items run at the same time, so a pool of
    # one worker would fail here (BrokenBarrierError after the timeout), and the
    # running count shows the pool never goes past 2.
    together = threading.Barrier(2, timeout=10)
    lock = threading.Lock()
    running = 0
    most = 0

    def work(item: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        together.wait()
        with lock:
            running -= 1
        return item

    assert across(list(range(6)), work, parallel=2) == list(range(6))
    assert most == 2


def test_an_error_in_the_work_is_raised_once_the_running_work_has_finished() -> None:
    lock = threading.Lock()
    running = 0

    def work(item: int) -> int:
        nonlocal running
        with lock:
            running += 1
        try:
            if item == 1:
                raise ValueError(f"item {item}")
            return item
        finally:
            with lock:
                running -= 1

    with pytest.raises(ValueError, match="item 1"):
        across(list(range(50)), work, parallel=4)
    assert running == 0
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize("parallel", [0, -3])
def test_parallel_below_one_is_refused_even_with_nothing_to_do(parallel: int) -> None:
    with pytest.raises(InputError, match=f"--parallel must be at least 1, got {parallel}"):
        checked_parallel(parallel)
    with pytest.raises(InputError, match="--parallel"):
        across([], str, parallel=parallel)
    with pytest.raises(InputError, match="--parallel"):
        across([1], str, parallel=parallel)


def test_objects_from_before_are_frozen_during_the_work_and_given_back_after() -> None:
    counts: list[int] = []

    def work(item: int) -> int:
        counts.append(gc.get_freeze_count())
        return item

    across([1, 2], work, parallel=2)
    assert all(count > 0 for count in counts)
    assert gc.get_freeze_count() == 0


def test_garbage_from_before_is_still_collected_after_the_work() -> None:
    class Node:
        other: object = None

    def make_cycle() -> weakref.ref[Node]:
        a, b = Node(), Node()
        a.other, b.other = b, a
        return weakref.ref(a)

    gc.disable()  # so the cycle is still uncollected when the work freezes it
    try:
        cycle = make_cycle()
        across([1], lambda item: item, parallel=1)
    finally:
        gc.enable()
    assert cycle() is not None
    gc.collect()
    assert cycle() is None


def test_nested_fan_outs_give_the_collector_back_only_when_the_last_ends() -> None:
    gc.set_threshold(700, 10, 10)
    seen: list[tuple[int, tuple[int, int, int]]] = []

    def outer(item: int) -> int:
        def inner(x: int) -> int:
            seen.append((gc.get_freeze_count(), gc.get_threshold()))
            return x

        across([1, 2], inner, parallel=2)
        # The inner fan-out ended, the outer one has not: still frozen and tuned.
        seen.append((gc.get_freeze_count(), gc.get_threshold()))
        return item

    across([1, 2, 3], outer, parallel=3)
    assert len(seen) == 9
    assert all(count > 0 for count, _ in seen)
    assert {thresholds for _, thresholds in seen} == {(YOUNG_COLLECTION_EVERY, 10, 10)}
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == (700, 10, 10)


def test_a_freeze_the_process_made_for_its_own_reasons_is_left_as_it_is() -> None:
    gc.freeze()
    with account_pool(2, 2) as pool:
        assert pool.submit(lambda: 1).result() == 1
    # Still frozen (the count itself shrinks as frozen objects are freed, so it is not
    # compared): a fan-out that unfroze at its end would leave none.
    assert gc.get_freeze_count() > 0


def test_young_objects_are_collected_less_often_during_the_work_only() -> None:
    gc.set_threshold(700, 10, 10)
    during: list[tuple[int, int, int]] = []
    across([1, 2], lambda item: during.append(gc.get_threshold()), parallel=2)
    assert during == [(YOUNG_COLLECTION_EVERY, 10, 10)] * 2
    assert gc.get_threshold() == (700, 10, 10)


def test_a_process_that_collects_less_often_still_or_not_at_all_is_left_so() -> None:
    seen: list[tuple[int, int, int]] = []
    for thresholds in ((50_000, 20, 20), (0, 10, 10)):
        gc.set_threshold(*thresholds)
        across([1], lambda item: seen.append(gc.get_threshold()), parallel=1)
        assert gc.get_threshold() == thresholds
    assert seen == [(50_000, 20, 20), (0, 10, 10)]
