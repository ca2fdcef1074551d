"""The layout file (標準レイアウト, ``ikou/schemas/<name>.yaml``) as a typed model: every key, its
type and its meaning. ``ikou.layout`` checks what a model cannot (items that exist, code tables
that are defined) and builds the runtime layout from it. Reference: docs/layouts.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from ikou.config.base import FileModel
from ikou.i18n import tr

Level = Literal["error", "alert"]
ItemType = Literal["string", "integer", "money", "decimal", "date", "float"]
Profile = Literal["none", "text", "name", "kana", "digits", "code", "postal_code", "address", "phone", "money",
                  "decimal"]
CheckDigit = Literal["lg_code", "resident_code", "individual_number", "modulus11"]
Provenance = Literal["attested", "single_source", "provisional", "extension"]
Bound = int | float | str | dt.date


class CheckFile(FileModel):
    """One check of an item: exactly one of ``pattern``, ``range`` or ``check_digit``."""
    pattern: str | None = Field(None, description="A regular expression the text must match (polars/Rust regex: "
                                                  "no look-around, no \\p{...}); reason code invalid_format.")
    range: list[Bound] | None = Field(None, min_length=2, max_length=2,
                                      description="[min, max] for integer, money, decimal and date items "
                                                  "(dates as YYYY-MM-DD); reason code out_of_range.")
    check_digit: CheckDigit | None = Field(None, description="A check-digit scheme; reason code check_digit.")
    level: Level | None = Field(None, description="error (reject) or alert (land and report); default: the item's.")

    @model_validator(mode="after")
    def _one_kind(self) -> CheckFile:
        given = [k for k in ("pattern", "range", "check_digit") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(tr("a check needs exactly one of 'pattern', 'range' or 'check_digit' (got {given})",
                                given=", ".join(given)) if given else
                             tr("a check needs exactly one of 'pattern', 'range' or 'check_digit'"))
        return self


class ItemFile(FileModel):
    id: str = Field(description="Stable English id: the landed column name.")
    name_ja: str = Field(description="The standard's Japanese item name (項目名), exactly.")
    type: ItemType = "string"
    length: int | None = Field(None, ge=1, description="Maximum characters of a string item (longer: too_long, at "
                                                        "the item's level).")
    width: int | None = Field(None, ge=1, description="The standard's width in characters where a source gives "
                                                      "one (longer: the alert exceeds_width).")
    precision: int | None = Field(None, ge=1, le=38, description="Digits in all of a decimal item.")
    scale: int | None = Field(None, ge=0, le=38, description="Digits after the point of a decimal item.")
    profile: Profile | None = Field(None, description="Cleansing profile (default: none for dates, decimal for "
                                                      "decimals, text otherwise).")
    required: bool = False
    level: Level = "error"
    code_table: str | None = Field(None, description="A code table of this layout the value must be a code of.")
    code_system: str | None = Field(None, description="The code system the value belongs to when no code list is "
                                                      "known (e.g. 町字コード, a municipality's master): not checked.")
    checks: list[CheckFile] = Field(default_factory=list)
    sensitive: bool = Field(False, description="Masked in every message and report (個人番号 …).")
    unknown_flag: str | None = Field(None, description="Date items: the item that holds the standard's "
                                                       "_不詳フラグ of this date (filled by ikou: 1 不詳, 0 not).")
    unknown_text: str | None = Field(None, description="Date items: the item that holds the standard's "
                                                       "_不詳表記 (the date's text when it is 不詳).")
    group: str | None = Field(None, description="The item's group in the layout (readability only).")
    provenance: Provenance | None = Field(None, description="How well the item is attested: attested (several "
                                                            "independent sources), single_source, provisional, "
                                                            "extension (not a standard item: ikou's own).")
    sources: list[str] = Field(default_factory=list, description="The sources that name the item.")
    note: str | None = None


class HouseholdFile(FileModel):
    household: str
    person: str | None = Field(None, description="Default: the table's history.person.")
    version: str | list[str] | None = Field(None, description="Default: the table's history.version.")
    relationship: str
    head_codes: list[str]
    active_when: dict[str, str] = Field(default_factory=dict)


class HistoryFile(FileModel):
    """How a person's records form a history (個人履歴): the latest record represents the person."""
    person: str = Field(description="The item the records of one person share (宛名番号).")
    version: list[str] = Field(description="Items ordering a person's records, most significant first "
                                           "(個人履歴番号, 枝番号): the highest is the latest record.")
    latest_flag: str | None = Field(None, description="An item marking the latest record (最新フラグ, '1').")


class MatchingFile(FileModel):
    person: str | None = None
    version: str | list[str] | None = None
    name: str
    reading: str | None = None
    birth_date: str | None = None
    sex: str | None = None
    address: list[str] = Field(default_factory=list)
    phone: str | None = None
    household: str | None = None
    former_surname: str | None = Field(None, description="旧氏: a second registration under the maiden name "
                                       "matches 旧氏 + the given name.")
    former_surname_reading: str | None = None
    other_names: list[str] = Field(default_factory=list, description="Other registered names (通称, ローマ字氏名): "
                                   "a registration under one of them matches.")
    other_readings: list[str] = Field(default_factory=list)
    identifier: str | None = Field(None, description="An identifier a person keeps across registrations "
                                   "(住民票コード): the same value corroborates a match, another value argues against it.")
    family_register: list[str] = Field(default_factory=list, description="本籍 and 筆頭者 (the 戸籍): items joined "
                                       "into one key; the same 戸籍 corroborates a match (本籍 changes by 転籍 or marriage, "
                                       "so another one proves nothing).")
    show: list[str] = Field(default_factory=list)


class ReferenceFile(FileModel):
    items: list[str] = Field(min_length=1)
    layout: str
    table: str
    to: list[str] = Field(min_length=1)
    level: Level = "error"
    code: str = "unknown_reference"


class TableFile(FileModel):
    name_ja: str | None = None
    items: list[ItemFile]
    duplicate_keys: list[list[str]] = Field(default_factory=list)
    optional_key_items: list[str] = Field(default_factory=list,
                                          description="Key items whose empty value matches another empty one "
                                                      "(a 枝番号 that flat exports do not carry).")
    row_key: list[str] = Field(default_factory=list)
    history: HistoryFile | None = None
    household: HouseholdFile | None = None
    date_order: list[list[str]] = Field(default_factory=list)
    matching: MatchingFile | None = None
    references: list[ReferenceFile] = Field(default_factory=list)
    money_totals_by: list[str] = Field(default_factory=list)


class CodeTableFile(FileModel):
    name_ja: str | None = None
    codes: dict[str, str] = Field(description="Code: its name.")
    status: Literal["enforced", "examples", "legacy"] = Field(
        "enforced", description="enforced: a value must be one of the codes; examples: the codes known are "
                                "incomplete or placeholders (not checked); legacy: a legacy coding, for "
                                "mappings to convert from (no item uses it).")
    forbidden: dict[str, str] = Field(default_factory=dict,
                                      description="Codes a source lists but the standard does not allow, with why: "
                                                  "a value holding one is rejected (forbidden_code).")
    unconfirmed: dict[str, str] = Field(default_factory=dict,
                                        description="Codes accepted whose standing is unclear, with why.")
    provisional: bool = False
    note: str | None = None
    sources: list[str] = Field(default_factory=list)
    code_notes: dict[str, str] = Field(default_factory=dict)


class LayoutFile(FileModel):
    layout: str
    name_ja: str | None = None
    version: str | int | float | None = None
    generated: dict[str, str] = Field(default_factory=dict,
                                      description="Where a generated layout came from (script, inputs, sha256).")
    code_tables: dict[str, CodeTableFile] = Field(default_factory=dict)
    tables: dict[str, TableFile]
