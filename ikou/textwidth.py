"""Display width of text in a terminal: East Asian wide and full-width characters take two
columns, so Japanese tables are padded by width, not by character count."""

from __future__ import annotations

import unicodedata


def display_width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def pad_display(s: str, n: int) -> str:
    """``s`` padded with spaces to ``n`` display columns."""
    return s + " " * max(0, n - display_width(s))
