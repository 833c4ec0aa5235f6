"""What a run's worker process does with one batch: open the destination, deliver.

A plain function of plain values, so a process pool or a cluster can run it. The
worker keeps nothing between batches: associations live as long as a batch.
"""

from __future__ import annotations

from collections.abc import Sequence

from pacsflow.config import Destination
from pacsflow.destinations import open_sender
from pacsflow.destinations.base import BatchResult, Item, RetryPolicy


def deliver_batch(
    config: Destination,
    policy: RetryPolicy,
    items: Sequence[Item],
    share: int | None = None,
) -> BatchResult:
    """Deliver ``items`` to the destination ``config`` describes, at ``share`` of
    its throttle (how many of its batches may be in flight at once)."""
    return open_sender(config, policy, share).deliver(items)
