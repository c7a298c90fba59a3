"""What every executor does: run a function over tasks and yield results in task order.

:func:`run_ordered` is the scheduling loop the parallel executors share. It submits the
costliest tasks first (longest-processing-time first: the last task to start is a short one,
so workers finish together), keeps at most ``window`` tasks submitted and unfinished (so
memory is bounded by the number of workers, not by the checkpoint), and yields each result as
soon as every result before it in task order is in — streaming as early as the order allows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Generator, Sequence
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")

OnComplete = Callable[[int], None]
"""Called with a task's index when it finishes, in completion order (progress bars)."""

OnLost = Callable[[T, str], R]
"""Makes the result of a task whose worker died: (task, what happened) -> result."""

WORKER_DIED = "its worker process died (killed by the OS: out of memory?)"
"""What happened to a lost task's worker when the backend cannot tell more."""


class Future(Protocol):
    def exception(self) -> BaseException | None: ...
    def result(self) -> Any: ...


class Backend(Protocol):
    """Where :func:`run_ordered` sends tasks.

    Attributes
    ----------
    workers : tasks that run at once (the scheduling window is twice that).
    lost : exception types meaning "the worker running this task died".
    lost_kills_all : a dead worker fails every unfinished task (a broken process pool), so
        the culprit is found by rerunning them one at a time; False when the backend names
        the culprit itself (Dask's KilledWorker, raised after a task killed several workers).
    """

    workers: int
    lost: tuple[type[BaseException], ...]
    lost_kills_all: bool

    def submit(self, fn: Callable[[Any], Any], task: Any) -> Future: ...
    def wait(self, futures: list[Future]) -> set[Future]: ...
    def restart(self) -> str | None:
        """Replace the workers after one died; returns how it died ("its worker process died
        (SIGBUS)") when the backend can tell."""
    def close(self, ok: bool, unfinished: list[Future]) -> None: ...


class Executor(ABC, Generic[T, R]):
    """Runs ``fn`` over tasks; results come back in task order.

    Attributes
    ----------
    workers : how many tasks run at once (and at most how many are decoded at once).
    """

    workers: int = 1

    @abstractmethod
    def map_ordered(
        self,
        fn: Callable[[T], R],
        tasks: Sequence[T],
        *,
        costs: Sequence[float] | None = None,
        on_complete: OnComplete | None = None,
        on_lost: OnLost[T, R] | None = None,
    ) -> Generator[R, None, None]:
        """Yield fn(task) for each task, in task order.

        Parameters
        ----------
        fn : a picklable function of one task.
        tasks : the tasks, in the order their results are wanted.
        costs : relative cost of each task; costlier tasks are started first.
        on_complete : called with a task's index as soon as it finishes.
        on_lost : result for a task whose worker process died; without it the error is raised.

        Notes
        -----
        On any exception — KeyboardInterrupt included — or when the consumer stops early,
        unfinished tasks are cancelled and workers stopped before the exception propagates.
        """


class SerialExecutor(Executor[T, R]):
    """Runs every task in this process, in task order (``--jobs 1``)."""

    workers = 1

    def map_ordered(
        self,
        fn: Callable[[T], R],
        tasks: Sequence[T],
        *,
        costs: Sequence[float] | None = None,
        on_complete: OnComplete | None = None,
        on_lost: OnLost[T, R] | None = None,
    ) -> Generator[R, None, None]:
        for i, task in enumerate(tasks):
            result = fn(task)
            if on_complete is not None:
                on_complete(i)
            yield result


class BackendExecutor(Executor[T, R]):
    """An executor that opens a :class:`Backend` per run and schedules it with :func:`run_ordered`."""

    @abstractmethod
    def open_backend(self, n_tasks: int) -> Backend:
        """Start (or connect to) the workers for a run of ``n_tasks`` tasks."""

    def map_ordered(
        self,
        fn: Callable[[T], R],
        tasks: Sequence[T],
        *,
        costs: Sequence[float] | None = None,
        on_complete: OnComplete | None = None,
        on_lost: OnLost[T, R] | None = None,
    ) -> Generator[R, None, None]:
        if not tasks:
            return
        backend = self.open_backend(len(tasks))
        yield from run_ordered(backend, fn, tasks, 2 * backend.workers, costs, on_complete, on_lost)


def run_ordered(
    backend: Backend,
    fn: Callable[[T], R],
    tasks: Sequence[T],
    window: int,
    costs: Sequence[float] | None = None,
    on_complete: OnComplete | None = None,
    on_lost: OnLost[T, R] | None = None,
) -> Generator[R, None, None]:
    """The shared scheduling loop (see the module notes); ``backend.close`` runs on every exit.

    A task whose worker died is rerun alone when the backend cannot tell which task killed the
    worker (``lost_kills_all``): the tasks that were in flight are retried one at a time, and
    one that kills its worker again alone gets ``on_lost``'s result.
    """
    n = len(tasks)
    cost = list(costs) if costs is not None else [0.0] * n
    queue = deque(sorted(range(n), key=lambda i: -cost[i]))  # stable: ties keep task order
    suspects: deque[int] = deque()
    pending: dict[Future, int] = {}
    results: dict[int, R] = {}
    nxt = 0
    ok = False

    def finish(i: int, result: R) -> None:
        results[i] = result
        if on_complete is not None:
            on_complete(i)

    try:
        while nxt < n:
            if suspects:
                if not pending:
                    i = suspects.popleft()
                    pending[backend.submit(fn, tasks[i])] = i
            else:
                while queue and len(pending) < window:
                    i = queue.popleft()
                    pending[backend.submit(fn, tasks[i])] = i
            lost: list[int] = []
            for f in backend.wait(list(pending)):
                i = pending.pop(f)
                exc = f.exception()
                if exc is None:
                    finish(i, f.result())
                elif isinstance(exc, backend.lost) and on_lost is not None:
                    lost.append(i)
                else:
                    raise exc
            why = None
            if lost and backend.lost_kills_all:
                lost += pending.values()
                pending.clear()
                why = backend.restart()
            if len(lost) == 1 or (lost and not backend.lost_kills_all):
                for i in lost:
                    finish(i, on_lost(tasks[i], why or WORKER_DIED))  # type: ignore[misc]  # on_lost is set whenever a task is lost (run_ordered raises otherwise)
            else:
                suspects.extend(sorted(lost))
            while nxt in results:
                yield results.pop(nxt)
                nxt += 1
        ok = True
    finally:
        backend.close(ok, list(pending))
