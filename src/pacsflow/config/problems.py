"""How validation problems are carried and worded.

A validator that finds several problems at once raises :class:`_ProblemsError`, which
keeps each problem's key path; :mod:`pacsflow.config.messages` unpacks it into one line
per problem. :func:`_suggest` and :func:`_show` word what many messages share: a "did
you mean" and a short rendering of the value given.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TypeAlias

_Loc: TypeAlias = tuple[int | str, ...]


class _ProblemsError(ValueError):
    """Several problems found at once, each at a key path below the validated value."""

    def __init__(self, problems: list[tuple[_Loc, str]]) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems


def _raise_problems(problems: list[tuple[_Loc, str]]) -> None:
    """Raise the problems found, if any, for pydantic to report at their key paths."""
    if problems:
        raise _ProblemsError(problems)


def _suggest(problem: str, value: str, candidates: Iterable[str], advice: str) -> str:
    """Join a problem, the closest candidate to ``value`` if any, and advice."""
    close = difflib.get_close_matches(value, list(candidates), n=1)
    if close:
        return f"{problem}; did you mean {close[0]}? {advice[:1].upper()}{advice[1:]}"
    return f"{problem}; {advice}"


def _show(value: object) -> str:
    """Return a short representation of a value for a message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
