"""Turning pydantic's validation errors into the network file's messages.

Every problem becomes one line ``<file>: <key path>: <problem>``, the key path written
as a user would write it (``routes[1].match.sop_class[0]``). To say which keys are
allowed where one is unknown or missing, the section class expected at a key path is
found by following the declared types down from :class:`Network`.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Annotated, TypeGuard, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from pacsflow.config.fields import _SIMPLE_NAME
from pacsflow.config.network import Network
from pacsflow.config.problems import _Loc, _ProblemsError, _show, _suggest
from pacsflow.config.sections import _Frozen

_HIDDEN_KEYS = frozenset({"file", "kind"})


def _explain(exc: ValidationError, given: str) -> str:
    """Return one line per problem, each with the file and the key path."""
    lines = []
    for error in exc.errors(include_url=False):
        for loc, problem in _problems(error):
            where = _key_path(loc)
            lines.append(
                f"{given}: {where}: {problem}" if where else f"{given}: {problem}"
            )
    return "\n".join(lines)


def _problems(error: ErrorDetails) -> list[tuple[_Loc, str]]:
    """Turn one pydantic error into (key path, message) pairs."""
    loc = tuple(error["loc"])
    kind = error["type"]
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, _ProblemsError):
        return [(loc + sub, message) for sub, message in cause.problems]
    if kind == "value_error" and cause is not None:
        return [(loc, str(cause))]
    if kind == "extra_forbidden":
        return [(loc, _unknown_key(_model_at(loc[:-1]), loc[-1]))]
    if kind == "missing":
        return [(loc, _missing(loc))]
    return [(loc, _explain_type_error(error))]


def _explain_type_error(error: ErrorDetails) -> str:
    """Say what was expected and what came, in the network file's terms."""
    kind = error["type"]
    given = error["input"]
    message = error["msg"]
    if kind in ("model_type", "dict_type", "model_attributes_type", "mapping_type"):
        expected = "expected a mapping"
        model = _model_at(tuple(error["loc"]))
        if model is not None:
            expected += f" with keys from {', '.join(_public_keys(model))}"
    elif kind in ("tuple_type", "list_type"):
        expected = "expected a list"
    elif message.startswith(("Input should be greater", "Input should be less")):
        expected = "expected a number " + message.removeprefix("Input should be ")
    elif message.startswith("Input should be "):
        expected = "expected " + message.removeprefix("Input should be ")
    else:
        expected = message[:1].lower() + message[1:]
    hint = ""
    if isinstance(given, bool) and kind == "string_type":
        hint = "; YAML reads yes/no/on/off/true/false as booleans, quote it for text"
    got = "nothing (the key is blank)" if given is None else _show(given)
    return f"{expected}; got {got}{hint}"


def _missing(loc: _Loc) -> str:
    """Describe a required key that is not there."""
    model = _model_at(loc[:-1])
    if model is not None and loc[-1] in model.model_fields:
        description = model.model_fields[str(loc[-1])].description
        if description:
            expected = description[:1].lower() + description[1:].rstrip(".")
            return f"required key missing; expected {expected}"
    return "required key missing"


def _unknown_key(model: type[_Frozen] | None, key: int | str) -> str:
    """Name an unknown key and list the keys allowed where it was written."""
    if model is None:
        return f"unknown key {key!r}"
    allowed = _public_keys(model)
    advice = f"allowed here: {', '.join(allowed)}"
    return _suggest(f"unknown key {key!r}", str(key), allowed, advice)


def _public_keys(model: type[BaseModel]) -> list[str]:
    """Return the keys a user may write for ``model``, in definition order."""
    return [name for name in model.model_fields if name not in _HIDDEN_KEYS]


def _is_model(value: object) -> TypeGuard[type[_Frozen]]:
    """Tell whether ``value`` is one of the network file's section classes."""
    return isinstance(value, type) and issubclass(value, _Frozen)


def _key_path(loc: _Loc) -> str:
    """Write an error location as the key path a user would write it."""
    if loc and loc[-1] == "[key]":
        loc = loc[:-1]
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _SIMPLE_NAME.fullmatch(part):
            path += f".{part}" if path else part
        else:
            path += f"[{part!r}]"
    return path


def _model_at(loc: _Loc) -> type[_Frozen] | None:
    """Return the section class expected at ``loc``, if one is."""
    models = [option for option in _options(_type_at(loc)) if _is_model(option)]
    return models[0] if len(models) == 1 else None


def _type_at(loc: _Loc) -> object:
    """Return the declared type found by following ``loc`` down from Network."""
    node: object = Network
    for part in loc:
        node = _step(node, part)
        if node is None:
            return None
    return node


def _step(node: object, part: int | str) -> object:
    """Return the type one key or index below ``node``, or None if unknown."""
    options = list(_options(node))
    for option in options:
        if _is_model(option):
            field = option.model_fields.get(str(part))
            if field is not None:
                return field.annotation
        elif get_origin(option) is tuple and isinstance(part, int):
            return get_args(option)[0]
        elif get_origin(option) in (Mapping, dict) and isinstance(part, str):
            return get_args(option)[1]
    return _tagged_member(options, part)


def _tagged_member(options: list[object], part: int | str) -> object:
    """Return the union member whose ``kind`` is ``part`` (pydantic's tag in a loc)."""
    for option in options:
        if _is_model(option):
            kind = option.model_fields.get("kind")
            if kind is not None and kind.default == part:
                return option
    return None


def _options(node: object) -> list[object]:
    """Unpack Annotated and unions into the plain types they stand for."""
    origin = get_origin(node)
    if origin is Annotated:
        return _options(get_args(node)[0])
    if origin in (Union, types.UnionType):
        return [member for arg in get_args(node) for member in _options(arg)]
    return [node]
