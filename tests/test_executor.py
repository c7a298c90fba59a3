"""Executors: checkpoint order, costliest first, bounded in-flight work, BLAS threads, stopping."""

from __future__ import annotations

import multiprocessing
import os
import random
import time
from concurrent.futures import wait as futures_wait
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from tests.bounds import assert_same_report
from weightlens import AnalysisOptions, analyze
from weightlens.errors import UsageError
from weightlens.pipeline.executors import PoolExecutor, SerialExecutor, available_cores, make_executor
from weightlens.pipeline.executors.base import run_ordered
from weightlens.pipeline.executors.pool import _PoolBackend
from weightlens.testing import encode, low_rank, write_safetensors

# ---------------------------------------------------------------- the scheduling loop, deterministically


class _Done:
    def __init__(self, value: object = None, exc: BaseException | None = None) -> None:
        self.value, self.exc = value, exc

    def exception(self) -> BaseException | None:
        return self.exc

    def result(self) -> object:
        if self.exc is not None:
            raise self.exc
        return self.value


class _Died(Exception):
    """Stands for BrokenProcessPool."""


class FakeBackend:
    """Completes submitted tasks in a random order; records what was in flight at each submit.

    A task equal to ``poison`` "kills its worker": every task in flight fails with _Died, as in
    a broken process pool.
    """

    lost = (_Died,)
    lost_kills_all = True

    def __init__(self, seed: int, poison: object = None) -> None:
        self.rng = random.Random(seed)
        self.poison = poison
        self.in_flight: list[tuple[_Done, object]] = []
        self.submitted: list[object] = []
        self.max_in_flight = 0
        self.restarts = 0
        self.closed: bool | None = None

    def submit(self, fn, task):  # type: ignore[no-untyped-def]
        f = _Done()
        self.in_flight.append((f, task))
        self.submitted.append(task)
        self.max_in_flight = max(self.max_in_flight, len(self.in_flight))
        return f

    def wait(self, futures):  # type: ignore[no-untyped-def]
        batch = self.rng.sample(self.in_flight, self.rng.randint(1, len(self.in_flight)))
        if any(task == self.poison for _, task in batch):
            batch = list(self.in_flight)
            for f, _ in batch:
                f.exc = _Died()
        else:
            for f, task in batch:
                f.value = ("done", task)
        for item in batch:
            self.in_flight.remove(item)
        return {f for f, _ in batch}

    def restart(self) -> None:
        self.restarts += 1

    def close(self, ok: bool, unfinished) -> None:  # type: ignore[no-untyped-def]
        self.closed = ok


@pytest.mark.parametrize("seed", range(20))
def test_results_in_task_order_costliest_first_window_bounded(seed: int) -> None:
    rng = random.Random(seed)
    tasks = list(range(rng.randint(1, 40)))
    costs = [rng.choice([1.0, 10.0, 100.0, 1000.0]) for _ in tasks]
    window = rng.randint(1, 6)
    backend = FakeBackend(seed)
    completed: list[int] = []
    out = list(run_ordered(backend, str, tasks, window, costs, on_complete=completed.append))
    assert out == [("done", t) for t in tasks]
    assert backend.max_in_flight <= window
    assert [costs[t] for t in backend.submitted] == sorted(costs, reverse=True)  # costliest first, stable
    assert sorted(completed) == tasks and backend.closed is True


@pytest.mark.parametrize("seed", range(10))
def test_a_task_that_kills_its_worker_is_isolated_and_reported(seed: int) -> None:
    tasks = list(range(12))
    backend = FakeBackend(seed, poison=7)
    out = list(run_ordered(backend, str, tasks, 4, on_lost=lambda task, why: ("lost", task)))
    assert out == [("lost", 7) if t == 7 else ("done", t) for t in tasks]
    assert backend.restarts >= 1 and backend.closed is True


def test_without_on_lost_a_dead_worker_raises_and_closes() -> None:
    backend = FakeBackend(0, poison=0)
    with pytest.raises(_Died):
        list(run_ordered(backend, str, [0, 1, 2], 2))
    assert backend.closed is False


def test_consumer_stopping_early_closes_the_backend() -> None:
    backend = FakeBackend(1)
    with closing(run_ordered(backend, str, list(range(10)), 3)) as results:
        next(results)
    assert backend.closed is False


# ---------------------------------------------------------------- choosing an executor


def test_make_executor() -> None:
    assert isinstance(make_executor(1), SerialExecutor)
    assert isinstance(make_executor(None, work=1.0), SerialExecutor)  # small: no workers to start
    assert isinstance(make_executor(3), PoolExecutor) and make_executor(3).workers == 3
    if available_cores() > 1:
        assert isinstance(make_executor(None), PoolExecutor)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(UsageError, match="jobs: expected an integer >= 1"):
            make_executor(bad)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="expected 'local' or a Dask scheduler address"):
        make_executor(2, "localhost:8786")


# ---------------------------------------------------------------- real worker processes


def blas_threads(_: object) -> tuple[int, int]:
    from threadpoolctl import threadpool_info

    return os.getpid(), max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")


def test_workers_times_blas_threads_is_the_core_count() -> None:
    out = list(PoolExecutor(2).map_ordered(blas_threads, [0, 1, 2, 3]))
    assert {threads for _, threads in out} == {max(1, available_cores() // 2)}
    assert len({pid for pid, _ in out}) <= 2
    # a run with fewer tasks than workers starts fewer workers, with more threads each
    assert list(PoolExecutor(4).map_ordered(blas_threads, [0]))[0][1] == available_cores()


def span(task: tuple[int, float]) -> tuple[int, float, float]:
    i, seconds = task
    start = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process on the machine
    time.sleep(seconds)
    return i, start, time.monotonic()


def test_pool_order_and_at_most_n_running() -> None:
    """Tasks of varying length complete out of order; results still come in task order."""
    tasks = [(i, 0.02 * (i % 4)) for i in range(10)]
    out = list(PoolExecutor(2).map_ordered(span, tasks, costs=[t[1] for t in tasks]))
    assert [i for i, _, _ in out] == list(range(10))
    events = sorted([(s, 1) for _, s, _ in out] + [(e, -1) for _, _, e in out], key=lambda x: (x[0], x[1]))
    running = np.cumsum([d for _, d in events])
    assert running.max() <= 2


def die_on_three(i: int) -> int:
    if i == 3:
        os._exit(1)  # what the OOM killer does to a worker
    return i * i


def test_a_worker_killed_mid_task_gives_that_task_an_error_and_the_others_results() -> None:
    out = list(PoolExecutor(2).map_ordered(die_on_three, list(range(6)), on_lost=lambda i, why: f"lost {i}: {why}"))
    assert out[:3] == [0, 1, 4] and out[4:] == [16, 25]
    assert out[3].startswith("lost 3: its worker process died")
    assert multiprocessing.active_children() == []


class _DiesBeforeNextSubmit(_PoolBackend):
    """Every submit after the first waits until the first task's worker has died: the race of a
    worker dying between two submits (the pool is broken when the next task is submitted), made certain."""

    first = None

    def submit(self, fn, task):  # type: ignore[no-untyped-def]
        if self.first is not None:
            futures_wait([self.first])
        future = super().submit(fn, task)
        self.first = self.first or future
        return future


@pytest.mark.parametrize("window", [2, 4])
def test_a_worker_dying_before_a_submit_costs_only_its_task(window: int) -> None:
    backend = _DiesBeforeNextSubmit(2, 1)
    out = list(run_ordered(backend, die_on_three, [3, 0, 1, 2, 4, 5], window, on_lost=lambda i, why: f"lost {i}"))
    assert out == ["lost 3", 0, 1, 4, 16, 25]
    assert multiprocessing.active_children() == []


def sleep_or_return(i: int) -> int:
    if i == 0:
        time.sleep(60)
        Path(os.environ["WEIGHTLENS_TEST_MARK"]).touch()
    return i


def test_interrupt_stops_the_workers(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Ctrl-C while a worker is busy: pending tasks are cancelled, workers terminated, the
    interrupt propagates."""
    mark = tmp_path / "finished"
    monkeypatch.setenv("WEIGHTLENS_TEST_MARK", str(mark))

    def interrupt(i: int) -> None:
        raise KeyboardInterrupt

    before = set(multiprocessing.active_children())  # other tests' processes still shutting down are not ours
    with pytest.raises(KeyboardInterrupt):
        list(PoolExecutor(2).map_ordered(sleep_or_return, [0, 1, 2, 3], costs=[1, 0, 0, 0], on_complete=interrupt))
    assert set(multiprocessing.active_children()) <= before and not mark.exists()


def test_interrupt_in_the_consumer_stops_the_workers(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    mark = tmp_path / "finished"
    monkeypatch.setenv("WEIGHTLENS_TEST_MARK", str(mark))
    before = set(multiprocessing.active_children())
    with pytest.raises(KeyboardInterrupt), closing(PoolExecutor(2).map_ordered(sleep_or_return, [1, 0, 2])) as results:
        for _ in results:
            raise KeyboardInterrupt
    assert set(multiprocessing.active_children()) <= before and not mark.exists()


# ---------------------------------------------------------------- same report whatever runs it


@pytest.fixture
def varied(tmp_path, rng) -> Path:  # type: ignore[no-untyped-def]
    """Matrices of very different sizes (so completion order differs from checkpoint order)."""
    tensors = {}
    for i, (m, n) in enumerate([(300, 40), (8, 8), (200, 260), (60, 500), (16, 16), (256, 256), (30, 20)]):
        w = low_rank(rng, m, n, min(m, n) // 2) + 1e-3 * rng.standard_normal((m, n))
        tensors[f"layers.{i}.w"] = encode(w, "BF16") if i % 2 else w.astype(np.float32)
    tensors["norm"] = np.ones(8, np.float32)
    return write_safetensors(tmp_path / "varied.safetensors", tensors)


def test_jobs_do_not_change_the_report(varied) -> None:  # type: ignore[no-untyped-def]
    options = AnalysisOptions(passes=("health", "spectrum", "rank", "condition", "sparsity"))
    serial = analyze(varied, options, jobs=1)
    assert_same_report(serial, analyze(varied, options, jobs=2))
    assert [r.name for r in serial] == [f"layers.{i}.w" for i in range(7)] + ["norm"]


def test_dask_local_cluster_gives_the_same_report(varied) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("distributed")
    options = AnalysisOptions(passes=("spectrum", "rank", "condition"))
    assert_same_report(analyze(varied, options, jobs=1), analyze(varied, options, jobs=2, scheduler="local"))


def test_work_of_a_run_counts_svds_only_when_spectral_passes_run(tmp_path, rng, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """An elementwise-only run (check's default rules) is one scan per tensor: it stays in-process."""
    import weightlens.pipeline.executors as executors

    path = write_safetensors(tmp_path / "w.safetensors", {"w": rng.standard_normal((300, 200)).astype(np.float32), "b": np.ones(7, np.float32)})
    seen: list[float] = []
    real = executors.make_executor
    monkeypatch.setattr(executors, "make_executor", lambda workers, scheduler, work: seen.append(work) or real(workers, scheduler, work))
    analyze(path, AnalysisOptions(passes=("health", "sparsity")))
    analyze(path, AnalysisOptions(passes=("health", "rank")))
    assert seen == [300 * 200 + 7, 300 * 200 * 200 + 7]
