"""Where "analyze one tensor" runs: in this process, in worker processes, or on a Dask cluster.

All executors share one interface, :meth:`Executor.map_ordered`, which yields results in task
(checkpoint) order whatever order they complete in; the parallel ones start the costliest tasks
first and keep at most twice as many tasks submitted as run at once, so at most ``workers``
tensors are decoded at any time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator, Sequence
from typing import Any

from weightlens.errors import UsageError
from weightlens.pipeline.executors.base import Executor, OnLost, R, SerialExecutor, T
from weightlens.pipeline.executors.cluster import DaskExecutor, check_scheduler
from weightlens.pipeline.executors.pool import PoolExecutor, available_cores

AUTO_SERIAL_WORK = 1e10
"""Below this much work (Σ m·n·min(m, n) over the matrices, ≈ 1–2 s of LAPACK on one core) the
default ``jobs`` runs in-process: starting worker processes (≈ 0.5 s to import numpy and scipy
in each) would cost more than it saves."""


def check_jobs(jobs: int | None) -> None:
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise UsageError(f"jobs: expected an integer >= 1, got {jobs!r}")


def make_executor(jobs: int | None = None, scheduler: str | None = None, work: float = float("inf")) -> Executor[Any, Any]:
    """The executor for a run.

    Parameters
    ----------
    jobs : tasks at once; None = all available cores (in-process when ``work`` is small);
        1 = in-process, serially.
    scheduler : None (this machine), "local" (a Dask LocalCluster) or a Dask scheduler address.
    work : the run's total work, Σ m·n·min(m, n), to decide whether workers pay off.
    """
    check_jobs(jobs)
    if scheduler is not None:
        check_scheduler(scheduler)
        return DaskExecutor(scheduler, jobs)
    n = available_cores() if jobs is None else jobs
    if n == 1 or (jobs is None and work < AUTO_SERIAL_WORK):
        return SerialExecutor()
    return PoolExecutor(n)


def map_tasks(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    costs: Sequence[float],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    on_complete: Callable[[T], None] | None = None,
    on_lost: OnLost[T, R] | None = None,
) -> Generator[R, None, None]:
    """fn(task) for each task, in task order, on the executor ``make_executor`` picks for the
    total cost; ``on_complete`` gets each finished task. Closing the iterator early (or an
    exception in the consumer) stops the workers."""
    records = make_executor(workers, scheduler, work=sum(costs)).map_ordered(
        fn, tasks, costs=costs, on_complete=None if on_complete is None else (lambda i: on_complete(tasks[i])), on_lost=on_lost
    )
    with contextlib.closing(records):
        yield from records


__all__ = ["AUTO_SERIAL_WORK", "DaskExecutor", "Executor", "PoolExecutor", "SerialExecutor", "available_cores", "check_jobs", "make_executor", "map_tasks"]
