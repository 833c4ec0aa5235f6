"""How the report writes numbers, shares, times and durations for people.

Times are shown in the local time zone of the machine that makes the report, with
its offset from UTC said once (``UTC+01:00``); shares never round a few to 0 % or
all but a few to 100 %.
"""

from __future__ import annotations

from datetime import datetime


def share(value: int, total: int | None) -> str:
    """``value`` as a percentage of ``total``; never rounded to 0 % or 100 %."""
    if not total:
        return "–"
    percent = 100 * value / total
    if 0 < percent < 0.05:
        return "<0.1 %"
    if value < total and percent >= 99.95:
        return ">99.9 %"
    return f"{percent:.1f} %"


def number(value: float) -> str:
    """A rate or tick value, with a decimal only where it matters."""
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.1f}" if value >= 10 else f"{value:,.2f}".rstrip("0").rstrip(".")


def local_time(moment: datetime, seconds: bool = False) -> str:
    """A moment in local time for people: ``4 Dec 2026, 08:15``."""
    local = moment.astimezone()
    clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
    return f"{local.day} {local:%b %Y}, {clock}"


def span(first: datetime, last: datetime) -> str:
    """Two moments in local time, the second without what it shares with the first."""
    start, end = first.astimezone(), last.astimezone()
    if start.date() != end.date():
        return f"from {local_time(start)} to {local_time(end)}"
    seconds = (end - start).total_seconds() < 600
    clock = f"{end:%H:%M:%S}" if seconds else f"{end:%H:%M}"
    return f"{local_time(start, seconds)} to {clock}"


def zone(moment: datetime) -> str:
    """The local time zone's offset from UTC: ``UTC+01:00``."""
    offset = moment.astimezone().strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}"


def duration(step: int) -> str:
    """An interval length as an adjective: ``5-minute``."""
    for seconds, word in ((604_800, "week"), (86_400, "day"), (3600, "hour")):
        if step % seconds == 0:
            return f"{step // seconds}-{word}"
    if step % 60 == 0:
        return f"{step // 60}-minute"
    return f"{step}-second"
