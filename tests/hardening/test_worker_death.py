"""A worker that dies gets its task a record saying how it died, not a guess of "out of memory"."""

from __future__ import annotations

import multiprocessing
import os
import signal
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from weightlens.pipeline.executors import PoolExecutor
from weightlens.pipeline.executors.pool import death_of


def bus_error_on_one(i: int) -> int:
    if i == 1:
        os.kill(os.getpid(), signal.SIGBUS)  # what a truncated memory map did to a reader
    return i * i


def test_a_worker_killed_by_sigbus_is_not_reported_as_out_of_memory() -> None:
    out = list(PoolExecutor(2).map_ordered(bus_error_on_one, [0, 1, 2], on_lost=lambda i, why: f"lost {i}: {why}"))
    assert out == [0, "lost 1: its worker process died (SIGBUS)", 4]
    assert multiprocessing.active_children() == []


@settings(derandomize=True, max_examples=80, deadline=None, database=None)
@given(culprit=st.integers(-64, 255).filter(lambda c: c not in (0, -signal.SIGTERM)), others=st.lists(st.sampled_from([None, -signal.SIGTERM]), max_size=3))
def test_death_of_names_the_one_exit_code_that_is_not_the_pools_own_sigterm(culprit: int, others: list) -> None:  # type: ignore[type-arg]
    why = death_of([SimpleNamespace(exitcode=c) for c in [*others, culprit]])  # type: ignore[misc]
    assert why is not None and why.startswith("its worker process died (")
    assert ("out of memory" in why) == (culprit == -signal.SIGKILL)
    if culprit > 0:
        assert why.endswith(f"(exit code {culprit})")
    elif culprit != -signal.SIGKILL:
        assert "(SIG" in why or f"signal {-culprit}" in why
    assert death_of([SimpleNamespace(exitcode=c) for c in others]) is None  # only the pool's SIGTERMs: unknown
