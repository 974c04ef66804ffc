"""Running one benchmark: where it is, what to read when it stops, nothing left behind.

Every benchmark's ``main`` hands its body to :func:`run_bench`, which gives it a
scratch folder and a :class:`Run` to say which stage it is in and which logs
matter. When the body fails, or the run is told to stop (SIGTERM, SIGHUP, Ctrl-C:
what it started is stopped the same way), the benchmark prints the stage, the
error and the logs to read (the scratch folder is kept for them) and exits 1.
Either way it then looks for anything left behind: a process started during the
run (found by a marker in its environment, which every child inherits) is named
and killed, and anything left in the run's own temporary directory (``TMPDIR``
points into the scratch folder for the run and its children: sockets, buses,
locks) is named; both fail the run. ``--smoke`` runs every stage on a small scale,
in seconds: ``scripts/test`` does so, so that no benchmark rots unnoticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import shutil
import signal
import sys
import tempfile
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.bench.report import report

MARK = "STORE_GATEWAY_BENCH_RUN"
KEEP = "STORE_GATEWAY_BENCH_KEEP"  # set: the scratch folder (logs) is kept after a run that passed
Table = tuple[str, list[dict[str, Any]]]
Body = Callable[["Run"], Awaitable[list[Table]] | list[Table]]


@dataclass
class Run:
    name: str
    smoke: bool
    work: Path
    args: list[str]
    stage: str = "starting"
    logs: list[Path] = field(default_factory=list)

    def at(self, stage: str) -> None:
        """The run is now doing ``stage`` (named in the failure report if it stops there)."""
        self.stage = stage
        print(f"[{self.name}] {stage}", file=sys.stderr, flush=True)

    def note(self, text: str) -> None:
        """Something to read in a run that goes wrong (the stage stays as it is)."""
        print(f"[{self.name}]   {text}", file=sys.stderr, flush=True)

    def log(self, name: str) -> Path:
        """A log file in the scratch folder, listed in the failure report."""
        path = self.work / name
        self.logs.append(path)
        return path

    def folder(self, name: str) -> Path:
        path = self.work / name
        path.mkdir(parents=True, exist_ok=True)
        return path


class Interrupted(Exception):
    """The run was told to stop (SIGTERM, SIGHUP): it stops as if it had failed there, so
    that what it started is stopped and the report says where it was."""


def _interrupt(signum: int, _frame: object) -> None:
    raise Interrupted(f"{signal.Signals(signum).name} received")


def run_bench(name: str, body: Body, argv: list[str]) -> int:
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    smoke = "--smoke" in argv
    args = [a for a in argv if a != "--smoke"]
    os.environ[MARK] = uuid.uuid4().hex
    run = Run(name, smoke, Path(tempfile.mkdtemp(prefix=f"storegw-bench-{name}-")), args)
    temporary = run.folder("tmp")
    os.environ["TMPDIR"] = str(temporary)
    tempfile.tempdir = str(temporary)
    ok = True
    try:
        result = body(run)
        tables = asyncio.run(result) if inspect.isawaitable(result) else result  # type: ignore[arg-type]
        for table, rows in tables:
            report(table, rows)
    except (Exception, KeyboardInterrupt) as exc:  # the report: where, what, which logs
        ok = False
        print(f"\nbench {name}: stopped while {run.stage}: {type(exc).__name__}: {exc}")
        traceback.print_exc(limit=4)
        for log in run.logs:
            if log.exists():
                print(f"  log: {log}")
        print(f"  scratch folder kept: {run.work}")
    left = _left_behind(os.environ[MARK], temporary)
    if ok and not os.environ.get(KEEP):
        shutil.rmtree(run.work, ignore_errors=True)
    elif ok:
        print(f"  scratch folder kept ({KEEP} is set): {run.work}")
    for line in left:
        print(f"bench {name}: left behind: {line}")
    return 0 if ok and not left else 1


def _left_behind(mark: str, temporary: Path) -> list[str]:
    """Processes of this run still alive (killed now) and what is left in its TMPDIR."""
    out = []
    needle = f"{MARK}={mark}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            environ = (proc / "environ").read_bytes()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            out.append(f"process {proc.name}: {cmdline} (killed)")
            with contextlib.suppress(OSError):
                os.kill(int(proc.name), signal.SIGKILL)
    out += [str(path) for path in sorted(temporary.iterdir())]
    return out
