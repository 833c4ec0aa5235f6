"""Reading a network file: YAML with repeated keys refused, then validation.

:func:`_load_network` is the body of :func:`pacsflow.config.load_network`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pacsflow.config.fields import _BASE_DIR, _absolute
from pacsflow.config.messages import _explain, _unknown_key
from pacsflow.config.network import Network
from pacsflow.config.problems import _show
from pacsflow.errors import ConfigError

logger = logging.getLogger(__name__)


def _load_network(path: str | os.PathLike[str]) -> Network:
    """Read and validate a network file (see :func:`pacsflow.config.load_network`)."""
    given = os.fspath(path)
    file = _absolute(Path(given), Path.cwd())
    data = _read_yaml(file, given)
    if not isinstance(data, dict):
        raise ConfigError(
            f"{given}: expected a mapping of keys (sources, routes, destinations, ...) "
            f"at the top level; got {_describe_top_level(data)}"
        )
    if "file" in data:
        raise ConfigError(f"{given}: file: {_unknown_key(Network, 'file')}")

    try:
        network = Network.model_validate(
            {**data, "file": file}, context={_BASE_DIR: file.parent}
        )
    except ValidationError as exc:
        raise ConfigError(_explain(exc, given)) from exc

    logger.debug(
        "loaded %s: %d sources, %d routes, %d destinations",
        file,
        len(network.sources),
        len(network.routes),
        len(network.destinations),
    )
    return network


class _StrictLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a key written twice in one mapping."""

    def construct_mapping(
        self, node: yaml.MappingNode, deep: bool = False
    ) -> dict[Any, Any]:
        """Construct a mapping after checking its keys are not repeated."""
        seen: set[tuple[str, object]] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = (key_node.tag, key_node.value)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"the key {key_node.value!r} is written twice; keep one",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(file: Path, given: str) -> object:
    """Return the parsed content of the network file."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{given}: network file not found; expected a YAML file at {file}"
        ) from exc
    except OSError as exc:
        raise ConfigError(
            f"{given}: cannot read the network file: {exc.strerror or exc}"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{given}: the network file is not UTF-8 text (byte {exc.start}); "
            "save it as UTF-8"
        ) from exc

    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(
            f"{given}: {where}invalid YAML: {exc.problem or exc.context}"
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{given}: invalid YAML: {exc}") from exc


def _describe_top_level(data: object) -> str:
    """Say what the file holds instead of a mapping."""
    if data is None:
        return "an empty file"
    if isinstance(data, list):
        return "a list"
    return _show(data)
