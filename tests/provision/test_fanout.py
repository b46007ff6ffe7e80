"""The fan-out every multi-account service uses: bounds, order, errors, and nothing else.

Issue 20: the fan-out used to retune the process's garbage collector (``gc.freeze``,
``gc.set_threshold``) for the length of a call, putting back thresholds over any change
the host made meanwhile and unfreezing a freeze the host had made itself. A library
call must leave process-wide state as the host had it; the last tests pin that.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from keyless.errors import InputError
from keyless.services.fanout import account_pool, across, checked_parallel

CollectorState = tuple[bool, tuple[int, ...], bool]


def collector_state() -> CollectorState:
    # Whether anything is frozen, not how much: frozen objects freed by reference
    # counting (threads ending, other tests' leftovers) shrink the count on their own.
    return gc.isenabled(), gc.get_threshold(), gc.get_freeze_count() > 0


@pytest.fixture
def collector_as_found() -> Iterator[None]:
    # The tests that set up a host's collector state must not leave it to the next test.
    assert gc.get_freeze_count() == 0
    enabled, thresholds = gc.isenabled(), gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    if enabled:
        gc.enable()
    else:
        gc.disable()


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


@pytest.mark.parametrize("parallel", [1, 2, 3])
def test_parallel_accounts_are_worked_on_at_once_and_never_more(parallel: int) -> None:
    # A barrier of `parallel` is only passed if that many items run at the same time,
    # so a smaller pool fails here (BrokenBarrierError after the timeout), and the
    # running count shows the pool never goes past `parallel`.
    together = threading.Barrier(parallel, timeout=10)
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

    items = list(range(4 * parallel))
    assert across(items, work, parallel=parallel) == items
    assert most == parallel


def test_more_parallel_than_items_still_does_every_item_once() -> None:
    done: list[int] = []
    lock = threading.Lock()

    def work(item: int) -> int:
        with lock:
            done.append(item)
        return item * 2

    assert across([1, 2, 3], work, parallel=50) == [2, 4, 6]
    assert sorted(done) == [1, 2, 3]


def test_an_error_in_the_work_is_raised_once_the_running_work_has_finished() -> None:
    lock = threading.Lock()
    running = 0
    started: list[int] = []

    def work(item: int) -> int:
        nonlocal running
        with lock:
            running += 1
            started.append(item)
        try:
            if item == 1:
                raise ValueError(f"item {item}")
            if item > 1:
                # Slow enough that, were the items not yet started kept, they could not
                # all start (some 10 s of work two at a time) before the error is raised.
                time.sleep(0.2)
            return item
        finally:
            with lock:
                running -= 1

    with pytest.raises(ValueError, match="item 1"):
        across(list(range(100)), work, parallel=2)
    # Raised after the running work finished, and what had not started was dropped.
    assert running == 0
    assert len(started) < 100


def test_an_error_in_pool_work_reaches_whoever_asks_for_its_result() -> None:
    with account_pool(2, 2) as pool:
        ok = pool.submit(lambda: "fine")
        failed = pool.submit(lambda: 1 // 0)
    assert ok.result() == "fine"
    with pytest.raises(ZeroDivisionError):
        failed.result()


@pytest.mark.parametrize("parallel", [0, -3])
def test_parallel_below_one_is_refused_even_with_nothing_to_do(parallel: int) -> None:
    with pytest.raises(InputError, match=f"--parallel must be at least 1, got {parallel}"):
        checked_parallel(parallel)
    with pytest.raises(InputError, match="--parallel"):
        across([], str, parallel=parallel)
    with pytest.raises(InputError, match="--parallel"):
        across([1], str, parallel=parallel)
    with pytest.raises(InputError, match="--parallel"), account_pool(parallel, 3):
        pass


def _with_across(work: Callable[[], None]) -> None:
    across([1, 2, 3, 4], lambda _: work(), parallel=2)


def _with_pool(work: Callable[[], None]) -> None:
    with account_pool(2, 3) as pool:
        futures = [pool.submit(work) for _ in range(3)]
    for future in futures:
        future.result()


def _nested(work: Callable[[], None]) -> None:
    across([1, 2], lambda _: _with_across(work), parallel=2)


def _defaults() -> None:
    pass


def _other_thresholds() -> None:
    gc.set_threshold(50_000, 20, 20)


def _automatic_collection_off_by_threshold() -> None:
    gc.set_threshold(0, 10, 10)


def _collector_disabled() -> None:
    gc.disable()


def _host_froze_its_objects() -> None:
    # What a pre-fork server does: collect, then freeze what is left so children
    # share those pages.
    gc.collect()
    gc.freeze()


def _host_froze_and_tuned() -> None:
    _host_froze_its_objects()
    gc.set_threshold(5_000, 15, 15)


@pytest.mark.usefixtures("collector_as_found")
@pytest.mark.parametrize("call", [_with_across, _with_pool, _nested])
@pytest.mark.parametrize(
    "host",
    [
        _defaults,
        _other_thresholds,
        _automatic_collection_off_by_threshold,
        _collector_disabled,
        _host_froze_its_objects,
        _host_froze_and_tuned,
    ],
)
def test_issue_20_a_fan_out_leaves_the_collector_as_the_host_set_it(
    host: Callable[[], None], call: Callable[[Callable[[], None]], None]
) -> None:
    host()
    before = collector_state()
    frozen_before = gc.get_freeze_count()
    during: list[CollectorState] = []
    lock = threading.Lock()

    def work() -> None:
        with lock:
            during.append(collector_state())

    call(work)
    assert collector_state() == before
    assert gc.get_freeze_count() <= frozen_before  # the fan-out froze nothing of its own
    # Nor changed while the work runs (the old fan-out tuned it and put it back).
    assert during
    assert set(during) == {before}


@pytest.mark.usefixtures("collector_as_found")
def test_issue_20_a_change_the_host_makes_during_the_work_is_kept() -> None:
    # The old fan-out put its saved thresholds back at its end, over the host's change,
    # and unfroze at its end, undoing a freeze the host made while it ran.
    def work(item: int) -> int:
        if item == 0:
            gc.set_threshold(1_234, 5, 6)
            gc.freeze()
        return item

    across([0, 1], work, parallel=2)
    assert gc.get_threshold() == (1_234, 5, 6)
    # Still frozen (the count itself shrinks as frozen objects are freed, here the
    # work's own, so it is not compared exactly).
    assert gc.get_freeze_count() > 0
