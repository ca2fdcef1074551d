"""The group file of a 自治体クラウド group (``ikou migrate-group``) as a typed model. Reference:
docs/group.md."""

from __future__ import annotations

from pydantic import Field

from ikou.config.base import FileModel
from ikou.config.mapping_file import CodeMapFile


class GroupInfo(FileModel):
    id: str
    name: str | None = None


class MemberFile(FileModel):
    code: str | int = Field(description="The member's 全国地方公共団体コード.")
    name: str | None = None
    input: str = Field(description="The member's export folder, relative to --input-root (default: this file's "
                                   "folder).")
    mappings: list[str] = Field(min_length=1, description="The member's mappings, relative to this file, run in "
                                                          "order (resident before tax).")
    code_tables: dict[str, str] = Field(default_factory=dict,
                                        description="A mapping's code table -> the group's table replacing it.")
    overrides: dict[str, dict[str, str]] = Field(default_factory=dict,
                                                 description="Group table -> legacy code: standard code, the "
                                                             "member's own exceptions.")
    population: int | None = Field(None, ge=0, description="費用按分 (equal-population): the population to "
                                   "apportion by (default: the member's current residents in OUT).")
    standalone_cost: int | None = Field(None, gt=0, description="費用按分 (equal-reduction): what the member "
                                        "would pay alone, in yen.")


class ApportionmentFile(FileModel):
    """費用按分 (ikou group apportion): the group's agreed keys."""
    fixed_share: float | None = Field(None, ge=0, le=1, description="equal-population: the share of the cost "
                                      "split in equal parts (均等割); the rest by population (人口割).")
    functions: dict[str, float] = Field(default_factory=dict, description="functional (機能別負担): weight of "
                                        "each 業務 (layout id) in the cost, e.g. {resident: 0.6, tax: 0.4}.")


class GroupFile(FileModel):
    group: GroupInfo
    code_tables: dict[str, CodeMapFile] = Field(default_factory=dict)
    members: list[MemberFile] = Field(min_length=1)
    apportionment: ApportionmentFile = Field(default_factory=ApportionmentFile)
