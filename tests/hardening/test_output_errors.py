"""Writing fails: a full disk, a read-only file system, a closed pipe, a bad ``-o`` path.

Every case ends in one stderr line ``weightlens: error: FILE: problem`` with exit 2 (or, for a
pipe whose reader left, a quiet exit 141), no traceback, no half-written or temporary file.

How the failures are produced:

- /dev/full (Linux) for ``-o /dev/full`` and ``> /dev/full``, in a subprocess: real ENOSPC;
- a pipe whose read end is closed before weightlens starts, and a real ``| head -1``;
- in-process fault injection (the tests run as root, where a 0o555 directory does not stop a
  write): ``tempfile.mkstemp`` / ``os.fchmod`` / ``os.fsync`` / ``os.replace`` / ``os.mkdir``
  replaced by functions raising the errno, and a file object whose writes fail past byte k;
- a real 64 KB tmpfs, mounted read-write (ENOSPC) and read-only (EROFS), when the test process
  may mount one (root with CAP_SYS_ADMIN); skipped otherwise.
"""

from __future__ import annotations

import errno
import importlib.util
import io
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from weightlens.cli import app
from weightlens.errors import OutputClosed, OutputError, UsageError
from weightlens.report.output import atomic_writer
from weightlens.testing import write_safetensors

runner = CliRunner()
DEV_FULL = Path("/dev/full")
ENOSPC = os.strerror(errno.ENOSPC)
EROFS = os.strerror(errno.EROFS)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(7)
    tensors = {f"layers.{i}.w": rng.standard_normal((12, 8)).astype(np.float32) for i in range(3)}
    return write_safetensors(tmp_path_factory.mktemp("small") / "m.safetensors", tensors)


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 tensors: `inspect -f json` prints ~117 KB, well past a pipe's 64 KB buffer."""
    tensors = {f"model.layers.{i}.w": np.zeros((2, 2), np.float32) for i in range(600)}
    return write_safetensors(tmp_path_factory.mktemp("many") / "m.safetensors", tensors)


def one_error_line(stderr: str, name: str, problem: str) -> None:
    assert stderr.splitlines() == [f"weightlens: error: {name}: {problem}"], stderr


def listing(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


# --- stdout: /dev/full and closed pipes -----------------------------------------------------


def _stdout(kind: str, buffered: bool) -> IO[str]:
    """A stdout that fails: /dev/full (ENOSPC) or a pipe whose reader has left (EPIPE); buffered as
    usual, or unbuffered as under ``python -u`` / PYTHONUNBUFFERED=1 (TextIOWrapper over a raw FileIO)."""
    if kind == "full":
        fd = os.open(DEV_FULL, os.O_WRONLY)
    else:
        read_end, fd = os.pipe()
        os.close(read_end)
    raw = io.FileIO(fd, "w")
    return io.TextIOWrapper(io.BufferedWriter(raw) if buffered else raw, encoding="utf-8", write_through=not buffered)


def _stdout_commands(small: Path, many: Path) -> dict[str, list[str]]:
    return {
        "inspect": ["inspect", str(small)],
        "inspect json, 117 KB": ["inspect", str(many), "-f", "json"],
        "inspect json": ["inspect", str(small), "-f", "json"],
        "analyze jsonl": ["analyze", str(small), "-q", "-f", "jsonl"],
        "check": ["check", str(small)],
        "schema": ["schema"],
        "--help": ["--help"],
        "analyze --help": ["analyze", "--help"],
    }


@pytest.mark.skipif(not DEV_FULL.exists(), reason="/dev/full is Linux-only")
@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("kind", ["full", "closed"])
def test_stdout_that_fails(small, many, monkeypatch, capsys, kind, buffered) -> None:  # type: ignore[no-untyped-def]
    """The console script in-process, its stdout on /dev/full or a closed pipe: exit 2 with one line
    naming <stdout>, or 141 without a word; and stdout is left so that Python's flush at exit cannot
    fail ("Exception ignored ... BrokenPipeError")."""
    from weightlens.cli import main

    for name, args in _stdout_commands(small, many).items():
        capsys.readouterr()
        out = _stdout(kind, buffered)
        monkeypatch.setattr(sys, "stdout", out)
        monkeypatch.setattr(sys, "argv", ["weightlens", *args])
        with pytest.raises(SystemExit) as exit_:
            main()
        err = capsys.readouterr().err
        if kind == "full":
            assert exit_.value.code == 2, name
            one_error_line(err, "<stdout>", f"cannot write: {ENOSPC}")
        else:
            assert (exit_.value.code, err) == (141, ""), name
        out.flush()  # what the interpreter does at exit
        out.close()


@pytest.mark.skipif(not DEV_FULL.exists(), reason="/dev/full is Linux-only")
def test_end_to_end_no_traceback_no_noise_at_exit(small, many) -> None:  # type: ignore[no-untyped-def]
    """The real process: > /dev/full (stdout buffered), and | head -1 on 117 KB of output
    (unbuffered, as PYTHONUNBUFFERED=1 in many containers)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    with open(DEV_FULL, "w") as full:
        run = subprocess.run([sys.executable, "-m", "weightlens", "inspect", str(small)], stdout=full, stderr=subprocess.PIPE, text=True, env=env, timeout=120)
    assert run.returncode == 2
    one_error_line(run.stderr, "<stdout>", f"cannot write: {ENOSPC}")
    cmd = f"{sys.executable} -m weightlens inspect {many} -f json | head -1; echo \"status ${{PIPESTATUS[0]}}\""
    run = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env={**env, "PYTHONUNBUFFERED": "1"}, timeout=120)
    assert run.stdout.splitlines() == ["{", "status 141"] and run.stderr == "", (run.stdout[-200:], run.stderr)


# --- atomic_writer under injected faults ------------------------------------------------------


class _FailingFile(io.FileIO):
    """A file whose writes fail with ``err`` once more than ``limit`` bytes would be written."""

    def __init__(self, fd: int, limit: int, err: int) -> None:
        super().__init__(fd, "wb", closefd=True)
        self.limit, self.err, self.written = limit, err, 0

    def write(self, b) -> int:  # type: ignore[no-untyped-def, override]
        if self.written + len(b) > self.limit:
            raise OSError(self.err, os.strerror(self.err))
        self.written += len(b)
        return super().write(b)


def _failing_fdopen(limit: int, err: int):  # type: ignore[no-untyped-def]
    real = os.fdopen

    def fdopen(fd: int, mode: str = "r", encoding: str | None = None, newline: str | None = None):  # type: ignore[no-untyped-def]
        if "r" in mode:  # inputs (checkpoint.safeload opens them through fdopen too) are read as usual
            return real(fd, mode, encoding=encoding, newline=newline)
        buffered = io.BufferedWriter(_FailingFile(fd, limit, err))
        return buffered if "b" in mode else io.TextIOWrapper(buffered, encoding=encoding, newline=newline)

    return fdopen


def _raising(err: int):  # type: ignore[no-untyped-def]
    def fail(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise OSError(err, os.strerror(err))

    return fail


STAGES = {
    "create": ("cannot create", (errno.EROFS, errno.EACCES, errno.ENOSPC, errno.EDQUOT)),
    "chmod": ("cannot create", (errno.EROFS, errno.EPERM)),
    "write": ("cannot write", (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG)),
    "fsync": ("cannot write", (errno.ENOSPC, errno.EIO, errno.EDQUOT)),
    "replace": ("cannot rename the written file into place", (errno.EROFS, errno.EXDEV, errno.EBUSY, errno.EACCES)),
}


@st.composite
def faults(draw):  # type: ignore[no-untyped-def]
    stage = draw(st.sampled_from([None, *STAGES]))
    err = draw(st.sampled_from(STAGES[stage][1])) if stage else 0
    chunks = draw(st.lists(st.text(st.characters(codec="utf-8"), max_size=2000), max_size=12))
    limit = draw(st.integers(0, max(1, sum(len(c.encode()) for c in chunks))))
    return stage, err, chunks, limit, draw(st.booleans()), draw(st.booleans())


@settings(derandomize=True, max_examples=200, deadline=None)
@given(faults())
def test_atomic_writer_under_faults_leaves_the_target_whole(fault) -> None:  # type: ignore[no-untyped-def]
    """A fault at any stage: OutputError naming the file and the reason; the target keeps its old
    content (or stays absent) and no temporary file remains. No fault: the exact content."""
    stage, err, chunks, limit, binary, existed = fault
    data = "".join(chunks)
    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp:
        target = Path(d) / "report.json"
        if existed:
            target.write_bytes(b"old report")
        before = listing(Path(d))
        patches = {"create": (tempfile, "mkstemp"), "chmod": (os, "fchmod"), "fsync": (os, "fsync"), "replace": (os, "replace")}
        if stage == "write":
            mp.setattr(os, "fdopen", _failing_fdopen(limit, err))
        elif stage is not None:
            mp.setattr(*patches[stage], _raising(err))
        fails = stage is not None and (stage != "write" or len(data.encode()) > limit)
        try:
            with atomic_writer(target, binary=binary) as f:
                for c in chunks:
                    f.write(c.encode() if binary else c)
        except OutputError as e:
            assert fails and not isinstance(e, OutputClosed)
            assert str(e) == f"{target}: {STAGES[stage][0]}: {os.strerror(err)}"
            assert listing(Path(d)) == before
        else:
            assert not fails
            assert listing(Path(d)) == {"report.json": data.encode()}


def test_special_file_that_cannot_be_opened(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    monkeypatch.setattr("builtins.open", _raising(errno.EACCES))
    with pytest.raises(OutputError, match=f"^{fifo}: cannot open for writing: Permission denied$"), atomic_writer(fifo) as f:
        f.write("x")


def test_bad_output_paths(tmp_path) -> None:  # type: ignore[no-untyped-def]
    a_file = tmp_path / "file"
    a_file.write_text("keep")
    cases = {
        tmp_path: "it is a directory",
        tmp_path / "missing" / "r.json": f"directory {tmp_path / 'missing'} does not exist",
        a_file / "r.json": f"directory {a_file} is not a directory",
    }
    for path, problem in cases.items():
        with pytest.raises(UsageError, match=problem), atomic_writer(path) as f:
            f.write("x")
    assert a_file.read_text() == "keep"


# --- the commands, with faults injected in-process ------------------------------------------


def _commands(small: Path, out: Path) -> dict[str, tuple[list[str], Path]]:
    """command -> (arguments, the file it must name in its error)."""
    return {
        "analyze -o": (["analyze", str(small), "-q", "-f", "json", "-o", str(out / "r.json")], out / "r.json"),
        "analyze -o jsonl": (["analyze", str(small), "-q", "-f", "jsonl", "-o", str(out / "r.jsonl")], out / "r.jsonl"),
        "check --junit-xml": (["check", str(small), "-q", "--junit-xml", str(out / "j.xml")], out / "j.xml"),
        "inspect -o": (["inspect", str(small), "-o", str(out / "i.txt")], out / "i.txt"),
    }


@pytest.mark.skipif(not DEV_FULL.exists(), reason="/dev/full is Linux-only")
def test_output_to_dev_full(small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for name, (args, target) in _commands(small, tmp_path).items():
        result = runner.invoke(app, [str(DEV_FULL) if a == str(target) else a for a in args])
        assert result.exit_code == 2, name
        one_error_line(result.stderr, str(DEV_FULL), f"cannot write: {ENOSPC}")


@pytest.mark.parametrize("err", [errno.EROFS, errno.ENOSPC])
def test_commands_report_an_unwritable_output_in_one_line(small, tmp_path, monkeypatch, err) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(tempfile, "mkstemp", _raising(err))
    for name, (args, target) in _commands(small, tmp_path).items():
        result = runner.invoke(app, args)
        assert result.exit_code == 2, name
        one_error_line(result.stderr, str(target), f"cannot create: {os.strerror(err)}")
    assert list(tmp_path.iterdir()) == []


def test_commands_report_a_full_disk_mid_write_in_one_line(small, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(os, "fdopen", _failing_fdopen(10, errno.ENOSPC))
    commands = _commands(small, tmp_path)
    if importlib.util.find_spec("matplotlib"):
        commands["report -o"] = (["report", str(small), "-q", "-o", str(tmp_path / "r.html")], tmp_path / "r.html")
    for name, (args, target) in commands.items():
        result = runner.invoke(app, args)
        assert result.exit_code == 2, name
        one_error_line(result.stderr, str(target), f"cannot write: {ENOSPC}")
    assert list(tmp_path.iterdir()) == []


def test_plot_directory_that_cannot_be_created(small, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("matplotlib")
    a_file = tmp_path / "file"
    a_file.write_text("keep")
    result = runner.invoke(app, ["plot", str(small), "-q", "-o", str(a_file / "figs")])
    assert result.exit_code == 2
    one_error_line(result.stderr, str(a_file / "figs"), f"cannot create the directory: {os.strerror(errno.ENOTDIR)}")
    monkeypatch.setattr(os, "mkdir", _raising(errno.EROFS))
    result = runner.invoke(app, ["plot", str(small), "-q", "-o", str(tmp_path / "figs")])
    assert result.exit_code == 2
    one_error_line(result.stderr, str(tmp_path / "figs"), f"cannot create the directory: {EROFS}")
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_plot_stops_at_the_figure_that_cannot_be_written(small, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("matplotlib")
    real_fsync, calls = os.fsync, []

    def fsync_fails_third(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, ENOSPC)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_fails_third)
    figs = tmp_path / "figs"
    result = runner.invoke(app, ["plot", str(small), "-q", "-o", str(figs)])
    assert result.exit_code == 2
    one_error_line(result.stderr, str(figs / "layers.1.w.png"), f"cannot write: {ENOSPC}")
    assert sorted(p.name for p in figs.iterdir()) == ["layers.0.w.png", "overview.png"]  # whole files, no temporary


# --- a real tmpfs: read-only and full --------------------------------------------------------


def _mount(where: Path, *options: str) -> bool:
    run = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(("size=64k", *options)), "tmpfs", str(where)], capture_output=True, timeout=30)
    return run.returncode == 0


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(read-only tmpfs, full 64 KB tmpfs with 8 KB left), or skip when mounting is not allowed."""
    ro, full = tmp_path / "ro", tmp_path / "full"
    ro.mkdir()
    full.mkdir()
    if os.geteuid() != 0 or not _mount(ro, "ro"):
        pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")
    try:
        if not _mount(full):
            pytest.skip("cannot mount a second tmpfs")
        try:
            (full / "filler").write_bytes(b"\0" * (56 << 10))
            yield ro, full
        finally:
            subprocess.run(["umount", "-l", str(full)], check=True, timeout=30)
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=True, timeout=30)


def test_real_read_only_and_full_file_systems(small, tmpfs) -> None:  # type: ignore[no-untyped-def]
    ro, full = tmpfs
    for name, (args, target) in _commands(small, ro).items():
        result = runner.invoke(app, args)
        assert result.exit_code == 2, name
        one_error_line(result.stderr, str(target), f"cannot create: {EROFS}")
    pytest.importorskip("matplotlib")
    result = runner.invoke(app, ["plot", str(small), "-q", "-o", str(ro / "figs")])
    assert result.exit_code == 2
    one_error_line(result.stderr, str(ro / "figs"), f"cannot create the directory: {EROFS}")

    result = runner.invoke(app, ["plot", str(small), "-q", "-o", str(full / "figs")])  # PNGs of ~30 KB each
    assert result.exit_code == 2 and result.stderr.startswith(f"weightlens: error: {full / 'figs'}/")
    assert result.stderr.endswith(f": cannot write: {ENOSPC}\n") and len(result.stderr.splitlines()) == 1
    assert all(not p.name.startswith(".") for p in (full / "figs").iterdir())
    result = runner.invoke(app, ["analyze", str(small), "-q", "-f", "json", "--full-spectrum", "-o", str(full / "r.json")])
    assert result.exit_code == 2
    one_error_line(result.stderr, str(full / "r.json"), f"cannot write: {ENOSPC}")
    assert not (full / "r.json").exists()


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
def test_stdout_to_a_full_tmpfs(small, tmpfs, monkeypatch, capsys, buffered) -> None:  # type: ignore[no-untyped-def]
    """10 KB of JSON into the 8 KB left: the short write is an error in both modes (unbuffered,
    TextIOWrapper would drop the rest of the report and exit 0)."""
    from weightlens.cli import main

    _, full = tmpfs
    raw = io.FileIO(full / "out.json", "w")
    out = io.TextIOWrapper(io.BufferedWriter(raw) if buffered else raw, encoding="utf-8", write_through=not buffered)
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "argv", ["weightlens", "analyze", str(small), "-q", "-f", "json", "--full-spectrum"])
    try:
        with pytest.raises(SystemExit) as exit_:
            main()
    finally:
        out.close()  # flushes into /dev/null: weightlens pointed the descriptor there
    assert exit_.value.code == 2
    one_error_line(capsys.readouterr().err, "<stdout>", f"cannot write: {ENOSPC}")
