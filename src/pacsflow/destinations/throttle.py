"""Pacing a destination's sends to its configured rate.

Each sender paces itself at its share of the limits: the destination's limits divided
by how many batches of it may be in flight at once (a DICOM destination's
``associations``, at most the run's workers; a folder destination's, the run's
workers), so however many run at once the destination never sees more than its limit.
Pacing spaces the sends out, without bursts: each instance waits until its own share
of time has passed since the previous one started, the first since the sender opened,
so a run of many small batches is held to the rate too. The limits are looked up for
each instance, so a window that opens or closes takes effect at once.

A destination that answers 0xA7xx (out of resources), or takes longer than
``slow_after`` to answer, gets a growing pause after each answer before the next send
(:meth:`Pacer.adapt`), with or without limits, until it keeps up again.

:class:`ReadPacing` does the same for reading a source folder, whose limit
(``read_mb_per_second``) spares the old storage that still serves the clinics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from pacsflow.config.throttle import ThrottleOptions
from pacsflow.destinations.base import Item

log = logging.getLogger(__name__)

_FIRST_SLOWDOWN = 0.05
_MAX_SLOWDOWN = 5.0


class Pacer:
    """Spaces one sender's sends out to its share of the limits.

    Parameters
    ----------
    options : ThrottleOptions
        The destination's throttle.
    share : int
        How many senders share the limits: the most batches of the destination in
        flight at once.
    clock, sleep, local_time
        Injected for tests: a monotonic clock, a sleep, and the local wall clock.
    """

    def __init__(
        self,
        options: ThrottleOptions,
        share: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        local_time: Callable[[], datetime] = datetime.now,
    ) -> None:
        self._options = options
        self._share = max(share, 1)
        self._clock = clock
        self._sleep = sleep
        self._local_time = local_time
        self._started = clock()
        """When the previous send started (at first, when the sender opened)."""
        self._answered = self._started
        """When the previous answer came."""
        self.slowdown = 0.0
        """Seconds of pause after each answer while the destination struggles."""

    def adapt(self, seconds: float, *, busy: bool) -> None:
        """Back off after an answer that took ``seconds`` (``busy``: 0xA7xx out of
        resources): double the pause after each answer while the destination
        struggles (from 50 ms, at most 5 s), halve it while it keeps up."""
        self._answered = self._clock()
        slow_after = self._options.slow_after
        if busy or (slow_after is not None and seconds > slow_after):
            if self.slowdown == 0.0:
                log.info(
                    "destination struggling (%s after %.1f s): slowing down",
                    "out of resources" if busy else "answered",
                    seconds,
                )
            self.slowdown = min(max(self.slowdown * 2, _FIRST_SLOWDOWN), _MAX_SLOWDOWN)
        elif self.slowdown:
            self.slowdown = self.slowdown / 2 if self.slowdown > 0.01 else 0.0

    def wait(self, size: int) -> None:
        """Wait until an instance of ``size`` bytes may go: its share of time after
        the previous send started, and the back-off pause after the last answer."""
        due = max(self._started + self._cost(size), self._answered + self.slowdown)
        now = self._clock()
        if due > now:
            self._sleep(due - now)
            now = due
        self._started = now

    def _cost(self, size: int) -> float:
        """Seconds of the share's time an instance of ``size`` bytes takes."""
        limits = self._options.limits_at(self._local_time())
        cost = 0.0
        if limits.images_per_second:
            cost = self._share / limits.images_per_second
        if limits.mb_per_second:
            cost = max(cost, self._share * size / (limits.mb_per_second * 1e6))
        return cost


class ReadPacing:
    """Spaces a worker's reads of each source out to its share of the source's
    ``read_mb_per_second`` (the items carry the share)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}

    def wait(self, item: Item) -> None:
        """Wait until the item's file may be read."""
        if not item.read_mb_per_second:
            return
        now = self._clock()
        due = self._next.get(item.source, now)
        if due > now:
            self._sleep(due - now)
            now = due
        self._next[item.source] = now + item.size / (item.read_mb_per_second * 1e6)
