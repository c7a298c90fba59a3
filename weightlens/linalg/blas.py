"""How many BLAS threads a call gets: one, for work too small to gain from more.

A multi-threaded BLAS call waits for every one of its threads to be scheduled; OpenBLAS's threads
spin while they wait. On an idle machine a second thread pays from a few hundred million
multiply-adds on; on a loaded one (a CI runner, other workers) the same small calls become many
times slower than on one thread (bench/threads_bench.py; README, "Speed and scale"). Parallelism
across matrices (worker processes, one BLAS thread each) is the cheaper kind for small matrices.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

MULTI_THREAD_WORK = 8e9
"""Spectra of matrices with m·n·min(m, n) below this (≈ 2048³) run BLAS on one thread. Measured by
bench/threads_bench.py on 2 shared cores: below it a second thread saved at most 1.2–1.7× and as
often lost, and under load every size up to 2048² ran 1.6–90× slower with 2 threads than with 1."""


@functools.cache
def controller() -> ThreadpoolController:
    """The BLAS libraries numpy and scipy loaded (scanned once per process)."""
    return ThreadpoolController()


@contextmanager
def threads_for(work: float) -> Iterator[None]:
    """BLAS limited to one thread inside when ``work`` < MULTI_THREAD_WORK; unchanged otherwise."""
    if work < MULTI_THREAD_WORK:
        with controller().limit(limits=1, user_api="blas"):
            yield
    else:
        yield
