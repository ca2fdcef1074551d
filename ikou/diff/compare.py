"""Parallel-run diff (並行稼働の突合): two datasets compared by business key, in DuckDB, so that
it scales beyond memory. Duplicate keys are findings of their own and stay out of the
comparison; every other key is only-left, only-right, or matched (equal or differing, per
column rule).

Column rules (``Rule.kind``):
- ``exact``: equal as written (null equals null);
- ``numeric``: equal within ``tolerance`` (exact decimal arithmetic; a difference equal to the
  tolerance is equal); text that is not a number is compared as written;
- ``text``: equal after width folding (half-width kana → full-width, full-width ASCII → ASCII,
  U+3000 → space), runs of spaces made one and the ends trimmed;
- ``date``: equal as calendar dates, each side read in any form ikou knows (令和2年4月1日,
  R02.04.01, 2020-04-01, 20200401, 2020年4月1日 …); text that is no date is compared as written.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from ikou.db import quote_ident
from ikou.diff.sources import Side, register
from ikou.errors import IkouError
from ikou.i18n import tr
from ikou.masking import STARS

RULE_KINDS = ("exact", "numeric", "text", "date")


@dataclass(frozen=True)
class Rule:
    kind: str = "exact"
    tolerance: str = "0"  # numeric: as text, so that 0.1 stays exactly 0.1

    def describe(self) -> str:
        return f"numeric ±{self.tolerance}" if self.kind == "numeric" else self.kind


@dataclass(frozen=True)
class DiffSpec:
    keys: tuple[str, ...]  # left names
    column_map: tuple[tuple[str, str], ...] = ()  # (left name, right name) where they differ
    rules: tuple[tuple[str, Rule], ...] = ()  # left name -> rule (default exact)
    ignore: tuple[str, ...] = ()  # left names not compared
    samples: int = 20

    def rule(self, column: str) -> Rule:
        return dict(self.rules).get(column, Rule())


# -- SQL for the rules ---------------------------------------------------------------------------

def _text_macro() -> str:
    from ikou.cleansing.text import FULL_WIDTH_ALNUM, HALF_WIDTH_KANA

    pairs = {k: v for k, v in HALF_WIDTH_KANA.items() if len(k) == 2}
    singles = {k: v for k, v in HALF_WIDTH_KANA.items() if len(k) == 1}
    singles |= {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)} | FULL_WIDTH_ALNUM | {"\u3000": " "}
    expr = "x"
    for k, v in pairs.items():  # voiced pairs first: ｶﾞ is one character, ガ
        expr = f"replace({expr}, '{k}', '{v}')"
    src, dst = "".join(singles), "".join(singles[k] for k in singles)
    expr = f"translate({expr}, '{src.replace(chr(39), chr(39) * 2)}', '{dst.replace(chr(39), chr(39) * 2)}')"
    return f"create or replace temp macro ikou_text(x) as nullif(trim(regexp_replace({expr}, '\\s+', ' ', 'g')), '')"


def _register_date_function(con: duckdb.DuckDBPyConnection) -> None:

    from ikou.cleansing.dates import PATTERNS, parse_dates
    from ikou.mapping import ERA_CONVENTIONS

    forms = tuple(f for f in PATTERNS if f not in ("wareki_numeric", "wareki_numeric8", "excel_serial"))

    def ikou_date(values):
        frame = pl.DataFrame({"v": pl.Series(values, dtype=pl.String)}).lazy()
        out = parse_dates(frame, [("v", "d", forms)], ERA_CONVENTIONS["1-5"]).select("d").collect()
        return out["d"].to_arrow()

    con.create_function("ikou_date", ikou_date, ["VARCHAR"], "DATE", type="arrow", side_effects=False)


def _differs(column: str, rule: Rule, same_type: bool) -> str:
    lc, rc = f"l.{quote_ident(column)}", f"r.{quote_ident(column)}"
    lt, rt = (lc, rc) if same_type else (f"cast({lc} as varchar)", f"cast({rc} as varchar)")
    if rule.kind == "numeric":
        ln, rn = f"try_cast(trim(cast({lc} as varchar)) as decimal(38, 10))", \
                 f"try_cast(trim(cast({rc} as varchar)) as decimal(38, 10))"
        return (f"(case when {ln} is not null and {rn} is not null then abs({ln} - {rn}) > "
                f"cast('{rule.tolerance}' as decimal(38, 10)) else {lt} is distinct from {rt} end)")
    if rule.kind == "text":
        return f"(ikou_text(cast({lc} as varchar)) is distinct from ikou_text(cast({rc} as varchar)))"
    if rule.kind == "date":
        ld, rd = f"ikou_date(cast({lc} as varchar))", f"ikou_date(cast({rc} as varchar))"
        return (f"(case when {ld} is not null and {rd} is not null then {ld} <> {rd} "
                f"else {lt} is distinct from {rt} end)")
    return f"({lt} is distinct from {rt})"


# -- the diff ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ColumnResult:
    column: str
    right_column: str
    rule: str
    differing: int


@dataclass(frozen=True)
class DiffResult:
    left: str
    right: str
    keys: tuple[str, ...]
    left_rows: int
    right_rows: int
    only_left: int
    only_right: int
    matched: int
    differing: int
    duplicate_keys: dict[str, int]  # side -> keys that occur more than once on that side
    duplicate_rows: dict[str, int]  # side -> rows with such a key (on either side): not compared
    columns: tuple[ColumnResult, ...]
    columns_only_left: tuple[str, ...]
    columns_only_right: tuple[str, ...]
    samples: dict[str, list[dict]] = field(default_factory=dict)  # only_left / only_right / differing / duplicate_keys
    seconds: float = 0.0

    @property
    def equal(self) -> bool:
        return not (self.only_left or self.only_right or self.differing or any(self.duplicate_keys.values()))


def prepare(con: duckdb.DuckDBPyConnection, left: Side, right: Side, spec: DiffSpec, work: Path
            ) -> tuple[list[str], list[str], dict[str, str]]:
    """Register both sides and check the spec against their columns: every problem at once."""
    lcols = register(con, "ikou_left_raw", left, work)
    rcols = register(con, "ikou_right_raw", right, work)
    to_right = dict(spec.column_map)
    problems = []
    for k in spec.keys:
        if k not in lcols:
            problems.append(tr("key column {k!r} is not in the left data ({describe})", k=k, describe=left.describe()))
        if to_right.get(k, k) not in rcols:
            problems.append(tr("key column {get!r} is not in the right data ({describe})",
                               get=to_right.get(k, k), describe=right.describe()))
    for lname, rname in spec.column_map:
        if lname not in lcols:
            problems.append(tr("--map {lname}={rname}: {lname!r} is not a left column", lname=lname, rname=rname))
        if rname not in rcols:
            problems.append(tr("--map {lname}={rname}: {rname!r} is not a right column", lname=lname, rname=rname))
    for col in spec.ignore:
        if col not in lcols:
            problems.append(tr("--ignore {col}: not a left column", col=col))
    for col, rule in spec.rules:
        if col not in lcols:
            problems.append(tr("rule for {col!r}: not a left column", col=col))
        if rule.kind not in RULE_KINDS:
            problems.append(tr("rule for {col!r}: {kind!r} is not one of {values}",
                               col=col, kind=rule.kind, values=', '.join(RULE_KINDS)))
    if problems:
        raise IkouError(tr("the diff's columns do not fit the data; nothing was compared"), problems=problems,
                        hint=tr("left columns: {values}; right columns: {values2}",
                                values=', '.join(lcols[:40]), values2=', '.join(rcols[:40])))
    # the right side under the left side's names
    from_right = {to_right.get(c, c): c for c in lcols}
    select = ", ".join(f"{quote_ident(c)} as {quote_ident(from_right[c])}" if c in from_right else quote_ident(c) for c in rcols)
    con.execute(f"create or replace temp view ikou_right_named as select {select} from ikou_right_raw")
    return lcols, rcols, to_right


def run_diff(con: duckdb.DuckDBPyConnection, left: Side, right: Side, spec: DiffSpec, work: Path) -> DiffResult:
    """Compare; leaves the full difference tables in ``con``'s database: diff_only_left,
    diff_only_right, diff_differing (keys, per-column flags, both values), diff_duplicate_keys,
    diff_columns."""
    t0 = time.perf_counter()
    lcols, _, to_right = prepare(con, left, right, spec, work)
    right_named = [r[0] for r in con.execute("describe ikou_right_named").fetchall()]
    keys = list(spec.keys)
    ltypes = dict(con.execute("select column_name, column_type from (describe ikou_left_raw)").fetchall())
    rtypes = dict(con.execute("select column_name, column_type from (describe ikou_right_named)").fetchall())
    compared = [c for c in lcols if c in rtypes and c not in keys and c not in spec.ignore]
    only_left_cols = tuple(c for c in lcols if c not in rtypes and c not in spec.ignore)
    only_right_cols = tuple(to_right.get(c, c) for c in right_named if c not in ltypes and c not in spec.ignore)
    if any(spec.rule(c).kind == "text" for c in compared):
        con.execute(_text_macro())
    if any(spec.rule(c).kind == "date" for c in compared):
        _register_date_function(con)

    # keys of both sides as text when their types differ (CSV text against Parquet integers)
    def key_expr(k: str) -> str:
        same = ltypes.get(k) == rtypes.get(k)
        return quote_ident(k) if same else f"cast({quote_ident(k)} as varchar) as {quote_ident(k)}"

    kl = ", ".join(quote_ident(k) for k in keys)
    lsel = ", ".join([key_expr(k) for k in keys] + [quote_ident(c) for c in lcols if c not in keys])
    rsel = ", ".join([key_expr(k) for k in keys] + [quote_ident(c) for c in right_named if c not in keys])
    con.execute(f"create or replace temp view ikou_l as select {lsel} from ikou_left_raw")
    con.execute(f"create or replace temp view ikou_r as select {rsel} from ikou_right_named")

    # duplicate keys on either side: findings of their own, kept out of the comparison. A sorted
    # pass (neighbours equal?) proves there are none far cheaper than grouping every key. An
    # empty key matches nothing (only-left / only-right), so it is no duplicate either.
    same_as_previous = " and ".join(f"coalesce({quote_ident(k)} = lag({quote_ident(k)}) over w, false)" for k in keys)
    not_null = " and ".join(f"{quote_ident(k)} is not null" for k in keys)
    extra = con.execute(
        f"select (select count(*) filter (same) from (select {same_as_previous} as same from ikou_l window w as "
        f"(order by {kl}))), (select count(*) filter (same) from (select {same_as_previous} as same from ikou_r "
        f"window w as (order by {kl})))").fetchall()[0]
    con.execute("create or replace table diff_duplicate_keys (side varchar, "
                + ", ".join(f"{quote_ident(k)} {ltypes[k] if ltypes.get(k) == rtypes.get(k) else 'varchar'}" for k in keys)
                + ", rows bigint)")
    for side, view, n in (("left", "ikou_l", extra[0]), ("right", "ikou_r", extra[1])):
        if n:
            con.execute(f"insert into diff_duplicate_keys select '{side}', {kl}, count(*) from {view} "
                        f"where {not_null} group by all having count(*) > 1")
    dup_keys = dict(con.execute("select side, count(*) from diff_duplicate_keys group by side").fetchall())
    has_dups = bool(dup_keys)
    if has_dups:
        con.execute(f"create or replace temp table ikou_dupkeys as select distinct {kl} from diff_duplicate_keys")
        anti = f"anti join ikou_dupkeys using ({kl})"
    else:
        anti = ""
    on = " and ".join(f"l.{quote_ident(k)} = r.{quote_ident(k)}" for k in keys)
    flags = [f"{_differs(c, spec.rule(c), ltypes.get(c) == rtypes.get(c))} as {quote_ident(c + '_differs')}" for c in compared]
    any_diff = " or ".join(f"{quote_ident(c + '_differs')}" for c in compared) or "false"
    left_rest = [c for c in lcols if c not in keys]
    right_rest = [c for c in right_named if c not in keys]
    values = [f"l.{quote_ident(c)} as {quote_ident(c + '_left')}" for c in left_rest] + \
             [f"r.{quote_ident(c)} as {quote_ident(c + '_right')}" for c in right_rest]
    key_out = ", ".join(f"coalesce(l.{quote_ident(k)}, r.{quote_ident(k)}) as {quote_ident(k)}" for k in keys)
    # one pass over the join; only the rows that are not equal are kept, with both sides' values
    # (the only-left and only-right tables are cut from them: no second read of the data)
    con.execute(
        f"create or replace temp table ikou_unequal as select * from ("
        f"select l.__present as __l, r.__present as __r, {key_out}"
        + "".join(f", {x}" for x in flags + values)
        + f" from (select *, true as __present from ikou_l {'l ' + anti if anti else ''}) l "
        f"full outer join (select *, true as __present from ikou_r {'r ' + anti if anti else ''}) r on {on}"
        f") where __l is null or __r is null or {any_diff}")
    keys_sql = ", ".join(quote_ident(k) for k in keys)
    con.execute(f"create or replace table diff_only_left as select {keys_sql}"
                + "".join(f", {quote_ident(c + '_left')} as {quote_ident(c)}" for c in left_rest)
                + " from ikou_unequal where __r is null")
    con.execute(f"create or replace table diff_only_right as select {keys_sql}"
                + "".join(f", {quote_ident(c + '_right')} as {quote_ident(to_right.get(c, c))}" for c in right_rest)
                + " from ikou_unequal where __l is null")
    con.execute(f"create or replace table diff_differing as select {keys_sql}"
                + "".join(f", {quote_ident(c + '_differs')}, {quote_ident(c + '_left')}, {quote_ident(c + '_right')}" for c in compared)
                + " from ikou_unequal where __l and __r")
    counts = con.execute("select count(*) filter (__r is null), count(*) filter (__l is null), "
                         "count(*) filter (__l and __r) from ikou_unequal").fetchall()[0]
    only_left, only_right, differing = (int(x) for x in counts)
    left_rows = con.execute("select count(*) from ikou_l").fetchall()[0][0]
    right_rows = con.execute("select count(*) from ikou_r").fetchall()[0][0]
    dup_rows = {"left": 0, "right": 0}
    if has_dups:
        for side, view in (("left", "ikou_l"), ("right", "ikou_r")):
            dup_rows[side] = con.execute(f"select count(*) from {view} semi join ikou_dupkeys using ({kl})"
                                         ).fetchall()[0][0]
    matched = left_rows - dup_rows["left"] - only_left
    per_column = []
    if compared:
        sums = con.execute("select " + ", ".join(f"count(*) filter ({quote_ident(c + '_differs')})" for c in compared)
                           + " from diff_differing").fetchall()[0]
        per_column = [ColumnResult(c, to_right.get(c, c), spec.rule(c).describe(), int(n))
                      for c, n in zip(compared, sums)]
    con.execute("create or replace table diff_columns as select * from (values "
                + ", ".join(f"('{c.column}', '{c.right_column}', '{c.rule}', {c.differing})" for c in per_column)
                + ") t(column_name, right_column, rule, differing)" if per_column else
                "create or replace table diff_columns (column_name varchar, right_column varchar, rule varchar, "
                "differing bigint)")
    samples = {}
    order = ", ".join(quote_ident(k) for k in keys)
    for name, table in (("only_left", "diff_only_left"), ("only_right", "diff_only_right"),
                        ("differing", "diff_differing"), ("duplicate_keys", "diff_duplicate_keys")):
        frame = con.sql(f"select * from {table} order by {order} limit {spec.samples}").pl()
        samples[name] = [{k: _plain(v) for k, v in row.items()} for row in frame.iter_rows(named=True)]
    return DiffResult(
        left=left.describe(), right=right.describe(), keys=tuple(keys), left_rows=int(left_rows),
        right_rows=int(right_rows), only_left=only_left, only_right=only_right, matched=int(matched),
        differing=differing,
        duplicate_keys={"left": int(dup_keys.get("left", 0)), "right": int(dup_keys.get("right", 0))},
        duplicate_rows=dup_rows, columns=tuple(per_column), columns_only_left=only_left_cols,
        columns_only_right=only_right_cols, samples=samples, seconds=round(time.perf_counter() - t0, 3))


DIGIT_RUN = re.compile(r"[0-9０-９]{8,}([0-9０-９]{4})")


def _plain(v):
    """A sample value for JSON and HTML: 12+ digit runs (個人番号) masked as in every report."""
    if v is None or isinstance(v, (bool, int, float)):
        return DIGIT_RUN.sub(lambda m: STARS + m.group(1), str(v)) if isinstance(v, int) and abs(v) >= 10 ** 11 else v
    return DIGIT_RUN.sub(lambda m: STARS + m.group(1), str(v))
