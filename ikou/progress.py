"""Progress of a long command, phase by phase, for the person or the log watching it.

The pipeline says when a phase starts (``phase``) and, where it can count, how far it is
(``advance``: bytes done of the total, records so far). How it is shown depends on where
standard error goes:
- a terminal: one line per phase, redrawn in place (percent, records, rate, ETA), left standing
  with the phase's time when it ends;
- a file or a CI log: a line when a phase starts, one at every further tenth of a counted
  phase, one when it ends (a CI log moves; a reader sees where the time went);
- ``--log-format json``: the same events as one JSON object a line;
- ``--quiet``: nothing.
Progress never writes to standard output (that is where ``--json`` results go)."""

from __future__ import annotations

import json
import threading
import time
from typing import IO, Protocol

from ikou.i18n import tr
from ikou.textwidth import pad_display


class Progress(Protocol):
    def phase(self, name: str, **values: object) -> None: ...

    def advance(self, done: int, total: int, records: int | None = None) -> None: ...

    def note(self, text: str) -> None: ...

    def finish(self, ok: bool = True) -> None: ...


class NoProgress:
    def note(self, text: str) -> None:
        pass

    def phase(self, name: str, **values: object) -> None:
        pass

    def advance(self, done: int, total: int, records: int | None = None) -> None:
        pass

    def finish(self, ok: bool = True) -> None:
        pass


class _Timed:
    """What every rendering shares: the current phase, when it started, how far it is."""

    def __init__(self, stream: IO[str], prefix: str = "", clock=time.monotonic):
        self.stream, self.prefix, self.clock = stream, prefix, clock
        self.name: str | None = None  # English, as JSON logs carry it
        self.label = ""  # the name in the language of the messages, as a person reads it
        self.started = 0.0
        self.done = self.total = 0
        self.records: int | None = None

    def phase(self, name: str, **values: object) -> None:
        """A new phase; ``name`` is an English template of the message catalogue, filled with
        ``values`` (``phase("resolve {table}", table="resident")``)."""
        self._end()
        self.name = name.format(**values) if values else name
        self.label = tr(name, **values)
        self.started = self.clock()
        self.done = self.total = 0
        self.records = None
        self._started()

    def advance(self, done: int, total: int, records: int | None = None) -> None:
        if self.name is None:
            return
        self.done, self.total, self.records = done, max(total, 1), records
        self._advanced()

    def note(self, text: str) -> None:
        """A line of its own within the phase (e.g. a group's member that ended)."""
        self._noted(text)

    def _noted(self, text: str) -> None:
        self._write(f"ikou: {self.prefix}{text}\n")

    def finish(self, ok: bool = True) -> None:
        """The last phase ends; ``ok=False``: the command stopped in it (an error follows)."""
        if ok:
            self._end()
        elif self.name is not None:
            self._stopped(self.clock() - self.started)
        self.name = None

    def _end(self) -> None:
        if self.name is not None:
            self._ended(self.clock() - self.started)

    def _stopped(self, seconds: float) -> None:
        self._write(f"ikou: {self.prefix}" + tr("{phase} stopped after {seconds:.1f} s", phase=self.label, seconds=seconds)
                    + "\n")

    def elapsed(self) -> float:
        return self.clock() - self.started

    def eta(self) -> float | None:
        if not self.done or self.done >= self.total:
            return None
        return self.elapsed() * (self.total - self.done) / self.done

    def counts(self) -> str:
        if self.records is None:
            return ""
        rate = self.records / self.elapsed() if self.elapsed() > 0 else 0
        return tr("{records:,} records, {rate:,.0f}/s", records=self.records, rate=rate)

    def _started(self) -> None: ...

    def _advanced(self) -> None: ...

    def _ended(self, seconds: float) -> None: ...

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


class LineProgress(_Timed):
    """A line per phase start and end, and at each further tenth of a counted phase."""

    def __init__(self, stream: IO[str], prefix: str = "", clock=time.monotonic, step: float = 0.1):
        super().__init__(stream, prefix, clock)
        self.step, self.shown = step, 0

    def _started(self) -> None:
        self.shown = 0
        self._write(f"ikou: {self.prefix}{self.label} …\n")

    def _advanced(self) -> None:
        tenth = int(self.done / self.total / self.step)
        if tenth > self.shown and self.done < self.total:
            self.shown = tenth
            eta = self.eta()
            self._write(f"ikou: {self.prefix}{self.label} {self.done / self.total:4.0%}"
                        + (f", {self.counts()}" if self.records is not None else "")
                        + (tr(", about {seconds:.0f} s to go", seconds=max(eta, 1)) if eta is not None else "")
                        + "\n")

    def _ended(self, seconds: float) -> None:
        self._write(f"ikou: {self.prefix}" + tr("{phase} done in {seconds:.1f} s", phase=self.label, seconds=seconds)
                    + (f" ({self.counts()})" if self.records is not None else "") + "\n")


class TerminalProgress(_Timed):
    """One line per phase, redrawn in place at most ten times a second, and every half second by
    a ticker while a phase has nothing to count (名寄せ at a million records takes a minute: its
    clock must be seen to move)."""

    TICK = 0.5

    def __init__(self, stream: IO[str], prefix: str = "", clock=time.monotonic, ticker: bool = True):
        super().__init__(stream, prefix, clock)
        self.drawn = 0.0
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="ikou-progress", daemon=True) if ticker else None

    def _tick(self) -> None:
        while not self._stop.wait(self.TICK):
            with self._guard:
                if self.name is not None and self.clock() - self.drawn >= self.TICK:
                    self._draw()

    def _line(self) -> str:
        pct = f"{self.done / self.total:4.0%}" if self.total else "    "
        eta = self.eta()
        return (f"{self.prefix}{pad_display(self.label, 18)} {pct}  {pad_display(self.counts(), 32)}"
                + (f"  ETA {eta:4.0f} s" if eta is not None else f"  {self.elapsed():6.1f} s"))

    def _draw(self) -> None:
        self.drawn = self.clock()
        self._write("\r" + self._line() + "\x1b[K")

    def phase(self, name: str, **values: object) -> None:
        with self._guard:
            super().phase(name, **values)
        if self._ticker is not None and not self._ticker.is_alive() and not self._stop.is_set():
            self._ticker.start()

    def advance(self, done: int, total: int, records: int | None = None) -> None:
        with self._guard:
            super().advance(done, total, records)

    def note(self, text: str) -> None:
        with self._guard:
            super().note(text)

    def finish(self, ok: bool = True) -> None:
        self._stop.set()
        with self._guard:
            super().finish(ok)

    def _started(self) -> None:
        self._draw()

    def _advanced(self) -> None:
        if self.clock() - self.drawn >= 0.1:
            self._draw()

    def _ended(self, seconds: float) -> None:
        done = (f"{self.prefix}{pad_display(self.label, 18)} {pad_display(tr('done'), 4)}  "
                f"{pad_display(self.counts(), 32)}  {seconds:6.1f} s")
        self._write("\r" + done + "\x1b[K\n")

    def _stopped(self, seconds: float) -> None:
        self._write("\n")  # the message that follows starts on a line of its own

    def _noted(self, text: str) -> None:
        self._write("\r" + f"{self.prefix}{text}" + "\x1b[K\n" + self._line())


class JsonProgress(_Timed):
    """The events as JSON lines: {"event": "phase"|"progress"|"done", "phase", …}."""

    def __init__(self, stream: IO[str], prefix: str = "", clock=time.monotonic, step: float = 0.1):
        super().__init__(stream, prefix, clock)
        self.step, self.shown, self.member = step, 0, prefix.rstrip(": ") or None

    def _emit(self, **fields) -> None:
        fields = {"event": fields.pop("event"), "phase": self.name,
                  **({"member": self.member} if self.member else {}), **fields}
        self._write(json.dumps(fields, ensure_ascii=False) + "\n")

    def _started(self) -> None:
        self.shown = 0
        self._emit(event="phase")

    def _advanced(self) -> None:
        tenth = int(self.done / self.total / self.step)
        if tenth > self.shown and self.done < self.total:
            self.shown = tenth
            self._emit(event="progress", fraction=round(self.done / self.total, 3), records=self.records,
                       seconds=round(self.elapsed(), 3))

    def _ended(self, seconds: float) -> None:
        self._emit(event="done", seconds=round(seconds, 3), records=self.records)

    def _stopped(self, seconds: float) -> None:
        self._emit(event="stopped", seconds=round(seconds, 3))

    def _noted(self, text: str) -> None:
        self._emit(event="note", text=text)


def progress_for(stream: IO[str], quiet: bool = False, log_format: str = "text", prefix: str = "") -> Progress:
    """The rendering for ``stream`` (standard error), as the module doc says."""
    if quiet:
        return NoProgress()
    if log_format == "json":
        return JsonProgress(stream, prefix)
    isatty = getattr(stream, "isatty", None)
    return TerminalProgress(stream, prefix) if isatty is not None and isatty() else LineProgress(stream, prefix)


def for_command(prefix: str = "") -> Progress:
    """The progress of the running ikou command: standard error, as its --quiet and --log-format
    (the ``ikou`` group's options, kept on the root context's object) say."""
    import sys

    import click

    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    return progress_for(sys.stderr, getattr(obj, "quiet", False), getattr(obj, "log_format", "text"), prefix)
