"""Display width of text in a terminal: East Asian wide and full-width characters take two
columns, so Japanese tables are padded by width, not by character count."""

from __future__ import annotations

import unicodedata


def display_width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def pad_display(s: str, n: int) -> str:
    """``s`` padded with spaces to ``n`` display columns."""
    return s + " " * max(0, n - display_width(s))


def rjust_display(s: str, n: int) -> str:
    """``s`` right-aligned in ``n`` display columns."""
    return " " * max(0, n - display_width(s)) + s


def fate_table(rows: list[tuple[str, int, int, int, int, int, bool]], excluded: bool = False) -> list[str]:
    """The per-file record table of the text summary and report (file, source, landed, rejected,
    merged, excluded, reconciled), the first column padded by display width: a Japanese file name
    takes two columns a character. The excluded column is shown when the run has a scope."""
    from ikou.i18n import tr

    head = (tr("file"), tr("source"), tr("landed"), tr("rejected"), tr("merged"), tr("excluded"), tr("reconciled"))
    width = max([display_width(head[0])] + [display_width(r[0]) for r in rows])
    numbers = 5 if excluded else 4

    def line(cells: tuple) -> str:
        return (f"  {pad_display(str(cells[0]), width)}  " + "  ".join(rjust_display(str(c), 10)
                                                                       for c in cells[1:1 + numbers])
                + f"  {cells[6]}")
    return [line(head)] + [line((*r[:6], tr("yes") if r[6] else tr("NO"))) for r in rows]


# 禁則: not at the start of a line / not at its end
_NO_START = set("、。，．・：；？！）」』】〕〉》ー々ゝゞ…‥,.:;?!)]}%")
_NO_END = set("（「『【〔〈《([{")


def wrap_display(text: str, width: int) -> list[str]:
    """``text`` (one paragraph) in lines of at most ``width`` display columns: English breaks at
    spaces, Japanese between any two wide characters (except where 禁則 forbids); a word longer
    than a line stands on its own line."""
    units: list[str] = []  # pieces a line may break after
    for part in text.split(" "):
        word = ""
        for ch in part:
            if display_width(ch) == 2 and ch not in _NO_START:
                if word and word[-1] not in _NO_END:
                    units.append(word)
                    word = ""
            elif ch in _NO_START or display_width(ch) == 1:
                pass
            word += ch
        units.append(word + " ")
    lines, line = [], ""
    for unit in units:
        if line and display_width((line + unit).rstrip()) > width:
            lines.append(line.rstrip())
            line = unit.lstrip() if line.endswith(" ") else unit
        else:
            line += unit
    if line.strip():
        lines.append(line.rstrip())
    return lines
