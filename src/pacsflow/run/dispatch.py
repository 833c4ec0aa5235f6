"""Handing batches to workers without ever overloading a destination.

A destination never has more batches in flight than its limit (a DICOM destination's
``associations``: one association per batch), a batch's instances are in no other
batch, and a destination that pauses gets nothing more in this run while the others
carry on. Finished batches go back, one at a time, to the run's one ledger writer.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Executor, Future, wait

from pacsflow.config import Destination
from pacsflow.destinations.base import BatchResult, RetryPolicy, not_tried
from pacsflow.run.plan import Batch
from pacsflow.run.worker import deliver_batch

log = logging.getLogger(__name__)

OnDone = Callable[[Batch, BatchResult], None]


class Dispatcher:
    """Feeds batches to an executor within each destination's limit."""

    def __init__(
        self,
        executor: Executor,
        configs: Mapping[str, Destination],
        limits: Mapping[str, int],
        policy: RetryPolicy,
        on_done: OnDone,
        *,
        lookahead: int = 16,
        held: Callable[[], bool] | None = None,
        poll: float = 1.0,
    ) -> None:
        self._executor = executor
        self._configs = configs
        self._limits = limits
        self._policy = policy
        self._on_done = on_done
        self._lookahead = lookahead
        self._held = held or (lambda: False)
        self._poll = poll
        self._waiting: dict[str, deque[Batch]] = defaultdict(deque)
        self._running: dict[Future[BatchResult], Batch] = {}
        self._busy: dict[str, int] = defaultdict(int)
        self.paused: dict[str, str] = {}
        self.skipped = 0
        """Instances left pending because their destination paused."""

    def run(self, batches: Iterable[Batch]) -> None:
        """Deliver every batch, then return."""
        for batch in batches:
            self._waiting[batch.destination].append(batch)
            self._start_ready()
            while self._queued() >= self._lookahead and self._running:
                self._finish_some()
            if self._queued() >= self._lookahead:
                self._wait_while_held()
        while self._running or self._queued():
            if not self._running:
                if self._wait_while_held():
                    continue
                self._skip_paused()
                break
            self._finish_some()

    def drain(self) -> None:
        """Let the batches in flight finish and hand them on; drop those waiting to
        start (they stay pending, to be planned again)."""
        for queue in self._waiting.values():
            queue.clear()
        while self._running:
            self._finish_some()

    def _wait_while_held(self) -> bool:
        """While an operator's pause holds (and nothing is in flight), wait for the
        resume, checking every ``poll`` seconds; whether there was a pause."""
        if not self._held():
            return False
        log.warning(
            "paused by 'pacsflow pause': the batches in flight have finished and no "
            "new one starts until 'pacsflow resume'"
        )
        while self._held():
            time.sleep(self._poll)
        log.info("resumed: batches start again")
        self._start_ready()
        return True

    def _queued(self) -> int:
        """Batches planned but not started."""
        return sum(len(queue) for queue in self._waiting.values())

    def _start_ready(self) -> None:
        """Start every waiting batch whose destination has room (none while an
        operator's pause holds)."""
        self._skip_paused()
        if self._held():
            return
        for destination, queue in self._waiting.items():
            while queue and self._busy[destination] < self._limits[destination]:
                batch = queue[0]
                try:
                    future = self._executor.submit(
                        deliver_batch,
                        self._configs[destination],
                        self._policy,
                        batch.items,
                        self._limits[destination],  # the throttle's share
                    )
                except BrokenExecutor as exc:
                    self._broke(exc)
                    return
                queue.popleft()
                self._running[future] = batch
                self._busy[destination] += 1

    def _broke(self, exc: BaseException) -> None:
        """The worker pool cannot take work (a worker was killed): every destination
        pauses, so what is not in flight stays pending for the next run."""
        why = (
            f"the worker pool broke ({exc or type(exc).__name__}): a worker process "
            "died; what was not sent stays pending: run again"
        )
        if not self.paused:
            log.error("%s", why)
        for destination in self._configs:
            self.paused.setdefault(destination, why)
        self._skip_paused()

    def _finish_some(self) -> None:
        """Wait for at least one batch to finish and hand its result on."""
        done, _ = wait(list(self._running), return_when=FIRST_COMPLETED)
        for future in done:
            batch = self._running.pop(future)
            self._busy[batch.destination] -= 1
            try:
                result = future.result()
            except Exception as exc:  # a worker died or broke: nothing is lost
                log.error(
                    "a worker failed on a batch of %d instances for %s: %s; they stay "
                    "pending for the next run",
                    len(batch.items),
                    batch.destination,
                    exc,
                )
                result = BatchResult(not_tried(batch.items, f"worker failed: {exc}"))
            if result.paused and batch.destination not in self.paused:
                self.paused[batch.destination] = result.paused
                log.error(
                    "destination %s paused: %s; its instances stay pending while the "
                    "others carry on",
                    batch.destination,
                    result.paused,
                )
            self._on_done(batch, result)
        self._start_ready()

    def _skip_paused(self) -> None:
        """Drop waiting batches of paused destinations; they stay pending."""
        for destination in self.paused:
            queue = self._waiting.get(destination)
            while queue:
                self.skipped += len(queue.popleft().items)
