"""Riding out a lost connection to the tracking database.

A three-week migration outlives database restarts and failovers. When a connection
is lost, the write that was under way rolled back with it, so it can simply be made
again on a fresh connection (the engine's pool discards the dead one). A run keeps
trying for ``run.reconnect_seconds``, then stops with a :class:`LedgerError`: what was
recorded is kept, and what was in flight stays pending for the next run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from pacsflow.errors import LedgerError

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_WAIT = 0.5
"""Seconds before the first new try; doubled after each, up to :data:`MOST_WAIT`."""
MOST_WAIT = 10.0


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` says the database went away, rather than refused a statement.

    True for a connection the driver found dead mid-statement, and for a failure to
    open a new connection at all.
    """
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError) and exc.statement is None


def why(exc: BaseException) -> str:
    """The driver's own first line about the loss: never the statement or its
    parameters, which may hold patient data."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


class Reconnecting:
    """Makes calls to the ledger again while its database is away, for a while.

    Parameters
    ----------
    engine : Engine
        The ledger.
    seconds : float
        How long to keep trying after a loss before giving up.
    """

    def __init__(self, engine: Engine, seconds: float) -> None:
        self._engine = engine
        self._seconds = seconds

    def call(self, work: Callable[[], T], doing: str) -> T:
        """Return ``work()``, made again on a fresh connection after a loss.

        ``work`` must run in its own transaction, so that a loss leaves nothing of it
        behind.

        Raises
        ------
        LedgerError
            If the database stays away for longer than ``seconds``.
        """
        deadline: float | None = None
        wait = FIRST_WAIT
        while True:
            try:
                return work()
            except DBAPIError as exc:
                if not connection_lost(exc):
                    raise
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self._seconds
                    log.warning(
                        "lost the connection to the tracking database while %s (%s); "
                        "reconnecting for up to %.0f s",
                        doing,
                        why(exc),
                        self._seconds,
                    )
                if now >= deadline:
                    raise self.gone(exc) from exc
                time.sleep(min(wait, deadline - now))
                wait = min(wait * 2, MOST_WAIT)

    def wait_until_back(self, doing: str) -> None:
        """Return once the database answers again (or raise :class:`LedgerError`)."""
        self.call(self._ping, doing)
        log.info("the tracking database answers again")

    def gone(self, exc: BaseException) -> LedgerError:
        """The error a run stops with when the database stays away."""
        return LedgerError(
            f"cannot reach the tracking database at {self._engine.url!r} after "
            f"trying for {self._seconds:.0f} s ({why(exc)}); everything recorded so "
            "far is kept and what was in flight stays pending: run again once the "
            "database is back (run.reconnect_seconds sets how long to keep trying)"
        )

    def _ping(self) -> None:
        with self._engine.connect() as connection:
            connection.execute(text("SELECT 1"))
