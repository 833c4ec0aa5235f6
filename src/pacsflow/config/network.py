"""The whole network file as one :class:`Network`, and the checks across its sections.

Here are the checks that need more than one entry or section: unique source and route
names, exactly one catch-all route and that one last, and every route and the sin bin
naming a defined destination.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from pacsflow.config.destinations import Destination, _Destinations
from pacsflow.config.fields import _AbsolutePath, _DatabaseUrl
from pacsflow.config.problems import _Loc, _raise_problems, _suggest
from pacsflow.config.sections import (
    EventsOptions,
    LegacyDatabase,
    Route,
    RunOptions,
    ScanOptions,
    Source,
    Verdicts,
    _Frozen,
)
from pacsflow.errors import ConfigError

_DEFAULT_TRACKING = "sqlite:///pacsflow.db"


class Network(_Frozen):
    """A whole migration, as described by one network file."""

    file: Path
    """Absolute path of the network file; set by load_network, not written in it."""
    tracking: _DatabaseUrl = Field(default=_DEFAULT_TRACKING, validate_default=True)
    """SQLAlchemy URL of the tracking database; default pacsflow.db beside the file."""
    sources: tuple[Source, ...]
    """The storage folders of the old PACS, as a list of {name, path}."""
    legacy_database: LegacyDatabase | None = None
    """The old PACS's database, as {url, password_env, query}."""
    exclude_studies: _AbsolutePath | None = None
    """File with one StudyInstanceUID per line; those studies are not migrated."""
    routes: tuple[Route, ...]
    """The routes, as a list of {name, match, to}; the last has no match."""
    destinations: _Destinations
    """Destinations by name, each {dicom: {...}}, {folder: {...}} or {terminator:}."""
    sinbin: str | None = None
    """Name of the destination that receives every sin-binned instance."""
    verdicts: Verdicts = Verdicts()
    """Per reconciliation verdict: sinbin (default), send or skip."""
    scan: ScanOptions = ScanOptions()
    """How scans run, as {workers}."""
    run: RunOptions = RunOptions()
    """How runs send, as {order, workers, attempts, backoff, batch}."""
    events: EventsOptions = Field(default_factory=dict, validate_default=True)
    """The event log, as {path, max_bytes, backups}; default events.jsonl beside."""

    @field_validator("scan", "run", "verdicts", "events", mode="before")
    @classmethod
    def _scan_may_be_blank(cls, value: object) -> object:
        """Read ``scan:`` with nothing after it as the defaults."""
        return {} if value is None else value

    @field_validator("sources")
    @classmethod
    def _check_sources(cls, sources: tuple[Source, ...]) -> tuple[Source, ...]:
        """Require at least one source and unique names."""
        if not sources:
            raise ValueError(
                "no sources; list at least one storage folder as {name: ..., path: ...}"
            )
        _raise_problems(_duplicates([source.name for source in sources], "source"))
        return sources

    @field_validator("routes")
    @classmethod
    def _check_routes(cls, routes: tuple[Route, ...]) -> tuple[Route, ...]:
        """Require unique names and exactly one catch-all, placed last."""
        if not routes:
            raise ValueError(
                "no routes; add at least one, the last without `match`, such as "
                "{name: all, to: newpacs}"
            )
        names = [route.name for route in routes]
        _raise_problems(_duplicates(names, "route") + _catch_all_problems(routes))
        return routes

    @field_validator("destinations")
    @classmethod
    def _check_destinations(
        cls, value: Mapping[str, Destination]
    ) -> Mapping[str, Destination]:
        """Require at least one destination."""
        if not value:
            raise ValueError(
                "no destinations; add at least one, such as "
                "newpacs: {dicom: {host: ..., port: 104, ae_title: ...}}"
            )
        return value

    @model_validator(mode="after")
    def _check_destination_names(self) -> Network:
        """Require every route and the sin bin to name a defined destination."""
        problems: list[tuple[_Loc, str]] = []
        for index, route in enumerate(self.routes):
            if route.to not in self.destinations:
                problems.append((("routes", index, "to"), self._unknown(route.to)))
        if self.sinbin is not None and self.sinbin not in self.destinations:
            problems.append((("sinbin",), self._unknown(self.sinbin)))
        _raise_problems(problems)
        return self

    def _unknown(self, name: str) -> str:
        """Describe a reference to a destination that is not defined."""
        names = list(self.destinations)
        return _suggest(
            f"unknown destination {name!r}",
            name,
            names,
            f"the destinations are {', '.join(names)}",
        )

    def source(self, name: str) -> Source:
        """Return the source called ``name``.

        Parameters
        ----------
        name : str
            The source's name as written in the network file.

        Returns
        -------
        Source
            The source of that name.

        Raises
        ------
        ConfigError
            If the network file defines no source of that name.
        """
        for source in self.sources:
            if source.name == name:
                return source
        names = [source.name for source in self.sources]
        problem = f"{self.file}: no source named {name!r}"
        advice = f"the sources are {', '.join(names)}"
        raise ConfigError(_suggest(problem, name, names, advice))


def _duplicates(names: list[str], what: str) -> list[tuple[_Loc, str]]:
    """Find every name already used by an earlier entry."""
    first: dict[str, int] = {}
    problems: list[tuple[_Loc, str]] = []
    for index, name in enumerate(names):
        if name in first:
            problems.append(
                (
                    (index, "name"),
                    f"duplicate {what} name {name!r} (also {what}s[{first[name]}]); "
                    f"give every {what} its own name",
                )
            )
        first.setdefault(name, index)
    return problems


def _catch_all_problems(
    routes: tuple[Route, ...],
) -> list[tuple[_Loc, str]]:
    """Find catch-all routes that are not last, and a last route that is not one."""
    problems: list[tuple[_Loc, str]] = []
    for index, route in enumerate(routes[:-1]):
        if route.match is None:
            later = ", ".join(repr(later.name) for later in routes[index + 1 :])
            problems.append(
                (
                    (index,),
                    f"route {route.name!r} has no match, so it takes every instance "
                    f"and the routes after it ({later}) can never match; give it a "
                    "match or move it last",
                )
            )
    if routes[-1].match is not None:
        problems.append(
            (
                (len(routes) - 1,),
                f"the last route {routes[-1].name!r} has a match, so instances it "
                "does not take would go nowhere; add a last route without `match`",
            )
        )
    return problems
