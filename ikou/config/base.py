"""The base of ikou's file models (layouts, mappings, group files) and how their validation
errors become problems a person can act on.

Every file is validated by a pydantic model that mirrors it key for key (``extra="forbid"``,
strict types: YAML's ``yes`` is not a boolean, ``01`` is not a string). pydantic collects every
error of a file at once; :func:`validate_file` turns each into one line saying where it is, what
was expected and, for a mistyped key or value, the closest valid one. The same models give the
JSON Schema that editors use to complete and check the files (``ikou mapping schema``).
"""

from __future__ import annotations

import copy
import difflib
import types
import typing
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from ikou.i18n import tr

# libyaml's loader where PyYAML has it (the same safe subset of YAML, ~6x faster on the 90 KB
# resident layout)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """A YAML document, read safely (no tags, no objects); yaml.YAMLError when malformed."""
    return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader

M = TypeVar("M", bound=BaseModel)


class FileModel(BaseModel):
    """A part of a configuration file: unknown keys are errors, types are strict."""
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


def suggest(word: str, choices: typing.Iterable[str], cutoff: float = 0.6) -> str | None:
    """The closest of ``choices`` to a mistyped ``word`` (difflib's ratio), or None."""
    found = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=cutoff)
    return found[0] if found else None


def did_you_mean(word: str, choices: typing.Iterable[str]) -> str:
    close = suggest(word, choices)
    return tr(" (did you mean {close!r}?)", close=close) if close else ""


def render_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types an annotation may hold (Optional, unions, Annotated unwrapped)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for a in typing.get_args(annotation) for t in _unwrap(a)]
    return [annotation]


def _step(annotation: Any, part: Any) -> Any:
    """The annotation one location step inside ``annotation`` (a model field, a list element,
    a dict value), or None."""
    for t in _unwrap(annotation):
        origin = typing.get_origin(t)
        if isinstance(t, type) and issubclass(t, BaseModel) and isinstance(part, str):
            field = t.model_fields.get(part)
            if field is None:
                field = next((f for f in t.model_fields.values() if f.alias == part), None)
            if field is not None:
                return field.annotation
        elif origin in (list, tuple) and isinstance(part, int):
            return typing.get_args(t)[0]
        elif origin is dict and isinstance(part, str):
            return typing.get_args(t)[1]
    return None


def model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class found at ``loc`` inside ``root`` (to list the keys allowed there)."""
    annotation: Any = root
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return None
    return next((t for t in _unwrap(annotation) if isinstance(t, type) and issubclass(t, BaseModel)), None)


def keys_of(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _problem(root: type[BaseModel], where: str, err: dict) -> str:
    loc = _clean_loc(err["loc"])  # a discriminated union's branch tag "(…)" is not a key of the file
    at = f"{where}:{render_loc(loc)}" if loc else where
    kind, value = err["type"], err.get("input")
    if kind == "extra_forbidden":
        parent = model_at(root, loc[:-1])
        allowed = keys_of(parent) if parent else []
        return (tr("{where}:{at}: unknown key {key!r}{did_you_mean}", where=where, at=render_loc(loc[:-1]) or "(top)",
                   key=loc[-1], did_you_mean=did_you_mean(loc[-1], allowed))
                + (tr(" (allowed: {keys})", keys=", ".join(allowed)) if allowed else ""))
    if kind == "missing":
        return tr("{where}:{at}: missing required key {key!r}",
                  where=where, at=render_loc(loc[:-1]) or "(top)", key=loc[-1])
    if kind in ("literal_error", "enum"):
        expected = err.get("ctx", {}).get("expected", "")
        choices = [c.strip(" '") for c in expected.replace(" or ", ", ").split(",") if c.strip(" '")]
        quoted = (tr(' (write it in quotes: "off"; unquoted, YAML reads off as false)')
                  if value is False and "off" in choices else "")
        return tr("{at}: {value!r} is not one of {values}{did_you_mean}{quoted}", at=at, value=value,
                  values=", ".join(choices), did_you_mean=did_you_mean(value, choices), quoted=quoted)
    if kind == "model_type":
        return tr("{at}: expected keys (a YAML mapping), got {value!r}", at=at, value=value)
    if kind == "value_error":
        return f"{at}: {err['ctx']['error']}" if "ctx" in err and "error" in err["ctx"] else f"{at}: {err['msg']}"
    # pydantic's own message for the rarer kinds (its text is English only)
    shown = tr(" (got {value!r})", value=value) if value is not None and not isinstance(value, (dict, list)) else ""
    if kind == "string_type" and isinstance(value, (int, float)) and not isinstance(value, bool):
        shown += tr(": write it in quotes (\"01\"); an unquoted YAML number loses its leading zeros")
    return f"{at}: {err['msg'][0].lower()}{err['msg'][1:]}{shown}"


def validate_file(model: type[M], raw: Any, where: str, problems: list[str]) -> M | None:
    """Validate a loaded YAML document against its file model; every error becomes one problem
    (appended to ``problems``).

    A document with errors is still returned as a model where it can be: the offending values
    are dropped (or, for a required key, given a neutral placeholder) until it validates, so that
    the checks beyond the model (items that exist, code tables that are defined) run as well and
    a person sees every problem of the file in one go. Such a model is for those checks only:
    ``problems`` is not empty, and the caller stops before anything is read."""
    if not isinstance(raw, dict):
        problems.append(tr("{where}: expected a mapping of keys, got {type}",
                           where=where, type=type(raw).__name__))
        return None
    data = copy.deepcopy(raw)
    reported = False
    for _ in range(100):
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            if not reported:
                problems += [_problem(model, where, err) for err in errors]
                reported = True
            if not any([_prune(model, data, err) for err in errors]):
                return None
    return None


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(p for p in loc if not (isinstance(p, str) and (p.startswith("function-") or p.startswith("("))))


def _placeholder(annotation: Any) -> Any:
    for t in _unwrap(annotation):
        origin = typing.get_origin(t) or t
        if origin is typing.Literal:
            return typing.get_args(t)[0]
        for kind, value in ((bool, False), (str, ""), (int, 0), (float, 0.0), (list, []), (tuple, []), (dict, {})):
            if origin is kind:
                return value
        if isinstance(t, type) and issubclass(t, BaseModel):
            return {}
    return None


def _prune(root: type[BaseModel], data: Any, err: dict) -> bool:
    """Drop (or neutralise) the value an error is about; False when nothing could be changed."""
    loc = _clean_loc(err["loc"])
    if not loc:
        return False
    parent: Any = data
    for part in loc[:-1]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return False
    key = loc[-1]
    owner = model_at(root, loc[:-1])
    field = owner.model_fields.get(key) if owner is not None and isinstance(key, str) else None
    if err["type"] == "missing" or (field is not None and field.is_required()):
        value = _placeholder(field.annotation) if field is not None else None
        if value is None or (isinstance(parent, dict) and parent.get(key) == value):
            return _drop_container(data, loc)
        parent[key] = value
        return True
    if isinstance(parent, dict) and key in parent:
        del parent[key]
        return True
    if isinstance(parent, list) and isinstance(key, int) and key < len(parent):
        del parent[key]
        return True
    return False


def _drop_container(data: Any, loc: tuple[Any, ...]) -> bool:
    """Drop the list element or dict entry that holds ``loc`` (a part that cannot be repaired)."""
    for cut in range(len(loc) - 1, 0, -1):
        parent: Any = data
        try:
            for part in loc[:cut - 1]:
                parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return False
        key = loc[cut - 1]
        if isinstance(parent, list) and isinstance(key, int) and key < len(parent):
            del parent[key]
            return True
        if isinstance(parent, dict) and key in parent and isinstance(key, str):
            del parent[key]
            return True
    return False
