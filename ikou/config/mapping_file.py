"""The mapping file (移行マッピング) as a typed model: every key, its type and its meaning.
``ikou mapping schema`` prints its JSON Schema for editors; ``ikou.mapping`` checks what a model
cannot (items of the layout, code tables, columns) and builds the runtime mapping. Reference:
docs/mapping.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag

from ikou.config.base import FileModel

DateForm = Literal["wareki_kanji", "wareki_abbrev", "wareki_numeric", "wareki_numeric8", "iso", "yyyymmdd",
                   "seireki_kanji", "excel_serial"]
Column = str | int  # a header name, or a 1-based position for files without a header


class ItemSpec(FileModel):
    """Where one standard item comes from: one of column, value, concat (lookup reads column),
    or default_from alone."""
    column: Column | None = Field(None, description="The legacy column (header name or 1-based position) or field.")
    value: str | int | None = Field(None, description="A constant instead of a column (reported as a constant).")
    concat: list[Column] | None = Field(None, min_length=2,
                                        description="Columns joined into one value (氏 + 名 -> 氏名), empty ones left "
                                                    "out; needs separator.")
    separator: str | None = Field(None, description="What concat puts between two non-empty parts (e.g. a "
                                                    "full-width space); declared, never guessed.")
    lookup: str | None = Field(None, description="A table under lookups: the column's value is its key, the item "
                                                 "gets the table's value (町字名 -> 町字コード).")
    default_from: str | None = Field(None, description="Another item whose value this one takes when it is empty "
                                                       "after cleansing.")
    pad: int | None = Field(None, ge=1, description="Zero-pad digit-only values to this width.")
    code_table: str | None = Field(None, description="A table under code_tables converting legacy codes.")
    date_forms: list[DateForm] | None = Field(None, description="Date forms of this item (overrides dates.forms).")


class SplitFile(FileModel):
    """One column split into several items by a regular expression whose named groups are item
    ids: 住所 -> address_town + address_block + address_building, "34.28, 134.04" -> two decimals."""
    column: Column
    pattern: str = Field(description="A regular expression (polars/Rust syntax) matching the whole value, with "
                                     "a named group (?P<item_id>…) per item.")
    on_mismatch: Literal["error", "alert"] = Field(
        "error", description="A non-empty value the pattern does not match: reject the record (error), or land "
                             "it with the items empty and report it (alert).")


class DropFile(FileModel):
    drop: str = Field(min_length=1, description="Why the column is not migrated (shown in the summary and report).")


class KeepFile(FileModel):
    keep: str = Field("", description="Optional note; the column's text lands in the row's extras map.")


def _keep_shorthand(value: Any) -> Any:
    return {"keep": ""} if value == "keep" else value


def _fate_kind(value: Any) -> str:
    return "(keep)" if isinstance(value, dict) and "keep" in value else "(drop)"


ColumnFate = Annotated[Annotated[Annotated[DropFile, Tag("(drop)")] | Annotated[KeepFile, Tag("(keep)")],
                                 Discriminator(_fate_kind)],
                       BeforeValidator(_keep_shorthand, json_schema_input_type=Literal["keep"] | DropFile | KeepFile)]


class LookupFile(FileModel):
    """A reference table (a 町字 master …): a UTF-8 CSV or TSV file with a header row."""
    file: str = Field(description="The table's file, relative to the mapping (.tsv: tab-separated, else comma).")
    key: str = Field(description="The column holding the values looked up (町字名).")
    value: str = Field(description="The column holding what the item gets (町字コード).")
    unmatched: Literal["alert", "error"] = Field("alert", description="A value not in the table: land the item "
                                                                      "empty and report the value, or reject.")


def _shorthand(value: Any) -> Any:
    # `name: 氏名` and `name: 3` name a column
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return {"column": value}
    return value


ItemEntry = Annotated[ItemSpec, BeforeValidator(_shorthand, json_schema_input_type=str | int | ItemSpec)]


SignForm = Literal["trailing", "leading", "trailing_separate", "leading_separate"]
Overpunch = Literal["auto", "ascii", "ibm", "ebcdic"]
SIGN_HELP = ("zoned: where the sign is (COBOL SIGN clause): overpunched on the last or first digit, or a separate "
             "+/- byte after or before the digits (length includes it). Default: the source's, else trailing.")
OVERPUNCH_HELP = ("zoned, overpunched sign: ascii (negative p-y: GnuCOBOL, Micro Focus), ibm ({ A-I positive, } J-R "
                  "negative), ebcdic (zones C/F/D); auto: ebcdic in EBCDIC files, every ASCII form in ASCII files "
                  "(they never overlap). Default: the source's, else auto.")


class FieldFile(FileModel):
    """A field of a fixed-width record: byte offset (from 0), length in bytes, and how it is read."""
    offset: int = Field(ge=0)
    length: int = Field(ge=1)
    type: Literal["text", "kanji", "zoned", "packed", "binary", "native_binary", "float"] = Field(
        "text", description="text; kanji (PIC N: double-byte characters only); zoned (DISPLAY numbers); packed "
        "(COMP-3); binary (COMP, BINARY, COMP-4: big-endian); native_binary (COMP-5: the machine's order, "
        "little-endian on x86); float (COMP-1 / COMP-2: IEEE 754, 4 or 8 bytes).")
    scale: int = Field(0, ge=-18, le=31, description="Implied decimal places of a number (PIC 9(5)V99: 2); "
                       "negative for COBOL's P scaling (PIC 9(3)PP: -2, the stored 123 is 12300).")
    digits: int | None = Field(None, ge=1, le=31, description="Packed, zoned and binary: the PIC's digit count, "
                               "checked against the length (binary: 1-4 digits 2 bytes, 5-9 4, 10-18 8).")
    signed: bool | None = Field(None, description="binary and native_binary (required): two's complement (PIC S9) "
                                "or unsigned (PIC 9).")
    byte_order: Literal["little", "big"] | None = Field(
        None, description="float: the IEEE 754 value's byte order (default little: GnuCOBOL and Micro Focus on x86).")
    pad: str = Field(" ", description="Trailing padding removed from text (a property of the format).")
    sign: SignForm | None = Field(None, description=SIGN_HELP)
    overpunch: Overpunch | None = Field(None, description=OVERPUNCH_HELP)


def _field_kind(value: Any) -> str:
    return "(record field)" if isinstance(value, dict) else "(path)"


# fixed-width fields are byte ranges, XML fields are paths inside a record
FieldEntry = Annotated[Annotated[FieldFile, Tag("(record field)")] | Annotated[str, Tag("(path)")],
                       Discriminator(_field_kind)]


class TrailerFile(FileModel):
    code: str | int
    count: FieldFile | None = Field(None, description="Where the trailer states the number of data records.")
    sum_of: str | None = Field(None, description="A zoned or packed field whose total the trailer states.")
    sum: FieldFile | None = None


class SourceFile(FileModel):
    """One kind of export file, landing in one table of the layout."""
    name: str
    table: str
    files: str = Field(description="Glob inside --input, e.g. 'JUMIN_*.csv'; every match, in name order.")
    format: Literal["csv", "fixed", "xml", "xlsx"] = Field(
        "csv", description="csv, fixed (fixed-width records), xml, or xlsx (an Excel workbook: .xlsx, .xlsm, .xls, "
                           ".ods).")
    encoding: str = Field("cp932", description="CSV and fixed-width: the bytes' encoding (XML declares its own; a "
                                               "workbook needs none).")
    sheet: str | int | None = Field(None, description="xlsx: the sheet, by name or by position from 1 (default: "
                                                      "the first).")
    skip_rows: int = Field(0, ge=0, description="Rows before the header (metadata rows).")
    header: bool = True
    skip_after_header: int = Field(0, ge=0)
    delimiter: str = ","
    quote: str = '"'
    max_invalid_rate: float = Field(0.5, ge=0, le=1)
    max_record_lines: int = Field(20, ge=1, description="CSV: lines one record may span (quoted fields with line "
                                                        "breaks); a quoted field still open after them is taken as "
                                                        "never closed: its record ends at its first line end, as a "
                                                        "reject, and reading goes on from the next line.")
    max_record_bytes: int = Field(65536, ge=16, description="CSV: bytes one record may hold; a longer record ends at "
                                                            "its first line end, as a reject.")
    items: dict[str, ItemEntry] = Field(description="Standard item id -> where it comes from.")
    split: list[SplitFile] = Field(default_factory=list, description="Columns split into several items.")
    unmapped_columns: dict[str, ColumnFate] = Field(
        default_factory=dict, description="Every column no item reads, with its fate: {drop: reason} or keep "
                                          "(its text lands in the row's extras map). A column neither mapped nor "
                                          "listed stops the run before anything is written.")
    not_provided: dict[str, str] = Field(default_factory=dict,
                                         description="Items the export does not have -> why: they land empty, "
                                                     "and the summary and report say so.")
    # fixed-width records
    record_length: int | None = Field(None, ge=1)
    newline: Literal["auto", "crlf", "lf", "none"] = "auto"
    short_records: Literal["reject", "pad"] = "reject"
    record_type: FieldFile | None = None
    sign: SignForm | None = Field(None, description="Fixed-width: every zoned field's sign form unless the field "
                                  "says otherwise. " + SIGN_HELP)
    overpunch: Overpunch | None = Field(None, description="Fixed-width: every zoned field's overpunch convention "
                                        "unless the field says otherwise. " + OVERPUNCH_HELP)
    header_codes: list[str | int] = Field(default_factory=list)
    data_codes: list[str | int] = Field(default_factory=list)
    other_codes: list[str | int] = Field(default_factory=list, description="Fixed-width: record types another "
                                         "source reads from the same file (a copybook's other REDEFINES views): "
                                         "skipped here and counted, never rejected; a trailer's count includes them.")
    trailer: TrailerFile | None = None
    fields: dict[str, FieldEntry] = Field(default_factory=dict, description="Fixed-width: name -> field; "
                                               "XML: name -> path inside a record.")
    # XML
    record: str | None = Field(None, description="XML: element path of a record from the root.")
    namespaces: dict[str, str] = Field(default_factory=dict)


class CodeMapFile(FileModel):
    standard: str = Field(description="The layout's code table the codes convert to.")
    unmapped: Literal["reject", "alert", "fail"] = "reject"
    codes: dict[str, str] = Field(description="Legacy code: standard code (quote both).")


class MunicipalityFile(FileModel):
    code: str | int = Field(description="6-digit 全国地方公共団体コード with its check digit.")
    name: str | None = None


class ThresholdsFile(FileModel):
    max_reject_rate: float | None = Field(None, ge=0, le=1)
    max_rejects: int | None = Field(None, ge=0)
    max_alert_rate: float | None = Field(None, ge=0, le=1)
    max_alerts: int | None = Field(None, ge=0)
    rules: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)


class DatesFile(FileModel):
    era_codes: str | int = "1-5"
    forms: list[DateForm] | None = None
    outside_era: Literal["alert", "error", "convert"] = "alert"


class GaijiFile(FileModel):
    table: str = Field(description="TSV file (code, unicode, mj, note), relative to the mapping.")
    version: str | int | float
    unmapped: Literal["alert", "reject"] = "alert"


class TrainingFile(FileModel):
    max_pairs_u: int | float = 2e6
    max_pairs_em: int | float = 3e6
    seed: int = 42


Corroboration = Literal["same_address", "same_phone", "same_household", "same_identifier", "same_family_register"]
Contradiction = Literal["different_phone", "different_birth_date", "different_identifier", "different_sex"]


class AutoMergeRequiresFile(FileModel):
    """What a pair needs besides its match probability to be merged without a person looking at
    it; a pair that scores at or above auto_merge without it goes to the review queue."""
    any_of: list[Corroboration] = Field(
        default_factory=lambda: ["same_address", "same_phone", "same_household", "same_identifier",
                                 "same_family_register"],
        description="At least one of these must hold (evidence beyond name, reading, birth date and sex).")
    none_of: list[Contradiction] = Field(
        default_factory=lambda: ["different_birth_date", "different_identifier"],
        description="None of these may hold (evidence against: both sides given and different; "
                    "different_birth_date = not equal, not day/month swapped, not one digit apart; "
                    "different_phone is there to add: two numbers already weigh against a pair in its score).")


class DedupFile(FileModel):
    method: Literal["exact", "probabilistic"] = "exact"
    auto_merge: float = 0.999
    review: float = 0.5
    auto_merge_requires: AutoMergeRequiresFile = Field(default_factory=AutoMergeRequiresFile)
    decisions: str | None = Field(None, description="CSV of reviewers' decisions, relative to the mapping.")
    backend: Literal["duckdb", "spark"] = "duckdb"
    memory_limit: str = Field("512MB", pattern=r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
                              description="DuckDB's memory while scoring pairs (e.g. 1GB); beyond it, it spills to "
                                          "the run's staging folder inside OUT.")
    training: TrainingFile = Field(default_factory=TrainingFile)


Switch = Literal["off", "error", "alert"]


class CheckOverride(FileModel):
    """This mapping's change to one item's checks in the layout: a check turned off, or moved
    between error (reject) and alert (land and report). Every override is listed in the summary
    and the report, so that the vendor sees what was relaxed."""
    pattern: Switch | None = None
    range: Switch | None = None
    check_digit: Switch | None = None
    length: Switch | None = Field(None, description="The item's maximum length (too_long).")
    width: Switch | None = Field(None, description="The standard's width (the alert exceeds_width).")
    level: Literal["error", "alert"] | None = Field(None, description="The item's own level (its checks without a "
                                                                      "level of their own, code and date checks).")


def _iso_date(v: Any) -> Any:
    """YAML reads 2021-04-01 as a date; a quoted "2021-04-01" is read the same."""
    if isinstance(v, str):
        try:
            return dt.date.fromisoformat(v)
        except ValueError:
            pass
    return v


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


class ScopeConditionFile(FileModel):
    """One condition on a record's standard-layout value (after code tables and date reading);
    exactly one operator. A record without the value does not match."""
    item: str | None = Field(None, description="A standard item id of the rule's table (its value after code "
                                               "tables and date reading).")
    column: str | None = Field(None, description="Or a column of the export, by header name: its value as exported "
                                                 "(e.g. the vendor's own 住民状態 code for 住登外者, which no "
                                                 "standard code represents).")
    in_: list[str | int] | None = Field(None, alias="in", description="The value is one of these (standard codes).")
    not_in: list[str | int] | None = Field(None, description="The value is given and none of these.")
    before: IsoDate | None = Field(None, description="A date item: the date is before this day (YYYY-MM-DD).")
    on_or_after: IsoDate | None = Field(None, description="A date item: the date is this day or later.")
    empty: bool | None = Field(None, description="true: the item has no value; false: it has one.")


class ScopeRuleFile(FileModel):
    """A scope rule (移行対象外): records of the table for which every condition holds are
    excluded from the migration, with this rule's name (docs/mapping.md#scope)."""
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="The rule's name, shown with every record it excludes.")
    table: str = Field(description="The layout table the rule applies to (resident, tax_assessment …).")
    description: str = Field("", description="Why these records are out of scope (shown in the report).")
    when: list[ScopeConditionFile] = Field(min_length=1, description="Conditions that must all hold.")


class MappingFile(FileModel):
    """A municipality's mapping: how one legacy export lands in a standard layout."""
    mapping_version: int = 1
    municipality: MunicipalityFile
    layout: str = Field(description="A bundled layout's name (resident, tax) or a layout file's path, relative "
                                    "to this mapping.")
    vendor: str | None = None
    thresholds: ThresholdsFile = Field(default_factory=ThresholdsFile)
    dates: DatesFile = Field(default_factory=DatesFile)
    gaiji: GaijiFile | None = None
    dedup: DedupFile = Field(default_factory=DedupFile)
    sources: list[SourceFile] = Field(min_length=1)
    code_tables: dict[str, CodeMapFile] = Field(default_factory=dict)
    lookups: dict[str, LookupFile] = Field(default_factory=dict, description="Reference tables items look up.")
    scope: list[ScopeRuleFile] = Field(default_factory=list, description="Records out of the migration's scope "
                                       "(移行対象外): each gets the fate excluded with the first rule it matches.")
    checks: dict[str, CheckOverride] = Field(default_factory=dict,
                                             description="Item id -> this mapping's overrides of the layout's checks "
                                                         "and levels, e.g. {atena_number: {check_digit: off}}.")
