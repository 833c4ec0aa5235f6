"""The time chart: images delivered per interval, one line (or bar) per destination.

The horizontal axis is labelled at round clock times (on the hour, every ten
minutes ...) in the time zone of the first interval's start; the vertical axis at
round rates from zero. With fifteen intervals or fewer the chart draws side-by-side
bars, else lines with a dot on every interval that had a delivery; each bar and dot
shows its interval and rate when hovered.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from pacsflow.report import svg
from pacsflow.report.timeline import STEPS
from pacsflow.report.words import number


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a time chart."""

    label: str
    colour: str
    values: Sequence[float]


def time_chart(
    series: Sequence[Series],
    *,
    start: datetime,
    step: int,
    unit: str,
    width: int = 960,
    height: int = 320,
) -> str:
    """Rates over equal intervals: lines, or grouped bars when there are few.

    Parameters
    ----------
    series : sequence of Series
        One per destination; all of the same length.
    start : datetime
        The start of the first interval, in the time zone to show.
    step : int
        The interval length in seconds.
    unit : str
        The rate's unit, for the vertical axis (``images/min``).
    width, height : int
        The drawing's size in user units.
    """
    frame = _Frame(width, height, len(series[0].values) if series else 0)
    peak = max((max(s.values, default=0.0) for s in series), default=0.0)
    ticks = nice_ticks(peak)
    scale = frame.plot_height / (ticks[-1] or 1)
    body = [
        svg.legend([svg.Segment(s.label, s.label, s.colour) for s in series], 0, width),
        _y_axis(frame, ticks, scale, unit),
        _x_axis(frame, start, step),
    ]
    draw = _bars if frame.buckets <= 15 else _lines
    body.append(draw(frame, series, scale, start, step))
    return svg.drawing(width, height, "".join(body))


def nice_ticks(peak: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``peak``, about ``count`` of them."""
    if peak <= 0:
        return [0.0, 1.0]
    raw = peak / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return [step * i for i in range(math.ceil(peak / step - 1e-9) + 1)]


@dataclass(frozen=True, slots=True)
class _Frame:
    """Where a time chart's plot area lies in its drawing."""

    width: int
    height: int
    buckets: int
    left: int = 64
    top: int = 40
    bottom: int = 46
    right: int = 16

    @property
    def plot_width(self) -> float:
        """The width of the plot area, between the axes' margins."""
        return float(self.width - self.left - self.right)

    @property
    def plot_height(self) -> float:
        """The height of the plot area, between legend and time labels."""
        return float(self.height - self.top - self.bottom)

    @property
    def slot(self) -> float:
        """The width of one interval."""
        return self.plot_width / max(self.buckets, 1)

    @property
    def base(self) -> float:
        """The y of the horizontal axis."""
        return self.top + self.plot_height


def _y_axis(frame: _Frame, ticks: list[float], scale: float, unit: str) -> str:
    """Grid lines with their values, and the unit written along the axis."""
    parts = []
    for tick in ticks:
        y = frame.base - tick * scale
        parts.append(svg.line(frame.left, y, frame.width - frame.right, y, "grid"))
        parts.append(svg.text(frame.left - 8, y + 4, number(tick), "axis end"))
    middle = frame.top + frame.plot_height / 2
    parts.append(
        f'<text class="axis unit" transform="translate(14 {middle:.1f}) rotate(-90)" '
        f'text-anchor="middle">{escape(unit)}</text>'
    )
    return "".join(parts)


def _x_axis(frame: _Frame, start: datetime, step: int) -> str:
    """Time labels at round clock times, at most about ten of them."""
    every = _tick_every(step, frame.buckets)
    parts = [svg.line(frame.left, frame.base, frame.width - frame.right, frame.base)]
    previous: datetime | None = None
    for index in range(
        _first_tick(start, every, step), frame.buckets + 1, every // step
    ):
        moment = start + timedelta(seconds=step * index)
        x = frame.left + index * frame.slot
        parts.append(svg.line(x, frame.base, x, frame.base + 5))
        label = _clock(moment, every, previous)
        parts.append(svg.text(x, frame.base + 20, label, "axis middle"))
        previous = moment
    return "".join(parts)


def _tick_every(step: int, buckets: int) -> int:
    """The round time between two labels: a multiple of ``step``, ten or fewer
    labels."""
    candidates = [s for s in STEPS if s % step == 0]
    span = step * buckets
    fitting = (s for s in candidates if span / s <= 10)
    return next(fitting, step * math.ceil(buckets / 10))


def _first_tick(start: datetime, every: int, step: int) -> int:
    """The first interval that starts at a round multiple of ``every`` in the day."""
    if every > 86_400:
        return 0
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    since = int((start - midnight).total_seconds())
    return (-since % every) // step


def _lines(
    frame: _Frame, series: Sequence[Series], scale: float, start: datetime, step: int
) -> str:
    """One polyline per series through the middle of each interval."""
    parts = []
    for one in series:
        points = [
            (frame.left + (i + 0.5) * frame.slot, frame.base - v * scale)
            for i, v in enumerate(one.values)
        ]
        joined = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(
            f'<polyline points="{joined}" fill="none" stroke="{one.colour}" '
            'stroke-width="2.2" stroke-linejoin="round"/>'
        )
        for i, (x, y) in enumerate(points):
            if not one.values[i]:
                continue
            tip = _tip(one, i, start, step)
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.6" fill="{one.colour}">'
                f"<title>{escape(tip)}</title></circle>"
            )
    return "".join(parts)


def _bars(
    frame: _Frame, series: Sequence[Series], scale: float, start: datetime, step: int
) -> str:
    """Side-by-side bars per interval, one per series."""
    parts = []
    inner = frame.slot * 0.7 / max(len(series), 1)
    for s, one in enumerate(series):
        for i, value in enumerate(one.values):
            x = frame.left + i * frame.slot + frame.slot * 0.15 + s * inner
            tip = _tip(one, i, start, step)
            parts.append(
                svg.rect(
                    x, frame.base - value * scale, inner, value * scale, one.colour, tip
                )
            )
    return "".join(parts)


def _tip(one: Series, index: int, start: datetime, step: int) -> str:
    """A point's hover text: series, interval start and rate."""
    moment = start + timedelta(seconds=step * index)
    return f"{one.label}, {moment:%Y-%m-%d %H:%M:%S}: {number(one.values[index])}"


def _clock(moment: datetime, step: int, previous: datetime | None) -> str:
    """A time label as precise as the interval, with the date when it changes."""
    if step >= 86_400:
        return f"{moment.day} {moment:%b}"
    clock = f"{moment:%H:%M:%S}" if step < 60 else f"{moment:%H:%M}"
    if previous is None or previous.date() != moment.date():
        return f"{moment.day} {moment:%b} {clock}"
    return clock
