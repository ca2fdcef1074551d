"""和暦 and 西暦 dates -> ISO dates, vectorised (DOMAIN.md §3, §6).

Every date item lands as three columns: ``<item>`` (a real date or null), ``<item>_status``
(null for a plain date, else the status below) and ``<item>_text`` (the original text, kept
whenever the status is set).
The parser's status per value:

- ``ok``: a real date inside its era.
- ``unknown`` (不詳): the text says 不詳, or a year/month/day part is 0 or missing
  (``昭和20年不詳``, ``S20.05.00``, ``昭和20年5月``). Date null, flag true. Alert.
- ``impossible``: parts in range but no such calendar day (平成31年2月29日, 4月31日).
  Date null. Alert.
- ``outside_era``: a real day outside its era (明治45年7月30日 is 1912-07-30, already 大正).
  Converted, kept, alert.
- ``invalid``: not a date in any accepted form, or month > 12 / day > 31. The item's level
  decides (rejected for 生年月日).

Accepted forms (chosen per mapping, see docs/mapping.md): ``wareki_kanji`` 昭和60年2月14日 /
平成元年5月1日, ``wareki_abbrev`` S60.02.14 / H2.3.4 / R5-1-1 / 昭60.2.14, ``wareki_numeric``
GYYMMDD (3600214) and ``wareki_numeric8`` GGYYMMDD (03600214) with the mapping's era-code
convention, ``iso`` 1985-02-14 / 1985/2/14,
``yyyymmdd`` 19850214, ``seireki_kanji`` 1985年2月14日, ``excel_serial`` 45016.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from ikou.cleansing.text import FULL_WIDTH_ALNUM, trim
from ikou.exprs import Layers, apply_layers

# name, first day (DOMAIN.md §6). An era ends where the next one starts.
ERAS = [
    ("明治", dt.date(1868, 1, 25)),
    ("大正", dt.date(1912, 7, 30)),
    ("昭和", dt.date(1926, 12, 25)),
    ("平成", dt.date(1989, 1, 8)),
    ("令和", dt.date(2019, 5, 1)),
]
ERA_INDEX = {name: i for i, (name, _) in enumerate(ERAS)}
ERA_LETTERS = {"M": 0, "T": 1, "S": 2, "H": 3, "R": 4, "明": 0, "大": 1, "昭": 2, "平": 3, "令": 4}
EXCEL_EPOCH = dt.date(1899, 12, 30)

_KANJI_ERA = "(明治|大正|昭和|平成|令和)"
_SEP = r"[./\-]"
PATTERNS = {
    "wareki_kanji": rf"^{_KANJI_ERA}[ \u3000]*(元|[0-9]{{1,2}})年[ \u3000]*([0-9]{{1,2}})月[ \u3000]*([0-9]{{1,2}})日$",
    "wareki_abbrev": rf"^([MTSHRmtshr明大昭平令])[ .]?(元|[0-9]{{1,2}}){_SEP}([0-9]{{1,2}}){_SEP}([0-9]{{1,2}})$",
    "wareki_numeric": r"^([0-9])([0-9]{2})([0-9]{2})([0-9]{2})$",
    "wareki_numeric8": r"^([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})$",
    "iso": rf"^([0-9]{{4}}){_SEP}([0-9]{{1,2}}){_SEP}([0-9]{{1,2}})$",
    "yyyymmdd": r"^([0-9]{4})([0-9]{2})([0-9]{2})$",
    "seireki_kanji": r"^([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日$",
    "excel_serial": r"^([0-9]{5})$",
}
# Dates with a part missing: 昭和20年, 昭和20年5月 (with or without a trailing 不詳).
PARTIAL_WAREKI = rf"^{_KANJI_ERA}[ \u3000]*(元|[0-9]{{1,2}})年([ \u3000]*[0-9]{{1,2}}月)?[ \u3000]*(不詳)?$"


def _int(e: pl.Expr) -> pl.Expr:
    return e.cast(pl.Int32, strict=False)


def _year(e: pl.Expr) -> pl.Expr:
    """An era year: digits, or 元 (the first year)."""
    return e.str.replace("元", "1", literal=True).cast(pl.Int32, strict=False)


def _candidate(c: str, form: str, eras: dict[int, str]) -> list[pl.Expr]:
    """era, y, m, d for one form, from the extracted groups in column ``c`` (a struct)."""
    f = pl.col(c).struct.field
    if form == "wareki_kanji":
        era = f("1").replace_strict(ERA_INDEX, default=None, return_dtype=pl.Int32)
        return [era, _year(f("2")), _int(f("3")), _int(f("4"))]
    if form == "wareki_abbrev":
        era = f("1").str.to_uppercase().replace_strict(ERA_LETTERS, default=None, return_dtype=pl.Int32)
        return [era, _year(f("2")), _int(f("3")), _int(f("4"))]
    if form in ("wareki_numeric", "wareki_numeric8"):
        width = 1 if form == "wareki_numeric" else 2
        code_to_era = {str(code).zfill(width): ERA_INDEX[name] for code, name in eras.items()}
        era = f("1").replace_strict(code_to_era, default=None, return_dtype=pl.Int32)
        # an era digit outside the convention means this is not the form
        return [era] + [pl.when(era.is_not_null()).then(_int(f(k))) for k in ("2", "3", "4")]
    if form == "excel_serial":
        date = pl.lit(EXCEL_EPOCH) + pl.duration(days=_int(f("1")))
        return [pl.lit(None, pl.Int32), date.dt.year().cast(pl.Int32), date.dt.month().cast(pl.Int32),
                date.dt.day().cast(pl.Int32)]
    return [pl.lit(None, pl.Int32), _int(f("1")), _int(f("2")), _int(f("3"))]


def parse_dates(lf: pl.LazyFrame, specs: list[tuple[str, str, tuple[str, ...]]],
                eras: dict[int, str]) -> pl.LazyFrame:
    """Parse date columns. ``specs``: (source column, output prefix, accepted forms).

    Adds ``<prefix>`` (date), ``<prefix>_status``, ``<prefix>_text`` and ``<prefix>__status``.
    Every intermediate value is a materialised column (one ``with_columns`` per step): polars
    re-evaluates a sub-expression each time it is referenced, so nesting would multiply work.
    Calendar validity is integer arithmetic (days in month, leap years), not string parsing.
    """
    return apply_layers(lf, date_layers(specs, eras))


def date_layers(specs: list[tuple[str, str, tuple[str, ...]]], eras: dict[int, str]) -> Layers:
    """The expressions of ``parse_dates``, built once and applied to any number of frames."""
    if not specs:
        return [], []
    tmp: list[str] = []

    def c(prefix: str, name: str) -> pl.Expr:
        return pl.col(f"__{prefix}__{name}")

    def new(prefix: str, name: str, expr: pl.Expr) -> pl.Expr:
        tmp.append(f"__{prefix}__{name}")
        return expr.alias(f"__{prefix}__{name}")

    steps: list[list[pl.Expr]] = [[] for _ in range(8)]
    era_start_year = {i: start.year for i, (_, start) in enumerate(ERAS)}
    era_start_map = {i: start for i, (_, start) in enumerate(ERAS)}
    era_next_map = {i: ERAS[i + 1][1] for i in range(len(ERAS) - 1)}
    for source, p, forms in specs:
        text = trim(pl.col(source))
        steps[0].append(new(p, "text", pl.when(text != "").then(text)))
        steps[1].append(new(p, "s", c(p, "text").str.replace_many(FULL_WIDTH_ALNUM)))
        for form in forms:
            steps[2].append(new(p, f"g_{form}", c(p, "s").str.extract_groups(PATTERNS[form])))
            for name, part in zip(("era", "y", "m", "d"), _candidate(f"__{p}__g_{form}", form, eras)):
                steps[3].append(new(p, f"{form}_{name}", part))
        for name in ("era", "y", "m", "d"):
            # the first form that matched gives all four parts
            chosen = pl.lit(None, pl.Int32)
            for form in reversed(forms):
                chosen = pl.when(c(p, f"{form}_y").is_not_null()).then(c(p, f"{form}_{name}")).otherwise(chosen)
            steps[4].append(new(p, name, chosen))
        era, y, m, d = c(p, "era"), c(p, "y"), c(p, "m"), c(p, "d")
        steps[5] += [
            new(p, "year", pl.when(era.is_not_null())
                .then(era.replace_strict(era_start_year, default=None, return_dtype=pl.Int32) + y - 1)
                .otherwise(y)),
            new(p, "era_start", era.replace_strict(era_start_map, default=None, return_dtype=pl.Date)),
            new(p, "era_next", era.replace_strict(era_next_map, default=None, return_dtype=pl.Date)),
            new(p, "unknown", c(p, "s").str.contains("不詳") | c(p, "s").str.contains(PARTIAL_WAREKI)
                | (y.is_not_null() & ((y == 0) | (m == 0) | (d == 0)))),
        ]
        year = c(p, "year")
        leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
        month_days = (pl.when(m == 2).then(pl.when(leap).then(29).otherwise(28))
                      .when(m.is_in([4, 6, 9, 11])).then(30).otherwise(31))
        steps[6] += [
            new(p, "in_range", y.is_not_null() & m.is_between(1, 12) & d.is_between(1, 31) & (year >= 1)),
            new(p, "real", y.is_not_null() & m.is_between(1, 12) & (d >= 1) & (d <= month_days) & (year >= 1)),
        ]
        real = c(p, "real")
        safe = [pl.when(real).then(v).otherwise(pl.lit(1, pl.Int32)) for v in (year, m, d)]
        steps[7].append(new(p, "date", pl.when(real).then(pl.date(*safe))))
    out = []
    for _, p, _ in specs:
        date, text_c = c(p, "date"), c(p, "text")
        outside = date.is_not_null() & c(p, "era").is_not_null() & (
            (date < c(p, "era_start")) | (c(p, "era_next").is_not_null() & (date >= c(p, "era_next"))))
        out.append((pl.when(text_c.is_null()).then(None)
                    .when(c(p, "unknown")).then(pl.lit("unknown"))
                    .when(~c(p, "in_range")).then(pl.lit("invalid"))
                    .when(date.is_null()).then(pl.lit("impossible"))
                    .when(outside).then(pl.lit("outside_era"))
                    .otherwise(pl.lit("ok"))).alias(f"{p}__status"))
    final = []
    for _, p, _ in specs:
        status, text_c = pl.col(f"{p}__status"), c(p, "text")
        final += [
            pl.when(status.is_in(["ok", "outside_era"])).then(c(p, "date")).alias(p),
            pl.when(status != "ok").then(status).alias(f"{p}_status"),
            pl.when(status.is_in(["unknown", "invalid", "impossible", "outside_era"])).then(text_c).alias(f"{p}_text"),
        ]
    return [*steps, out, final], tmp


def calendar_digits(texts: list[str | None], forms: tuple[str, ...], eras: dict[int, str]) -> list[str | None]:
    """The year, month and day a date text writes, as ``YYYY-MM-DD``, whether or not that day
    exists (平成31年2月29日 -> 2019-02-29): how the hand-over writes an impossible date, which
    the standard requires to be accepted. None where the text writes no whole date."""
    steps, _ = date_layers([("t", "x", forms)], eras)
    lf = pl.LazyFrame({"t": texts}, schema={"t": pl.String})
    for exprs in steps:
        lf = lf.with_columns(exprs)
    y, m, d = (pl.col(f"__x__{n}").cast(pl.String) for n in ("year", "m", "d"))
    whole = pl.col("__x__in_range") & ~pl.col("__x__unknown")
    return lf.select(pl.when(whole).then(pl.concat_str([y.str.zfill(4), m.str.zfill(2), d.str.zfill(2)],
                                                       separator="-"))).collect().to_series().to_list()
