"""Timing one command as its own process, for the benchmark scripts (not a test)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time


def measure(cmd: list[str], ok: tuple[int, ...] = (0, 1)) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in GB (wait4's rusage of that child) and stdout of one process.
    Exit codes outside ``ok`` stop the benchmark (1: over a threshold, or differences found —
    still a complete run)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if code not in ok:
            raise SystemExit(f"{' '.join(cmd[:6])} failed ({code}):\n{err.read()[-2000:]}")
        return wall, usage.ru_maxrss / 1024 / 1024, out.read()
