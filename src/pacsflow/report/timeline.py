"""Images delivered over time, per destination, counted in the database.

The time axis of the report: every ``attempts`` row that delivered an instance
(``stored`` by a folder or terminator, ``success`` or ``warning`` from a DICOM peer)
falls into an interval, and each destination gets one count per interval.

The interval is chosen from the time span so that the chart has at most
:data:`MAX_BUCKETS` of them (and, for any span longer than a few seconds, at least
about 40): 1 s up to a week, through the usual round steps. Intervals start on a
round local clock time (a minute interval on the minute, an hour one on the hour).

Counting is one grouped query. An attempt's interval is its whole seconds since the
first interval's start, divided by the interval length; only the "seconds between two
timestamps" part differs between the databases the ledger runs on.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Connection, Integer, cast, extract, func, select

from pacsflow.errors import LedgerError
from pacsflow.ledger.schema import attempts

log = logging.getLogger(__name__)

DELIVERED = ("stored", "warning")
"""The ``attempts.result`` values of a try that left the instance at its
destination."""

MAX_BUCKETS = 120
"""The most intervals a throughput chart shows."""

_MINUTE = 60
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR
_WEEK = 7 * _DAY

STEPS = (
    *(1, 2, 5, 10, 15, 30),
    *(m * _MINUTE for m in (1, 2, 5, 10, 15, 30)),
    *(h * _HOUR for h in (1, 2, 3, 6, 12)),
    *(d * _DAY for d in (1, 2)),
    _WEEK,
)
"""The interval lengths to choose from, in seconds; past a week, whole weeks."""


@dataclass(frozen=True, slots=True)
class Unit:
    """The unit a rate is shown in: ``images/min`` and its length in seconds."""

    name: str
    seconds: int


UNITS = (Unit("s", 1), Unit("min", _MINUTE), Unit("h", _HOUR), Unit("day", _DAY))


@dataclass(frozen=True)
class Throughput:
    """Delivered images per interval and destination.

    Attributes
    ----------
    start : datetime
        The start of the first interval, timezone-aware, in local time.
    step : int
        The interval length in seconds.
    counts : dict of str to list of int
        Per destination, the images delivered in each interval, oldest first; every
        list has the same length.
    first, last : datetime
        The first and the last delivery, timezone-aware.
    """

    start: datetime
    step: int
    counts: dict[str, list[int]]
    first: datetime
    last: datetime

    @property
    def buckets(self) -> int:
        """How many intervals the chart has."""
        return len(next(iter(self.counts.values()), []))

    @property
    def unit(self) -> Unit:
        """The largest unit no longer than the interval: the rate's unit."""
        return [u for u in UNITS if u.seconds <= self.step][-1]

    def rates(self, destination: str) -> list[float]:
        """The destination's images per :attr:`unit` in each interval."""
        per_unit = self.step / self.unit.seconds
        return [count / per_unit for count in self.counts[destination]]

    def total(self) -> int:
        """Every delivery counted."""
        return sum(sum(values) for values in self.counts.values())


def read_throughput(connection: Connection) -> Throughput | None:
    """Count the delivered images per interval and destination, or None if none.

    Parameters
    ----------
    connection : Connection
        The ledger (SQLite or PostgreSQL).

    Raises
    ------
    LedgerError
        If the ledger is on a database this query cannot bucket timestamps in.
    """
    delivered = attempts.c.result.in_(DELIVERED)
    span = select(func.min(attempts.c.at), func.max(attempts.c.at)).where(delivered)
    first, last = connection.execute(span).one()
    if first is None or last is None:
        return None
    first, last = _aware(first), _aware(last)
    step, start = choose_step(first, last)
    log.debug(
        "deliveries from %s to %s, counted in %d-second intervals", first, last, step
    )

    buckets = _bucket_count(start, last, step)
    seconds = _seconds_since(connection.dialect.name, start)
    timed = select(
        attempts.c.destination.label("destination"),
        (seconds // step).label("bucket"),
    ).where(delivered)
    grouped = timed.subquery()
    query = select(grouped.c.destination, grouped.c.bucket, func.count()).group_by(
        grouped.c.destination, grouped.c.bucket
    )

    counts: dict[str, list[int]] = {}
    for destination, bucket, count in connection.execute(query):
        row = counts.setdefault(destination, [0] * buckets)
        # Sub-second rounding can only pull an attempt into a neighbour interval.
        row[min(max(int(bucket), 0), buckets - 1)] += count
    return Throughput(start, step, dict(sorted(counts.items())), first, last)


def choose_step(first: datetime, last: datetime) -> tuple[int, datetime]:
    """The interval length (s) and first interval start for deliveries in a span.

    The shortest of :data:`STEPS` that covers the span, from a round start, in at
    most :data:`MAX_BUCKETS` intervals; past the longest step, whole weeks.

    Parameters
    ----------
    first, last : datetime
        The first and the last delivery, timezone-aware.

    Returns
    -------
    tuple of (int, datetime)
        The step in seconds and the first interval's start, in local time.
    """
    for step in STEPS:
        start = align(first, step)
        if _bucket_count(start, last, step) <= MAX_BUCKETS:
            return step, start
    weeks = math.ceil((last - first).total_seconds() / _WEEK / (MAX_BUCKETS - 1))
    return weeks * _WEEK, align(first, _WEEK)


def align(moment: datetime, step: int) -> datetime:
    """The latest round local time at or before ``moment`` for intervals of ``step``.

    Steps up to a day start on a multiple of the step since local midnight; longer
    ones start at local midnight.
    """
    local = moment.astimezone().replace(microsecond=0)
    midnight = local.replace(hour=0, minute=0, second=0)
    if step >= _DAY:
        return midnight
    since = int((local - midnight).total_seconds())
    return local - timedelta(seconds=since % step)


def _bucket_count(start: datetime, last: datetime, step: int) -> int:
    """How many intervals of ``step`` from ``start`` it takes to reach ``last``."""
    return int((last - start).total_seconds() // step) + 1


def _seconds_since(dialect: str, start: datetime) -> Any:
    """Whole seconds from ``start`` to each attempt, as an SQL expression."""
    at = attempts.c.at
    if dialect == "sqlite":
        # SQLite holds UTC text without an offset; strftime('%s') reads it as UTC.
        utc = start.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
        since = cast(func.strftime("%s", utc), Integer)
        return cast(func.strftime("%s", at), Integer) - since
    if dialect == "postgresql":
        return cast(func.floor(extract("epoch", at - start)), BigInteger)
    raise LedgerError(
        f"the report cannot count deliveries over time in a {dialect} ledger; use "
        "SQLite or PostgreSQL"
    )


def _aware(moment: datetime) -> datetime:
    """A timestamp from the ledger, timezone-aware (SQLite gives naive UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
