"""A Dask cluster (``--scheduler``), for checkpoints one machine cannot analyze in time.

One Dask task per tensor: the task carries only the tensor's header entry (file path, offset,
dtype, shape) and the options; the worker reads the bytes itself, so the checkpoint must be at
the same path on every worker (shared storage), and weightlens installed there. Dask's nanny
starts workers with one BLAS thread (``distributed.nanny.pre-spawn-environ``); the local
cluster runs one single-threaded worker process per core.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from weightlens.__about__ import DISTRIBUTION
from weightlens.errors import UsageError
from weightlens.pipeline.executors.base import BackendExecutor, Future, R, T
from weightlens.pipeline.executors.pool import available_cores

CONNECT_TIMEOUT = "30s"
"""How long to try to reach a remote scheduler."""

INSTALL_HINT = f"pip install 'dask[distributed]' (the {DISTRIBUTION}[dask] extra)"


def check_scheduler(address: str) -> None:
    """'local', or a Dask scheduler address such as tcp://host:8786."""
    if address != "local" and "://" not in address:
        raise UsageError(f"--scheduler: expected 'local' or a Dask scheduler address like tcp://HOST:PORT, got {address!r}")


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise UsageError(f"--scheduler needs Dask's distributed scheduler: {INSTALL_HINT}") from None
    return distributed


class _DaskBackend:
    lost_kills_all: bool = False

    def __init__(self, distributed: Any, client: Any, cluster: Any, workers: int) -> None:
        self.workers = workers
        self.distributed = distributed
        self.client = client
        self.cluster = cluster
        self.lost: tuple[type[BaseException], ...] = (distributed.KilledWorker,)

    def submit(self, fn: Callable[[Any], Any], task: Any) -> Future:
        return self.client.submit(fn, task, pure=False)  # type: ignore[no-any-return]  # distributed is untyped: Client.submit returns a dask Future

    def wait(self, futures: list[Future]) -> set[Future]:
        return set(self.distributed.wait(futures, return_when="FIRST_COMPLETED").done)

    def restart(self) -> None:
        """Dask reschedules the tasks of a dead worker itself (and does not say how it died)."""

    def close(self, ok: bool, unfinished: list[Future]) -> None:
        try:
            if unfinished:
                self.client.cancel(unfinished, force=True)
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


class DaskExecutor(BackendExecutor[T, R]):
    """Runs tasks on a Dask cluster.

    Parameters
    ----------
    scheduler : "local" starts a LocalCluster of ``workers`` single-threaded worker processes
        (default: one per core); otherwise the address of a running scheduler.
    workers : for a remote scheduler, how many tasks to run at once (default: the cluster's
        total worker threads when connecting).
    """

    def __init__(self, scheduler: str, workers: int | None = None) -> None:
        check_scheduler(scheduler)
        self.scheduler = scheduler
        self.requested = workers
        self.workers = workers or (available_cores() if scheduler == "local" else 1)

    def _connect(self, distributed: Any) -> tuple[Any, Any]:
        if self.scheduler == "local":
            cluster = distributed.LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR)
            try:
                return distributed.Client(cluster), cluster
            except BaseException:
                cluster.close()
                raise
        try:
            return distributed.Client(self.scheduler, timeout=CONNECT_TIMEOUT), None
        except (OSError, TimeoutError, ValueError) as e:
            raise UsageError(f"--scheduler {self.scheduler}: cannot connect to the Dask scheduler ({e})") from None

    def open_backend(self, n_tasks: int) -> _DaskBackend:
        distributed = _distributed()
        client, cluster = self._connect(distributed)
        if self.requested is None and cluster is None:
            self.workers = max(1, sum(client.nthreads().values()))
        return _DaskBackend(distributed, client, cluster, self.workers)
