"""Deliveries over time: the interval chosen from the span, and the counts per
interval the database makes, checked against counting in Python on both dialects."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from pacsflow.ledger.database import open_ledger
from pacsflow.ledger.schema import attempts, runs
from pacsflow.report.timeline import (
    MAX_BUCKETS,
    Throughput,
    align,
    choose_step,
    read_throughput,
)

NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MINUTE, HOUR, DAY, WEEK = 60, 3600, 86_400, 604_800


def buckets(first: datetime, last: datetime) -> tuple[int, datetime, int]:
    step, start = choose_step(first, last)
    return step, start, int((last - start).total_seconds() // step) + 1


@pytest.mark.parametrize(
    ("span", "step"),
    [
        (timedelta(0), 1),
        (timedelta(seconds=45), 1),
        (timedelta(minutes=10), 10),
        (timedelta(hours=1), MINUTE),
        (timedelta(hours=9, minutes=18), 5 * MINUTE),
        (timedelta(days=3), HOUR),
        (timedelta(days=400), WEEK),
        (timedelta(days=20 * 365), 9 * WEEK),
    ],
)
def test_the_interval_suits_the_span(span: timedelta, step: int) -> None:
    assert buckets(NOON, NOON + span)[0] == step


@pytest.mark.parametrize("seconds", [30 * 1.37**k for k in range(45)])
def test_between_thirty_and_a_hundred_and_twenty_intervals(seconds: float) -> None:
    first = NOON + timedelta(seconds=17.25)
    last = first + timedelta(seconds=seconds)

    step, start, count = buckets(first, last)

    assert 30 <= count <= MAX_BUCKETS
    assert start <= first < start + timedelta(seconds=step)
    assert last < start + timedelta(seconds=step * count)


@pytest.mark.parametrize("step", [1, 15, 5 * MINUTE, 2 * HOUR, DAY])
def test_intervals_start_on_a_round_local_time(step: int) -> None:
    moment = datetime(2026, 7, 14, 16, 47, 29, 900_000, tzinfo=UTC)

    start = align(moment, step)

    local = start.astimezone()
    since_midnight = local.hour * HOUR + local.minute * MINUTE + local.second
    assert since_midnight % step == 0
    assert start <= moment < start + timedelta(seconds=step)
    assert local.microsecond == 0


def test_rates_are_per_unit_of_the_interval() -> None:
    throughput = Throughput(NOON, 5 * MINUTE, {"newpacs": [0, 10, 25]}, NOON, NOON)

    assert throughput.unit.name == "min"
    assert throughput.rates("newpacs") == [0.0, 2.0, 5.0]
    assert throughput.buckets == 3
    assert throughput.total() == 35


def test_the_database_counts_each_interval_as_python_does(ledger_url: str) -> None:
    first = datetime(2026, 3, 1, 21, 59, 58, 250_000, tzinfo=UTC)
    delivered = [
        *(("newpacs", first + timedelta(seconds=7 * i), "stored") for i in range(1543)),
        *(("newpacs", first + timedelta(seconds=401 * i), "warning") for i in range(9)),
        *(
            ("archive", first + timedelta(seconds=31.5 * i), "stored")
            for i in range(110)
        ),
    ]
    tried = [
        ("newpacs", first + timedelta(seconds=5 * i), r)
        for i, r in enumerate(["failed", "retry", "lost", "refused"] * 20)
    ]
    engine = open_ledger(ledger_url)
    try:
        with engine.begin() as connection:
            run = connection.scalar(
                insert(runs)
                .values(started_at=first, host="h", pid=1, dry_run=False)
                .returning(runs.c.id)
            )
            connection.execute(
                insert(attempts),
                [
                    {
                        "sop_instance_uid": f"2.25.{n}",
                        "run_id": run,
                        "destination": d,
                        "at": at,
                        "result": result,
                    }
                    for n, (d, at, result) in enumerate(delivered + tried)
                ],
            )
        with engine.connect() as connection:
            throughput = read_throughput(connection)
    finally:
        engine.dispose()

    assert throughput is not None
    last = max(at for _, at, _ in delivered)
    assert throughput.step == 2 * MINUTE
    assert (throughput.first, throughput.last) == (first, last)
    expected: dict[str, Counter[int]] = {"archive": Counter(), "newpacs": Counter()}
    for destination, at, _ in delivered:
        index = math.floor((at - throughput.start).total_seconds() / throughput.step)
        expected[destination][index] += 1
    assert throughput.counts == {
        name: [counts[i] for i in range(throughput.buckets)]
        for name, counts in expected.items()
    }
    assert throughput.total() == len(delivered)


def test_no_deliveries_no_chart(ledger_url: str) -> None:
    engine = open_ledger(ledger_url)
    try:
        with engine.connect() as connection:
            assert read_throughput(connection) is None
    finally:
        engine.dispose()
