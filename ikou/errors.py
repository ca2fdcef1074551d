"""The one error type of ikou and its documented exit codes (see docs/cli.md)."""

from __future__ import annotations

from enum import IntEnum


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
        lines = [f"error: {self.message}"]
        lines += [f"  - {p}" for p in self.problems]
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)
