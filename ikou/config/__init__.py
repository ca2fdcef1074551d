"""Typed models of ikou's configuration files (layouts, mappings, group files)."""

from __future__ import annotations

import json

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema(kind: str) -> str:
    """The JSON Schema of a configuration file kind (mapping, layout, group), for editors."""
    from ikou.config.group_file import GroupFile
    from ikou.config.layout_file import LayoutFile
    from ikou.config.mapping_file import MappingFile

    model = {"mapping": MappingFile, "layout": LayoutFile, "group": GroupFile}[kind]
    schema = {"$schema": SCHEMA_DIALECT, "$id": f"https://ikou.invalid/schema/{kind}.schema.json",
              **model.model_json_schema()}
    schema["title"] = f"ikou {kind} file"
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"
