"""The chart primitives: text escaped, scales round, nothing outside the drawing."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from pacsflow.report.svg import Bar, Segment, hbars, stacked_hbars
from pacsflow.report.timechart import Series, nice_ticks, time_chart

HOSTILE = '<script>alert("x")</script> & "quotes"'


class Texts(HTMLParser):
    """Tags and text of an SVG fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(svg: str) -> Texts:
    texts = Texts()
    texts.feed(svg)
    texts.close()
    return texts


def test_labels_from_the_ledger_are_escaped() -> None:
    drawings = [
        hbars([Bar(HOSTILE, 3, "#000")], total=4),
        stacked_hbars([(HOSTILE, {"a": 1})], [Segment("a", HOSTILE, "#000")]),
        time_chart(
            [Series(HOSTILE, "#000", [1.0] * 40)],
            start=datetime(2026, 1, 1, tzinfo=UTC),
            step=60,
            unit="images/min",
        ),
    ]

    for svg in drawings:
        parsed = parse(svg)
        assert "script" not in parsed.tags
        assert "<script>" not in svg
        assert HOSTILE in "".join(parsed.text)


def test_bars_show_value_and_share() -> None:
    text = "".join(parse(hbars([Bar("sent", 1234, "#0f0")], total=2000)).text)

    assert "1,234 (61.7 %)" in text


@pytest.mark.parametrize(
    ("peak", "ticks"),
    [
        (0, [0.0, 1.0]),
        (7.4, [0.0, 2.0, 4.0, 6.0, 8.0]),
        (200, [0.0, 50.0, 100.0, 150.0, 200.0]),
        (0.33, [0.0, 0.1, 0.2, 0.3, 0.4]),
        (1234, [0.0, 250.0, 500.0, 750.0, 1000.0, 1250.0]),
    ],
)
def test_ticks_are_round_and_cover_the_peak(peak: float, ticks: list[float]) -> None:
    assert nice_ticks(peak) == pytest.approx(ticks)


def test_few_intervals_are_bars_many_are_lines() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    few = time_chart([Series("a", "#000", [1, 2, 3])], start=start, step=1, unit="u")
    many = time_chart([Series("a", "#000", [1] * 60)], start=start, step=1, unit="u")

    assert "polyline" not in parse(few).tags
    assert "polyline" in parse(many).tags
