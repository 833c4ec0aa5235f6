"""How numbers, shares, times and intervals are written on the page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pacsflow.report.words import duration, local_time, number, share, span


@pytest.mark.parametrize(
    ("value", "total", "text"),
    [
        (0, 10, "0.0 %"),
        (1, 100_000, "<0.1 %"),
        (99_999, 100_000, ">99.9 %"),
        (5, 5, "100.0 %"),
        (3, 0, "–"),
    ],
)
def test_shares_never_round_to_nothing_or_everything(
    value: int, total: int, text: str
) -> None:
    assert share(value, total) == text


@pytest.mark.parametrize(
    ("step", "text"),
    [
        (1, "1-second"),
        (30, "30-second"),
        (120, "2-minute"),
        (3600, "1-hour"),
        (21_600, "6-hour"),
        (86_400, "1-day"),
        (1_814_400, "3-week"),
    ],
)
def test_intervals_read_as_adjectives(step: int, text: str) -> None:
    assert duration(step) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, "0"), (12_345.0, "12,345"), (2.5, "2.5"), (0.25, "0.25"), (37.44, "37.4")],
)
def test_rates_show_decimals_only_where_they_matter(value: float, text: str) -> None:
    assert number(value) == text


def test_a_span_within_a_day_names_the_day_once() -> None:
    first = datetime(2026, 6, 3, 12, 0, 5, tzinfo=UTC).astimezone()
    short = span(first, first + timedelta(seconds=90))
    long = span(first, first + timedelta(hours=3))

    assert short.startswith(local_time(first, seconds=True))
    assert short.count(str(first.year)) == 1 and short.count(":") == 4
    assert long.count(":") == 2
    assert span(first, first + timedelta(days=2)).startswith("from ")
