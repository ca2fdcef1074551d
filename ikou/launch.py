"""The `ikou` command's entry point: the memory allocators set up before anything heavy loads.

A migration frees and reallocates chunk-sized buffers all the time. With the allocators' defaults
the freed pages go back to the system at once and are faulted in again for the next chunk: on a
million residents ~1.7 million page faults, a sixth of all CPU time spent in the kernel. Two
allocators are involved:

- polars' (jemalloc) reads ``_RJEM_MALLOC_CONF`` once, when polars loads, so it has to be set
  before the first ``import polars``: this module imports nothing of ikou until it is set;
- glibc's malloc (Python's strings, the CP932 decode, DuckDB, pyarrow) is tuned by ``mallopt``:
  mmap only above 32 MB, keep up to 2 GB of freed heap and grow it 256 MB at a time.

Measured in three interleaved rounds on 1M residents (docs/development.md): 39–41 s with neither,
29–38 s with both, system time 11–13 → 4–6 s, peak RSS 0.97–1.05 → 1.35–1.55 GB. A value the user set wins:
``_RJEM_MALLOC_CONF`` as set, and each glibc setting whose ``MALLOC_*_`` variable is set is left to
glibc (docs/cli.md says how to give the memory back on a machine short of it).
"""

from __future__ import annotations

import ctypes
import os
import sys

JEMALLOC = ("_RJEM_MALLOC_CONF", "dirty_decay_ms:10000,muzzy_decay_ms:10000")
# mallopt parameter numbers (malloc.h), the environment variable that sets each, and ikou's value
GLIBC = (
    (-1, "MALLOC_TRIM_THRESHOLD_", 2**31 - 1),       # M_TRIM_THRESHOLD: mallopt takes an int
    (-2, "MALLOC_TOP_PAD_", 256 * 1024 * 1024),      # M_TOP_PAD
    (-3, "MALLOC_MMAP_THRESHOLD_", 32 * 1024 * 1024),  # M_MMAP_THRESHOLD: glibc's largest on 64 bits
)


def glibc_mallopt():
    """glibc's ``mallopt``, or None where the C library is not glibc (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)  # the interpreter's own symbols, libc's among them (no ldconfig run)
        if not hasattr(libc, "gnu_get_libc_version"):
            return None
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt


def set_up_allocators(environ=os.environ, mallopt=None, jemalloc: str = JEMALLOC[1]) -> list[str]:
    """Apply the settings the user has not chosen; returns what was applied (for the tests).

    ``mallopt`` defaults to glibc's own; a test passes a recorder, or another ``jemalloc`` value."""
    applied = []
    if JEMALLOC[0] not in environ:
        environ[JEMALLOC[0]] = jemalloc
        applied.append(JEMALLOC[0])
    mallopt = mallopt or glibc_mallopt()
    if mallopt is not None:
        for param, variable, value in GLIBC:
            if variable not in environ and mallopt(param, value) == 1:
                applied.append(variable)
    return applied


def main(jemalloc: str = JEMALLOC[1]) -> None:
    set_up_allocators(jemalloc=jemalloc)
    from ikou.cli import main as cli_main  # loads polars: only now

    cli_main()


if __name__ == "__main__":
    main()
