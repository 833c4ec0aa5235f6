"""The executor seam: where batches of work run.

Scans and runs hand their work to a :class:`concurrent.futures.Executor`: the local
process pool below today, a Dask cluster's executor later. Work items are plain
functions of plain, picklable values, and workers keep nothing between them.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any


class InlineExecutor(Executor):
    """Runs each task at once in the calling process (``workers: 1``)."""

    def submit(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


def make_executor(workers: int) -> Executor:
    """A pool of ``workers`` processes, or the calling process alone for one.

    Workers are forked, which starts them in milliseconds with the header reader
    already imported, and all of them are started here, before the caller starts any
    thread, so no lock held by another thread is copied into a worker.
    """
    if workers <= 1:
        return InlineExecutor()
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    for future in [pool.submit(os.getpid) for _ in range(workers)]:
        future.result()
    return pool


def default_workers() -> int:
    """One worker per core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
