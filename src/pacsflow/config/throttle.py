"""A destination's ``throttle``: rate limits, and time windows with their own.

A migration runs for weeks beside a working PACS: in clinic hours the new PACS (and
the network) should see a trickle, at night and at weekends all it can take::

    throttle:
      images_per_second: 200          # outside every window; omit for no limit
      windows:
        - {days: [mon, tue, wed, thu, fri], start: "07:00", end: "19:00",
           images_per_second: 20, mb_per_second: 10}

Times are local, ``HH:MM``; quote them (YAML reads an unquoted ``19:00`` as a number
in base 60, which is understood too). A window whose end is before its start runs
past midnight, into the next day; one whose end equals its start lasts 24 hours
(``start: "00:00", end: "00:00"``: the whole of each listed day). The first window
that holds now gives the limits; outside every window the throttle's own limits hold.

Both kinds of sending destination take a throttle: a DICOM destination shares its
limits among its associations, a folder destination among the run's workers.
``slow_after`` (back off when a C-STORE's answer is slow) is for DICOM destinations
only; a folder destination's throttle refuses it.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Literal

from pydantic import Field, field_validator

from pacsflow.config.sections import _Frozen

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Limits(_Frozen):
    """How fast, at most; None for no limit."""

    images_per_second: float | None = Field(default=None, gt=0)
    """Instances per second, over the whole destination (all its associations or
    workers)."""
    mb_per_second: float | None = Field(default=None, gt=0)
    """Megabytes (10^6 bytes) per second, over the whole destination."""


class Window(Limits):
    """Limits that hold on some days between two local times."""

    days: tuple[Day, ...] = _DAYS
    """Days of the week, as mon ... sun; default every day."""
    start: time
    """Local time the window opens, as "HH:MM"."""
    end: time
    """Local time it closes; before start for a window past midnight, equal to start
    for one of 24 hours."""

    @field_validator("start", "end", mode="before")
    @classmethod
    def _base_sixty(cls, value: object) -> object:
        """Read YAML's base-60 reading of an unquoted 19:00 back as a time."""
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value < 24 * 60:
                raise ValueError(f"expected a time as 'HH:MM'; got {value}")
            return time(value // 60, value % 60)
        return value

    def holds(self, moment: datetime) -> bool:
        """Whether ``moment`` (local time) is inside the window."""
        now = moment.time()
        today = _DAYS[moment.weekday()]
        if self.start < self.end:
            return today in self.days and self.start <= now < self.end
        if now >= self.start:  # from the start to midnight, on a listed day
            return today in self.days
        yesterday = _DAYS[(moment.weekday() - 1) % 7]
        return now < self.end and yesterday in self.days


class ThrottleOptions(Limits):
    """A destination's limits, and the windows that replace them."""

    windows: tuple[Window, ...] = ()
    """Time windows with their own limits; the first that holds wins."""
    slow_after: float | None = Field(default=None, gt=0)
    """Seconds a C-STORE may take before pacsflow backs off as it does on 0xA7xx
    (DICOM destinations only)."""

    def limits_at(self, moment: datetime) -> Limits:
        """The limits that hold at ``moment`` (local time)."""
        for window in self.windows:
            if window.holds(moment):
                return window
        return self
