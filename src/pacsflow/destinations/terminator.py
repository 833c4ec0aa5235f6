"""The terminator: reads each file and drops it.

The seed's way to measure how fast the old archive can be read and reconciled
before the new PACS is involved; ``pacsflow run --dry-run`` sends
everything here.
"""

from __future__ import annotations

from collections.abc import Sequence

from pacsflow.destinations.base import BatchResult, Item, failed, stored
from pacsflow.destinations.throttle import ReadPacing
from pacsflow.reconcile.fix import HeaderFixError, patched_file


class Terminator:
    """Reads every file whole, as a real destination would, and discards it.

    An instance with header fixes is patched as it would be for sending, so a dry
    run measures reconciliation too.
    """

    def deliver(self, items: Sequence[Item]) -> BatchResult:
        """Read each item's file; an unreadable file fails with the OS error."""
        deliveries = []
        reads = ReadPacing()
        for item in items:
            reads.wait(item)
            try:
                if item.fixes:
                    patched_file(item.path, item.fixes)
                else:
                    with open(item.path, "rb") as fp:
                        while fp.read(1 << 20):
                            pass
            except OSError as exc:
                detail = f"cannot read {item.path}: {exc.strerror}"
                deliveries.append(failed(item, detail))
            except HeaderFixError as exc:
                deliveries.append(failed(item, str(exc)))
            else:
                deliveries.append(stored(item))
        return BatchResult(deliveries)
