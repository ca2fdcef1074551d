"""The one error type of ikou and its documented exit codes (see docs/cli.md)."""

from __future__ import annotations

import errno
from enum import IntEnum

from ikou.i18n import mark, tr


class ExitCode(IntEnum):
    OK = 0  # done; every record reconciled; rejects within the mapping's threshold
    OVER_THRESHOLD = 1  # done and landed, but rejects exceeded the mapping's threshold
    BAD_INPUT = 2  # bad input or configuration: nothing was written
    INTERNAL = 3  # reconciliation failed or an internal error: nothing was landed
    INTERRUPTED = 130  # interrupted by the user (Ctrl-C): previous output intact


class IkouError(Exception):
    """A problem a user can act on. ``problems`` lists every finding, reported all at once."""

    def __init__(self, message: str, *, exit_code: ExitCode = ExitCode.BAD_INPUT,
                 problems: list[str] | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.problems = list(problems or [])
        self.hint = hint

    def render(self) -> str:
        """The message for a person: 個人番号-like digit runs masked (a value quoted in a problem)."""
        from ikou.masking import mask_number_like

        lines = [tr("error: {message}", message=self.message)]
        lines += [f"  - {p}" for p in self.problems]
        if self.hint:
            lines.append(tr("hint: {hint}", hint=self.hint))
        return mask_number_like("\n".join(lines))

    def render_json(self) -> str:
        """The same as one JSON object (--log-format json, --json), masked as ``render``."""
        import json

        from ikou.masking import mask_number_like

        return json.dumps({"error": mask_number_like(self.message),
                           "problems": [mask_number_like(p) for p in self.problems],
                           "hint": mask_number_like(self.hint) if self.hint else None,
                           "exit_code": int(self.exit_code)}, ensure_ascii=False)


# what the operating system says when the environment, not ikou, is at fault (English keys of the
# message catalogue: translated where the error is rendered)
_ENVIRONMENT = {
    errno.ENOSPC: (mark("the disk is full"), mark("free space (or choose another --out) and rerun")),
    errno.EDQUOT: (mark("the disk quota is exceeded"), mark("free space (or choose another --out) and rerun")),
    errno.EACCES: (mark("permission denied"), mark("check who may read and write this path")),
    errno.EPERM: (mark("operation not permitted"), mark("check who may read and write this path")),
    errno.EROFS: (mark("the file system is read-only"), mark("choose a writable --out")),
    errno.ENOTDIR: (mark("a part of this path is a file, not a folder"), mark("give a folder path")),
    errno.EISDIR: (mark("this is a folder, where a file is expected"), mark("give a file path")),
    errno.ENOENT: (mark("no such file or folder"), mark("check the path")),
    errno.EEXIST: (mark("a file of this name is in the way"), mark("give a folder path, or remove the file")),
    errno.ENAMETOOLONG: (mark("the path is too long"), mark("choose a shorter path")),
    errno.EMFILE: (mark("too many open files"), mark("raise the open-file limit (ulimit -n) and rerun")),
}
_DUCKDB_SIGNS = (("No space left", mark("the disk is full"), mark("free space (or choose another --out) and rerun")),
                 ("Permission denied", mark("permission denied"), mark("check who may read and write OUT")),
                 ("Read-only file system", mark("the file system is read-only"), mark("choose a writable --out")),
                 ("not a valid DuckDB database", mark("OUT's ikou.duckdb is not a DuckDB database file"),
                  mark("give the --out folder of an ikou run, or an empty or new folder")),
                 ("Could not set lock", mark("another process holds OUT's ikou.duckdb open"),
                  mark("wait for it to end (ikou serialises its own runs), then rerun")))


def as_user_error(exc: BaseException) -> IkouError | None:
    """The IkouError for an error the user's environment caused (a full disk, a read-only or
    missing folder, a file that is not what it should be): exit 2, with the path and what to do.
    None for everything else (a defect of ikou: exit 3)."""
    if isinstance(exc, IkouError):
        return exc
    if isinstance(exc, OSError) and exc.errno in _ENVIRONMENT:
        what, todo = _ENVIRONMENT[exc.errno]
        paths = " -> ".join(str(p) for p in (exc.filename, exc.filename2) if p)
        return IkouError(f"{tr(what)}: {paths}" if paths else tr(what),
                         hint=tr("{todo}; OUT keeps its previous state (a landing interrupted after its commit is "
                                 "finished by the next ikou command on it)", todo=tr(todo)))
    try:
        import duckdb
    except ImportError:  # pragma: no cover - duckdb is a dependency
        return None
    if isinstance(exc, duckdb.Error):
        text = str(exc)
        for sign, what, todo in _DUCKDB_SIGNS:
            if sign in text:
                return IkouError(f"{tr(what)} ({text.splitlines()[0][:300]})", hint=tr(todo))
    return None


def is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C, as Python raises it or as DuckDB reports it from inside a running query (a broad
    ``except Exception`` would otherwise swallow it and the run would go on)."""
    import duckdb
    seen = set()
    while exc is not None and id(exc) not in seen:  # a library may wrap it (splink: SplinkException from it)
        if isinstance(exc, (KeyboardInterrupt, duckdb.InterruptException)):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def terminate_as_interrupt() -> None:
    """SIGTERM (a scheduler's stop, `kill`) ends the run as Ctrl-C does: exit 130 with OUT as it
    was, instead of Python's default of dying where it stands. DuckDB checks for a pending signal
    while a query runs, so the interrupt reaches a long query too."""
    import signal
    import threading

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, interrupt)
