"""The review queue as a page for people (名寄せの確認): each pair's two records side by side,
the characters that differ marked, and what the model saw (evidence), most probable first.
Written beside the review CSV (OUT/review/<code>/review_queue_<table>.html); the decisions are
still written in the CSV, which ``ikou review collect`` reads."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class Cell:
    parts: tuple[tuple[str, bool], ...]  # (text, differs from the other side)


@dataclass(frozen=True)
class Row:
    label: str
    left: Cell
    right: Cell
    differs: bool


@dataclass(frozen=True)
class Pair:
    pair_key: str
    probability: float
    weight: float
    evidence: tuple[str, ...]
    held: str | None
    where: tuple[str, str]
    rows: tuple[Row, ...]


def marked(a: str | None, b: str | None) -> tuple[Cell, Cell]:
    """The two values split into runs, each run marked where it differs from the other side."""
    a, b = a or "", b or ""
    if a != b and a.isdigit() and b.isdigit():  # two numbers (宛名番号, 住民票コード) differ as a whole
        return Cell(((a, True),)), Cell(((b, True),))
    left, right = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if i2 > i1:
            left.append((a[i1:i2], op != "equal"))
        if j2 > j1:
            right.append((b[j1:j2], op != "equal"))
    return Cell(tuple(left)), Cell(tuple(right))


def pairs(queue: pl.DataFrame, items: list[tuple[str, str]]) -> list[Pair]:
    """``queue``: the review CSV's frame (column ids); ``items``: (item id, label) in display order."""
    out = []
    for r in queue.iter_rows(named=True):  # a few thousand pairs at most: for people, not a hot path
        rows = []
        for item, label in items:
            a, b = r.get(f"{item}_1"), r.get(f"{item}_2")
            if not a and not b:  # an item neither record has (旧氏, 通称 …) says nothing
                continue
            left, right = marked(a, b)
            rows.append(Row(label, left, right, (a or "") != (b or "")))
        parts = (r.get("evidence") or "").split("; ")
        held = next((p[len("held: "):] for p in parts if p.startswith("held: ")), None)
        out.append(Pair(r["pair_key"], r["match_probability"], r["match_weight"],
                        tuple(p for p in parts if p and not p.startswith("held: ")), held,
                        (f"{r.get('source_file_1')}:{r.get('source_line_1')}",
                         f"{r.get('source_file_2')}:{r.get('source_line_2')}"), tuple(rows)))
    return out


PAGE_PAIRS = 1000  # a page a browser opens at once; the CSV holds every pair


def write(path, queue: pl.DataFrame, items: list[tuple[str, str]], title: str, limit: int = PAGE_PAIRS) -> None:
    """The page for the first ``limit`` pairs (most probable first), streamed to ``path``."""
    from ikou.reconciliation.render import environment
    shown = pairs(queue.head(limit), items)
    template = environment().get_template("review.html.j2")
    with open(path, "w", encoding="utf-8") as out:
        for chunk in template.generate(title=title, pairs=shown, total=queue.height):
            out.write(chunk)
