"""SIGTERM and SIGHUP stop a parallel run like Ctrl-C: workers stopped, exit 128 + signal, no orphans.

The CLI runs in a session of its own, so that every process it starts (workers, the
multiprocessing resource tracker, Dask's nannies) shares its process group, whoever their
parent is once it has exited; the test then waits for that group to empty.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from weightlens.testing import write_safetensors


def group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the live processes in process group ``pgid`` (from /proc)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # exited meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # state, ppid, pgrp, ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append((int(entry), cmdline))
    return members


def wait_for(condition, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture(scope="module")
def slow_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough F32 SVD work (float64 gesdd) for a -j 2 run to last many seconds."""
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("slow") / "m.safetensors"
    return write_safetensors(path, {f"w{i}": rng.standard_normal((1200, 1200)).astype(np.float32) for i in range(12)})


def start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "weightlens", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def workers(proc: subprocess.Popen[str]) -> list[int]:
    return [p for p, cmd in group_members(proc.pid) if p != proc.pid and "spawn_main" in cmd]


def stop_and_check(proc: subprocess.Popen[str], sig: signal.Signals, timeout: float) -> str:
    """Send ``sig``; the CLI must exit in ``timeout`` s and leave no process of its group behind. Returns stderr."""
    proc.send_signal(sig)
    proc.wait(timeout=timeout)
    assert wait_for(lambda: not group_members(proc.pid), 10), group_members(proc.pid)
    return proc.communicate(timeout=5)[1]  # no orphan holds the pipes open any more


def kill_group(proc: subprocess.Popen[str]) -> None:
    """Clean up after a failed test: whatever is left of the CLI's process group."""
    if group_members(proc.pid):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_signal_stops_the_workers_and_exits_128_plus_signal(slow_checkpoint, sig, code) -> None:  # type: ignore[no-untyped-def]
    proc = start(["analyze", str(slow_checkpoint), "-j", "2", "--passes", "spectrum", "-f", "jsonl"])
    try:
        assert wait_for(lambda: len(workers(proc)) >= 2, 60), group_members(proc.pid)
        err = stop_and_check(proc, sig, 30)
        assert proc.returncode == code, err
        assert err.strip() == f"weightlens: interrupted ({sig.name})"
    finally:
        kill_group(proc)


def test_sigterm_cancels_a_dask_run(slow_checkpoint) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("distributed")
    proc = start(["analyze", str(slow_checkpoint), "--scheduler", "local", "-j", "2", "--passes", "spectrum", "-f", "jsonl"])
    try:
        assert wait_for(lambda: len(workers(proc)) >= 2, 90), group_members(proc.pid)
        time.sleep(1.0)  # let the tasks reach the workers
        err = stop_and_check(proc, signal.SIGTERM, 60)
        assert proc.returncode == 143, err
    finally:
        kill_group(proc)
