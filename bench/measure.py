"""Timing one command as its own process, for the benchmark scripts (not a test)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

# A small process starts the command and reports its child's peak RSS: the kernel's maxrss of a
# process forked from the benchmark itself would count the benchmark's own memory from before the
# exec (a benchmark holding a generated million-record export in memory reported 7.7 GB for a
# migrate whose VmHWM was 1.3 GB).
LAUNCHER = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
with open(sys.argv[1], "w") as fh:
    fh.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status) % 256)
"""


def measure(cmd: list[str], ok: tuple[int, ...] = (0, 1), log: list[str] | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in GB (wait4's rusage of the command, started by a small launcher) and
    stdout of one process. Exit codes outside ``ok`` stop the benchmark (1: over a threshold, or differences found —
    still a complete run). ``log``, when given, receives the lines of standard error."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
            tempfile.TemporaryDirectory() as tmp:
        peak = os.path.join(tmp, "maxrss")
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, peak, *cmd], stdout=out, stderr=err, text=True)
        code = proc.wait()
        wall = time.perf_counter() - t
        with open(peak) as fh:
            maxrss_kb = int(fh.read())
        out.seek(0)
        err.seek(0)
        if log is not None:
            log.extend(err.read().splitlines())
            err.seek(0)
        if code not in ok:
            raise SystemExit(f"{' '.join(cmd[:6])} failed ({code}):\n{err.read()[-2000:]}")
        return wall, maxrss_kb / 1024 / 1024, out.read()
