"""A worker that dies gets its task a record saying how it died, not a guess of "out of memory"."""

from __future__ import annotations

import multiprocessing
import os
import signal

from weightlens.executors import PoolExecutor

DEATHS = {1: ("signal", signal.SIGBUS), 3: ("signal", signal.SIGKILL), 4: ("exit", 3)}


def die_or_square(i: int) -> int:
    how, what = DEATHS.get(i, (None, 0))
    if how == "signal":
        os.kill(os.getpid(), what)
    elif how == "exit":
        os._exit(what)
    return i * i


def test_the_record_names_the_signal_or_exit_code_that_killed_the_worker() -> None:
    out = list(PoolExecutor(2).map_ordered(die_or_square, list(range(6)), on_lost=lambda i, why: f"lost {i}: {why}"))
    assert out[0] == 0 and out[2] == 4 and out[5] == 25
    assert out[1] == "lost 1: its worker process died (SIGBUS)"
    assert out[3] == "lost 3: its worker process died (SIGKILL: killed by the OS, out of memory?)"
    assert out[4] == "lost 4: its worker process died (exit code 3)"
    assert multiprocessing.active_children() == []
