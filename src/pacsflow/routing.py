"""Routes: which destination each instance goes to. The first route that matches wins.

A route's ``match`` is a set of conditions that must all hold; a list accepts any of
its values and a ``not_`` list refuses all of its values. The facts come from the
ledger (SOP class, transfer syntax, pixel data, modality) and, for ``tags``
conditions, from the instance's header (see :func:`tag_keywords`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pacsflow.config import Match, Route


@dataclass(frozen=True, slots=True)
class Facts:
    """What routing knows of one instance."""

    sop_class: str
    transfer_syntax: str
    pixel_data: bool
    modality: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    """DICOM keyword → the header's value as text, for the keywords routes use."""


def choose(routes: Sequence[Route], facts: Facts) -> Route:
    """The first route whose match the instance meets.

    The network file guarantees a last route without ``match``, so one always wins.
    """
    for route in routes:
        if route.match is None or matches(route.match, facts):
            return route
    raise LookupError("no route matched; the last route must have no match")


def matches(match: Match, facts: Facts) -> bool:
    """Whether the instance meets every condition of ``match``."""
    if match.pixel_data is not None and match.pixel_data != facts.pixel_data:
        return False
    checks = (
        (match.sop_class, match.not_sop_class, facts.sop_class),
        (match.transfer_syntax, match.not_transfer_syntax, facts.transfer_syntax),
        (match.modality, match.not_modality, facts.modality or ""),
    )
    for accepted, refused, value in checks:
        if (accepted and value not in accepted) or value in refused:
            return False
    for keyword, values in match.tags.items():
        if facts.tags.get(keyword, "") not in values:
            return False
    return all(
        facts.tags.get(keyword, "") not in values
        for keyword, values in match.not_tags.items()
    )


def tag_keywords(routes: Sequence[Route]) -> frozenset[str]:
    """The DICOM keywords whose header values the routes look at."""
    keywords: set[str] = set()
    for route in routes:
        if route.match is not None:
            keywords.update(route.match.tags, route.match.not_tags)
    return frozenset(keywords)
