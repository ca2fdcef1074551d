"""Where each item's value comes from in one source file (its *feed*), resolved against the
file's header, and the fate of every column of the file.

A feed turns the extractor's text columns into ``<item>__raw`` (the value before cleansing):
a column, a constant, columns joined (``concat``), a column looked up in a reference table
(``lookup``) or a part of a column (``split``). ``default_from`` and the standard's 不詳 items of
a date are applied later, on cleansed values (stages.py). Every column of the file is read by a
feed, declared under ``unmapped_columns`` (dropped with a reason, or kept in the row's
``extras``), or it is *unaccounted*: the run stops before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from ikou.cleansing.text import EDGE_SPACES
from ikou.i18n import tr
from ikou.layout import Table
from ikou.mapping import ItemMap, Mapping, Source, SplitSpec

EXTRAS = "extras"  # the landed map column of kept columns: column name -> original text
EXTRAS_DTYPE = pl.List(pl.Struct({"key": pl.String, "value": pl.String}))


@dataclass(frozen=True)
class Feed:
    item: str
    kind: str  # column | constant | concat | lookup | split | default (default_from alone)
    columns: tuple[str, ...] = ()  # the file's columns it reads, resolved
    spec: ItemMap | None = None
    split: int | None = None  # index of the split (kind split)


@dataclass(frozen=True)
class ColumnUse:
    """One column of a file and what becomes of it."""
    column: str
    fate: str  # mapped | kept | dropped | structural | unaccounted
    items: tuple[str, ...] = ()  # the items it feeds (mapped)
    reason: str = ""


@dataclass(frozen=True)
class Feeds:
    by_item: dict[str, Feed]
    splits: tuple[tuple[SplitSpec, str], ...]  # each split with its resolved column
    kept: tuple[str, ...]  # columns landing in extras
    columns: tuple[ColumnUse, ...] = field(default=())

    @property
    def fed(self) -> set[str]:
        return set(self.by_item)

    @property
    def unaccounted(self) -> list[str]:
        return [c.column for c in self.columns if c.fate == "unaccounted"]

    @property
    def counted(self) -> list[str]:
        """The columns whose values are reconciled one by one (pipeline/values.py): mapped and kept."""
        return [c.column for c in self.columns if c.fate in ("mapped", "kept")]

    def direct_item(self, column: str) -> str | None:
        """The one item a column feeds as it is (kind column), or None (split, concat, lookup,
        several items, kept): its ``<item>__raw`` is then the column's value."""
        use = next((c for c in self.columns if c.column == column), None)
        if use is None or use.fate != "mapped" or len(use.items) != 1:
            return None
        feed = self.by_item[use.items[0]]
        return feed.item if feed.kind == "column" else None


def resolve_feeds(mapping: Mapping, source: Source, table: Table, header: list[str], display: str,
                  duplicates: list[str], structural: tuple[str, ...], problems: list[str],
                  missing: list[str] | None = None) -> Feeds:
    """Resolve every item map against a file's header; problems (missing columns, a position
    beyond the last column, a column named twice in the header) are appended, and the names of
    missing columns to ``missing``."""

    def column(ref: str | int, what: str) -> str | None:
        if isinstance(ref, int):
            if ref > len(header):
                problems.append(tr("{display}: {what} reads column {ref}, but the file has {count} columns",
                                   display=display, what=what, ref=ref, count=len(header)))
                return None
            return header[ref - 1]
        if ref in duplicates:
            problems.append(tr("{display}: column {ref!r} ({value}) appears more than once in the header",
                               display=display, ref=ref, value=what.split(' (')[0]))
            return None
        if ref not in header:
            problems.append(tr("{display}: missing column {ref!r} for {what}", display=display, ref=ref, what=what))
            if missing is not None:
                missing.append(ref)
            return None
        return ref

    by_item: dict[str, Feed] = {}
    for im in source.items:
        item = table.item(im.item)
        what = f"item {im.item} ({item.name_ja})" + (" — a required item" if item.required else "")
        cols = tuple(c for c in (column(ref, what) for ref in im.columns) if c is not None)
        if len(cols) < len(im.columns):
            continue
        kind = ("constant" if im.value is not None else "concat" if im.concat else "lookup" if im.lookup
                else "column" if im.column is not None else "default")
        by_item[im.item] = Feed(im.item, kind, cols, im)
    splits = []
    for j, sp in enumerate(source.splits):
        col = column(sp.column, f"split into {', '.join(sp.items)}")
        if col is None:
            continue
        splits.append((sp, col))
        for item in sp.items:
            by_item[item] = Feed(item, "split", (col,), split=j)
    read: dict[str, list[str]] = {}
    for feed in by_item.values():
        for c in feed.columns:
            read.setdefault(c, []).append(feed.item)
    fates = {f.column: f for f in source.unmapped_columns}
    for name in fates:
        if name not in header:
            problems.append(tr("{display}: unmapped_columns names {name!r}, which the file does not have (the header "
                               "has {header})", display=display, name=name,
                               header=", ".join(header[:12]) + (" …" if len(header) > 12 else "")))
    uses = []
    for name in header:
        if name in read:
            uses.append(ColumnUse(name, "mapped", tuple(read[name])))
        elif name in fates:
            f = fates[name]
            uses.append(ColumnUse(name, "kept" if f.fate == "keep" else "dropped", (), f.reason))
        elif name in structural:
            uses.append(ColumnUse(name, "structural", (), "read by the extractor (record type)"))
        else:
            uses.append(ColumnUse(name, "unaccounted"))
    kept = tuple(u.column for u in uses if u.fate == "kept")
    return Feeds(by_item=by_item, splits=tuple(splits), kept=kept, columns=tuple(uses))


def _trimmed(e: pl.Expr) -> pl.Expr:
    return e.str.strip_chars(EDGE_SPACES)


def _nonempty(e: pl.Expr) -> pl.Expr:
    return pl.when(e != "").then(e)


def _has(e: pl.Expr) -> pl.Expr:
    return (e.is_not_null() & (e != "")).fill_null(False)


def raw_columns(mapping: Mapping, feeds: Feeds) -> list[pl.Expr]:
    """``<item>__raw`` for every fed item, plus the flags the split and lookup issues need, and
    ``extras``. Items fed by default_from alone start empty. For the value reconciliation, per
    counted column k: ``__has<k>`` (its value is not empty) and ``__blank<k>`` (spaces only)."""
    out: list[pl.Expr] = []
    for k, c in enumerate(feeds.counted):
        if feeds.direct_item(c) is None:  # a direct column's __raw is its value: no flags needed
            out += [_has(pl.col(c)).alias(f"__has{k}"),
                    (_has(pl.col(c)) & (_trimmed(pl.col(c)) == "")).fill_null(False).alias(f"__blank{k}")]
    for sp_index, (sp, col) in enumerate(feeds.splits):
        value = _trimmed(pl.col(col))
        anchored = f"^(?:{sp.pattern})$"
        groups = value.str.extract_groups(anchored)
        for item in sp.items:
            out.append(_nonempty(groups.struct.field(item)).alias(f"{item}__raw"))
        out += [((value != "") & ~value.str.contains(anchored)).fill_null(False).alias(f"__split{sp_index}__miss"),
                pl.col(col).alias(f"__split{sp_index}__text")]
    for feed in feeds.by_item.values():
        im = feed.spec
        if feed.kind == "split" or im is None:
            continue
        raw = f"{feed.item}__raw"
        if feed.kind == "constant":
            out.append(pl.lit(im.value, pl.String).alias(raw))
        elif feed.kind == "column":
            out.append(pl.col(feed.columns[0]).alias(raw))
        elif feed.kind == "concat":
            parts = [_nonempty(_trimmed(pl.col(c))) for c in feed.columns]
            out.append(_nonempty(pl.concat_str(parts, separator=im.separator or "", ignore_nulls=True)).alias(raw))
        elif feed.kind == "lookup":
            table = mapping.lookups[im.lookup]
            key = _nonempty(_trimmed(pl.col(feed.columns[0])))
            found = key.replace_strict(table.entries, default=None, return_dtype=pl.String)
            out += [found.alias(raw), key.alias(f"{feed.item}__lookup_key"),
                    (key.is_not_null() & found.is_null()).alias(f"{feed.item}__lookup_miss")]
        else:  # default_from alone: empty until the other item's value is taken
            out.append(pl.lit(None, pl.String).alias(raw))
    if feeds.kept:
        pairs = [pl.struct(pl.lit(c).alias("key"), pl.col(c).alias("value")) for c in feeds.kept]
        value = pl.element().struct.field("value")
        out.append(pl.concat_list(pairs).list.eval(pl.element().filter(value.is_not_null() & (value != "")))
                   .alias(EXTRAS))
    else:
        out.append(pl.lit(None, EXTRAS_DTYPE).alias(EXTRAS))
    return out
