"""Worker processes on this machine (``--jobs N``).

Workers are started with the "spawn" method (forking a process that runs BLAS threads is
unsafe), ignore SIGINT (Ctrl-C reaches the parent, which stops them), and limit their BLAS
threads so that workers × threads = cores: N single-matrix processes instead of N processes
each starting a thread per core.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.process import BaseProcess
from typing import Any

from weightlens.pipeline.executors.base import BackendExecutor, Future, R, T

BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")

TERMINATE_GRACE = 5.0
"""Seconds a worker gets to exit after SIGTERM before it is killed."""


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, which cgroups and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def init_worker(threads: int) -> None:
    """Worker start-up: ignore Ctrl-C, limit BLAS threads.

    The limit is set twice: in the environment, for libraries loaded later, and through
    threadpoolctl on the BLAS numpy and scipy have already loaded (the environment is read only
    when a BLAS library is loaded, and unpickling this function has already imported numpy).
    """
    import threadpoolctl

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for var in BLAS_THREAD_VARIABLES:
        os.environ[var] = str(threads)
    threadpoolctl.threadpool_limits(limits=threads)


def death_of(processes: list[BaseProcess]) -> str | None:
    """How the one worker of a broken pool died, from the exit codes.

    The pool terminates (SIGTERM) the workers that were still alive when one died, so the
    culprit is the one with another exit code; None when that is not a single one.
    """
    codes = {p.exitcode for p in processes if p.exitcode is not None} - {-signal.SIGTERM}
    if len(codes) != 1:
        return None
    code = codes.pop()
    if code == -signal.SIGKILL:
        return "its worker process died (SIGKILL: killed by the OS, out of memory?)"
    if code < 0:
        try:
            return f"its worker process died ({signal.Signals(-code).name})"
        except ValueError:  # a real-time signal: no name
            return f"its worker process died (signal {-code})"
    return f"its worker process died (exit code {code})"


class _PoolBackend:
    lost: tuple[type[BaseException], ...] = (BrokenProcessPool,)
    lost_kills_all: bool = True

    def __init__(self, workers: int, threads: int) -> None:
        self.workers = workers
        self.threads = threads
        self.pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=init_worker, initargs=(self.threads,))

    def submit(self, fn: Callable[[Any], Any], task: Any) -> Future:
        """``pool.submit``; into a pool a worker died in since the last wait, a future failed with
        BrokenProcessPool, so that the task is rerun like the others in flight (not an error of the run)."""
        try:
            return self.pool.submit(fn, task)
        except BrokenProcessPool as e:
            failed: concurrent.futures.Future[Any] = concurrent.futures.Future()
            failed.set_exception(e)
            return failed

    def wait(self, futures: list[Future]) -> set[Future]:
        return wait(futures, return_when=FIRST_COMPLETED).done  # type: ignore[arg-type,return-value]  # Backend.wait speaks of the protocol Future; these are concurrent.futures ones

    def restart(self) -> str | None:
        processes = self._processes()
        self._stop()  # joins them all: every exit code is stored
        self.pool = self._start()
        return death_of(processes)

    def close(self, ok: bool, unfinished: list[Future]) -> None:
        if ok:
            self.pool.shutdown(wait=True)
        else:
            self._stop()

    def _processes(self) -> list[BaseProcess]:
        return list((getattr(self.pool, "_processes", None) or {}).values())

    def _stop(self) -> None:
        """Cancel what has not started, then terminate the workers (SIGTERM, SIGKILL after a grace period).

        The pool's manager thread reaps the dead workers too; it is waited for, so that no
        worker counts as alive (reaped by one thread, its exit code not yet stored) on return.
        """
        processes = self._processes()
        manager = getattr(self.pool, "_executor_manager_thread", None)
        self.pool.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            if p.is_alive():
                p.terminate()
        for p in processes:
            p.join(TERMINATE_GRACE)
            if p.is_alive():
                p.kill()
                p.join()
        if manager is not None:
            manager.join(TERMINATE_GRACE)


class PoolExecutor(BackendExecutor[T, R]):
    """Runs tasks in ``workers`` spawned processes with ``threads`` BLAS threads each.

    Parameters
    ----------
    workers : number of worker processes (≥ 1).
    threads : BLAS threads per worker; default max(1, available cores // workers), counting
        only the workers a run needs (no more than its tasks).
    """

    def __init__(self, workers: int, threads: int | None = None) -> None:
        self.workers = workers
        self.threads = threads

    def open_backend(self, n_tasks: int) -> _PoolBackend:
        workers = min(self.workers, n_tasks)
        return _PoolBackend(workers, self.threads or max(1, available_cores() // workers))
