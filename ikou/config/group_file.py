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


class GroupFile(FileModel):
    group: GroupInfo
    code_tables: dict[str, CodeMapFile] = Field(default_factory=dict)
    members: list[MemberFile] = Field(min_length=1)
