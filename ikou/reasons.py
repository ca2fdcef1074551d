"""Reason and alert codes as data (``ikou/catalog/reasons.yaml``): each code's kind, its place in
the priority order, and its message in English and Japanese.

Every code ikou emits (row stages, pandera checks, extractors, household and dedup rules, a
layout's ``references``) is one of these; the stages take the priority from here, ``describe``
the messages, JUnit and the reports the Japanese text, ``docs/reasons.md`` is rendered from it.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

from ikou.config.base import FileModel, load_yaml, validate_file

Kind = Literal["reject", "alert", "merge", "either"]


class Reason(FileModel):
    """One code: what kind of finding it is and what it says (``{}``: the offending value)."""
    code: str
    kind: Kind
    en: str
    ja: str


class ReasonCatalog(FileModel):
    reasons: list[Reason]


@cache
def catalog() -> dict[str, Reason]:
    """Every code, in priority order (most specific first)."""
    text = resources.files("ikou.catalog").joinpath("reasons.yaml").read_text(encoding="utf-8")
    problems: list[str] = []
    model = validate_file(ReasonCatalog, load_yaml(text), "ikou/catalog/reasons.yaml", problems)
    if problems or model is None:  # the package's own file: a defect, not a user's mistake
        raise RuntimeError("; ".join(problems))
    codes = [r.code for r in model.reasons]
    if len(set(codes)) != len(codes):
        raise RuntimeError(f"reasons.yaml lists a code twice: {sorted(c for c in codes if codes.count(c) > 1)}")
    return {r.code: r for r in model.reasons}


def priority() -> dict[str, int]:
    """code -> rank (0: most specific, reported first)."""
    return {code: i for i, code in enumerate(catalog())}


def is_known(code: str) -> bool:
    return code in catalog()


def reason(code: str) -> Reason:
    """The catalogue's entry; an unknown code is a defect in ikou (or a layout naming a code the
    catalogue lacks, which the layout check reports first)."""
    try:
        return catalog()[code]
    except KeyError:
        raise KeyError(f"reason code {code!r} is not in ikou/catalog/reasons.yaml") from None


def render_markdown() -> str:
    """docs/reasons.md: the catalogue as a table (``make generated`` rewrites it)."""
    kinds = {"reject": "reject", "alert": "alert", "merge": "merged", "either": "reject or alert (level)"}
    lines = ["# Reason and alert codes / 理由コード", "",
             "Generated from `ikou/catalog/reasons.yaml` by `ikou reasons --markdown` (`make generated`): do not",
             "edit by hand. Listed in priority order: when a value breaks several rules the first one listed is",
             "reported, and a rejected record's primary reason is its first item's first code. `{}` stands for",
             "the offending value. `either`: the level comes from the layout (`level:` of the item or check) or",
             "the mapping (`checks:` overrides, code-table `unmapped:` policy).", "",
             "| code | kind | message | メッセージ |", "| --- | --- | --- | --- |"]
    for r in catalog().values():
        cell = lambda s: s.replace("|", "\\|")  # noqa: E731
        lines.append(f"| `{r.code}` | {kinds[r.kind]} | {cell(r.en)} | {cell(r.ja)} |")
    return "\n".join(lines) + "\n"
