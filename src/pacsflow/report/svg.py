"""Charts as inline SVG text: horizontal bars and stacked bars, and the drawing
elements the time chart (:mod:`pacsflow.report.timechart`) shares with them.

Each chart function returns one ``<svg>`` element sized by its ``viewBox`` so that it
scales with the page; fonts and colours of text and axes come from the page's CSS
(classes ``label``, ``value``, ``axis``, ``grid``, ``legend``). Every text drawn is
escaped here, so callers may pass labels straight from the ledger. A ``<title>`` on
each bar and point shows its exact number when hovered, with no script.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from pacsflow.report.words import share

CHAR = 7.2
"""The width of one character of 13 px text, roughly, to lay out labels."""

ROW = 30
"""The height of one bar's row."""


@dataclass(frozen=True, slots=True)
class Bar:
    """One horizontal bar."""

    label: str
    value: int
    colour: str


@dataclass(frozen=True, slots=True)
class Segment:
    """One part of a stacked bar: the key it is read by, its name and colour."""

    key: str
    label: str
    colour: str


def hbars(bars: Sequence[Bar], *, total: int | None = None, width: int = 560) -> str:
    """Horizontal bars, one per row, longest value at full width.

    Parameters
    ----------
    bars : sequence of Bar
        The rows, top to bottom.
    total : int, optional
        When given, each value is followed by its share of it.
    width : int
        The drawing's width in user units.
    """
    label_width = _label_width([b.label for b in bars], width)
    room = width - label_width - 110
    top = max((b.value for b in bars), default=0) or 1
    rows = []
    for index, bar in enumerate(bars):
        y = index * ROW
        length = room * bar.value / top
        value = f"{bar.value:,}" + (f" ({share(bar.value, total)})" if total else "")
        rows.append(
            _row_label(bar.label, label_width, y)
            + rect(label_width, y + 6, length, ROW - 12, bar.colour, value)
            + text(label_width + length + 6, y + ROW / 2 + 4, value, "value")
        )
    return drawing(width, max(len(bars), 1) * ROW, "".join(rows))


def stacked_hbars(
    rows: Sequence[tuple[str, Mapping[str, int]]],
    segments: Sequence[Segment],
    *,
    width: int = 960,
) -> str:
    """One horizontal stacked bar per row, on a common scale, under a legend.

    Parameters
    ----------
    rows : sequence of (str, mapping of str to int)
        Each row's label and its value per segment key.
    segments : sequence of Segment
        The parts of every bar, left to right.
    width : int
        The drawing's width in user units.
    """
    label_width = _label_width([label for label, _ in rows], width)
    room = width - label_width - 90
    top = max((sum(values.values()) for _, values in rows), default=0) or 1
    body = [legend(segments, 0, width)]
    for index, (label, values) in enumerate(rows):
        y = ROW + 6 + index * ROW
        x = float(label_width)
        body.append(_row_label(label, label_width, y))
        for segment in segments:
            value = values.get(segment.key, 0)
            length = room * value / top
            tip = f"{label}: {segment.label} {value:,}"
            body.append(rect(x, y + 5, length, ROW - 10, segment.colour, tip))
            if length >= 8 * len(f"{value:,}") + 10:
                body.append(
                    text(x + length / 2, y + ROW / 2 + 4, f"{value:,}", "in middle")
                )
            x += length
        total = sum(values.values())
        body.append(text(x + 6, y + ROW / 2 + 4, f"{total:,}", "value"))
    return drawing(width, ROW + 12 + max(len(rows), 1) * ROW, "".join(body))


def legend(segments: Sequence[Segment], y: float, width: int) -> str:
    """Coloured squares with names, in one row from the left."""
    parts = []
    x = 0.0
    for segment in segments:
        parts.append(
            f'<rect x="{x:.1f}" y="{y + 6:.1f}" width="12" height="12" rx="2" '
            f'fill="{segment.colour}"/>'
        )
        parts.append(text(x + 17, y + 16.5, segment.label, "legend"))
        x += 17 + CHAR * len(segment.label) + 22
        if x > width - 80:
            break
    return "".join(parts)


def _row_label(label: str, label_width: int, y: float) -> str:
    """A row's name, right-aligned before its bar, shortened to fit."""
    fits = int((label_width - 10) / CHAR)
    shown = label if len(label) <= fits else label[: max(fits - 1, 1)] + "…"
    return (
        f'<text class="label" x="{label_width - 8}" y="{y + ROW / 2 + 4:.1f}" '
        f'text-anchor="end"><title>{escape(label)}</title>{escape(shown)}</text>'
    )


def _label_width(labels: Sequence[str], width: int) -> int:
    """Room for the longest label, at most 40 % of the drawing."""
    longest = max((len(label) for label in labels), default=0)
    return int(min(max(CHAR * longest + 14, 60), width * 0.4))


def rect(x: float, y: float, w: float, h: float, colour: str, tip: str) -> str:
    """A filled rectangle with hover text."""
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" '
        f'fill="{colour}"><title>{escape(tip)}</title></rect>'
    )


def line(x1: float, y1: float, x2: float, y2: float, cls: str = "axis") -> str:
    """A straight line drawn in a CSS class's stroke."""
    return (
        f'<line class="{cls}" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"/>'
    )


def text(x: float, y: float, content: str, cls: str) -> str:
    """Escaped text; a class ``end`` or ``middle`` anchors it there."""
    anchor = next((a for a in ("end", "middle") if a in cls.split()), "start")
    return (
        f'<text class="{cls}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">'
        f"{escape(content)}</text>"
    )


def drawing(width: int, height: float, body: str) -> str:
    """The drawing, scaled to its container's width."""
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height:.0f}" role="img" '
        'preserveAspectRatio="xMinYMin meet">'
        f"{body}</svg>"
    )
