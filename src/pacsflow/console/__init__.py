"""What pacsflow shows a person in a terminal: progress bars and status tables.

Presentation only: the engine hands over plain values (:class:`Status`,
:class:`ScanSummary`) and knows nothing of this module.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from pydicom.uid import UID
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from pacsflow.check import DestinationCheck
from pacsflow.ledger.report import Status
from pacsflow.reconcile.prepare import Prepared
from pacsflow.run import RunSummary
from pacsflow.scan.indexer import ScanSummary
from pacsflow.verify import VerifySummary


def uid_name(uid: str | None) -> str:
    """A UID's registered name (``CT Image Storage``), or the UID itself."""
    if not uid:
        return "(none)"
    name = UID(uid).name
    return name if name and name != uid else uid


class _LiveDisplay:
    """A progress display fed by plain counters and drawn by a thread of its own.

    The engine only bumps counters; the display thread copies them into the bars a
    few times a second. The engine thus never waits on the terminal, however slowly
    it draws, and the thread starts on the first report, after the engine has forked
    its workers.
    """

    _INTERVAL = 0.25

    def __init__(self, progress: Progress, *, enabled: bool) -> None:
        self._progress = progress
        self._enabled = enabled
        self._stop = threading.Event()
        self._display: threading.Thread | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._display is not None:
            self._display.join()
            self._show()
            self._progress.stop()

    def _start(self) -> None:
        """Start the display thread on the first report."""
        if self._enabled and self._display is None:
            self._display = threading.Thread(
                target=self._run, name="pacsflow-progress", daemon=True
            )
            self._display.start()

    def _run(self) -> None:
        """Redraw until the work ends."""
        self._progress.start()
        while not self._stop.wait(self._INTERVAL):
            self._show()

    def _show(self) -> None:
        """Copy the counters into the bars and draw them."""
        raise NotImplementedError


class ScanProgress(_LiveDisplay):
    """A progress bar for a scan: files done of files counted, files/s and ETA."""

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        progress = Progress(
            TextColumn("[bold]scanning"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} files/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            disable=not enabled,
            auto_refresh=False,
        )
        super().__init__(progress, enabled=enabled)
        self._task: TaskID = progress.add_task("scan", total=None, rate="-")
        self._total = 0
        self._done = 0

    def add_total(self, files: int) -> None:
        """More files were counted in the sources."""
        self._total += files
        self._start()

    def advance(self, files: int) -> None:
        """This many more files were dealt with."""
        self._done += files
        self._start()

    def _show(self) -> None:
        total = max(self._total, self._done) or None
        self._progress.update(self._task, completed=self._done, total=total)
        speed = self._progress.tasks[0].speed
        rate = f"{speed:,.0f}" if speed else "-"
        self._progress.update(self._task, rate=rate, refresh=True)


class RunProgress(_LiveDisplay):
    """A run's progress: all instances, then one line per destination.

    Each line shows instances done (of those planned for it so far), images/s, MB/s,
    elapsed time and, on the first line, the ETA of the whole run.
    """

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        progress = Progress(
            TextColumn("[bold]{task.description:>16}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} img/s {task.fields[mbs]} MB/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            disable=not enabled,
            auto_refresh=False,
        )
        super().__init__(progress, enabled=enabled)
        self._all = progress.add_task("all", total=None, rate="-", mbs="-")
        self._tasks: dict[str, TaskID] = {}
        self._total = 0
        self._done: dict[str, tuple[int, int]] = {}
        self._began = time.monotonic()

    def add_total(self, instances: int) -> None:
        """This many instances are pending."""
        self._total += instances
        self._start()

    def batch_done(self, destination: str, instances: int, size: int) -> None:
        """A batch for ``destination`` got its answers."""
        count, volume = self._done.get(destination, (0, 0))
        self._done[destination] = (count + instances, volume + size)
        self._start()

    def _show(self) -> None:
        seconds = max(time.monotonic() - self._began, 1e-6)
        done = dict(self._done)
        for destination in done:
            if destination not in self._tasks:
                self._tasks[destination] = self._progress.add_task(
                    destination, total=None, rate="-", mbs="-"
                )
        everything = (
            sum(c for c, _ in done.values()),
            sum(v for _, v in done.values()),
        )
        lines = [(self._all, everything, self._total or None)]
        lines += [(self._tasks[d], done[d], done[d][0] or None) for d in done]
        for task, (count, volume), total in lines:
            self._progress.update(
                task,
                completed=count,
                total=total,
                rate=f"{count / seconds:,.0f}",
                mbs=f"{volume / seconds / 1e6:,.1f}",
            )
        self._progress.refresh()


def print_scan_summary(console: Console, summary: ScanSummary) -> None:
    """One paragraph on what a scan did."""
    console.print(
        f"Scanned {summary.seen:,} files in {summary.seconds:.1f} s "
        f"({summary.files_per_second:,.0f} files/s): {summary.read:,} read, "
        f"{summary.unchanged:,} unchanged, {summary.unreadable:,} unreadable, "
        f"{summary.vanished:,} vanished; {summary.new_instances:,} new instances; "
        f"{summary.duplicates_same:,} UIDs stored twice with the same content, "
        f"{summary.duplicates_different:,} with different content."
    )
    for name in summary.missing_sources:
        console.print(f"[red]source {name} was not scanned: its folder is missing")


def print_run_summary(console: Console, summary: RunSummary) -> None:
    """What a run did: where instances went, what failed and why, what paused."""
    done = summary.sent + summary.sinbinned + summary.failed
    head = (
        f"{done:,} of {summary.pending:,} pending instances in {summary.seconds:.1f} s "
        f"({summary.images_per_second:,.0f} images/s)"
    )
    if summary.dry_run:
        console.print(
            f"Dry run, nothing sent and no outcome recorded: read {head}; "
            f"{summary.failed:,} could not be read."
        )
    else:
        console.print(
            f"Ran {head}: {summary.sent:,} sent, {summary.sinbinned:,} sin-binned, "
            f"{summary.skipped:,} skipped, {summary.failed:,} failed, "
            f"{summary.left_pending:,} left pending."
        )
    if summary.by_destination:
        table = Table(title="Where they went", title_justify="left")
        table.add_column("destination")
        outcomes = sorted(
            {o for counts in summary.by_destination.values() for o in counts}
        )
        for outcome in outcomes:
            table.add_column(outcome, justify="right")
        for destination, counts in sorted(summary.by_destination.items()):
            table.add_row(destination, *(f"{counts.get(o, 0):,}" for o in outcomes))
        console.print(table)
    for detail, count in sorted(summary.failures.items(), key=lambda kv: -kv[1]):
        console.print(f"[red]failed[/red] {count:,}: {detail}")
    for destination, why in summary.paused.items():
        console.print(f"[red]paused[/red] {destination}: {why}")


def print_reconcile_summary(
    console: Console, prepared: Prepared, report: Path | None = None
) -> None:
    """What reconciliation read, found and would change."""
    summary, snapshot = prepared.summary, prepared.snapshot
    if snapshot is not None:
        console.print(
            f"Read the legacy database: {snapshot.rows:,} rows, "
            f"{snapshot.instances:,} instances in {snapshot.seconds:.1f} s."
        )
    elif not summary.snapshot:
        console.print("No legacy database: only duplicates and exclusions checked.")
    console.print(
        f"Reconciled {summary.instances:,} pending instances: "
        f"{summary.instances_changed:,} with header changes, "
        f"{summary.repointed:,} pointed at the copy the database names, "
        f"{summary.stale_files:,} stale copies on disk, "
        f"{summary.missing_on_disk:,} database instances missing on disk."
    )
    table = Table(title="Verdicts and changes", title_justify="left")
    table.add_column("finding")
    table.add_column("instances", justify="right")
    for verdict, count in sorted(summary.verdicts.items()):
        table.add_row(f"verdict: {verdict}", f"{count:,}")
    for keyword, count in summary.changes_by_attribute.items():
        table.add_row(f"change: {keyword}", f"{count:,}")
    console.print(table)
    if report is not None:
        console.print(f"Every difference is in {report}.")


def print_checks(console: Console, results: list[DestinationCheck]) -> None:
    """What each DICOM destination answered to C-ECHO and to the negotiation."""
    if not results:
        console.print("No DICOM destination in the network file: nothing to check.")
    for result in results:
        if result.error is not None:
            console.print(
                f"[red]{result.name}[/red] ({result.address}): {result.error}"
            )
            continue
        echo = "answers C-ECHO" if result.echo == 0 else f"C-ECHO status {result.echo}"
        console.print(f"{result.name} ({result.address}): {echo}")
        if not result.accepted and not result.refused:
            console.print(
                "  no instance in the ledger is routed here (scan first to check "
                "what the routes will send)"
            )
            continue
        table = Table(
            title=f"{result.name}: what the routes send it", title_justify="left"
        )
        for heading in ("SOP class", "transfer syntax", "instances", "answer"):
            table.add_column(
                heading, justify="right" if heading == "instances" else "left"
            )
        for pairs, answer in (
            (result.refused, "[red]refused"),
            (result.accepted, "accepted"),
        ):
            for (sop_class, syntax), count in sorted(pairs.items()):
                table.add_row(
                    uid_name(sop_class), uid_name(syntax), f"{count:,}", answer
                )
        console.print(table)
    if any(not r.ok for r in results):
        console.print(
            "[red]Fix what is refused before the migration starts[/red]: configure the "
            "destination to accept it, or route those instances elsewhere."
        )


def print_verify_summary(console: Console, summary: VerifySummary) -> None:
    """Per destination: how many sent instances it holds and how many it lacks."""
    table = Table(title="Verification", title_justify="left")
    for heading in ("destination", "verified", "missing"):
        table.add_column(
            heading, justify="left" if heading == "destination" else "right"
        )
    for name in sorted(summary.verified):
        missing = summary.missing[name]
        shown = f"[red]{missing:,}[/red]" if missing else "0"
        table.add_row(name, f"{summary.verified[name]:,}", shown)
    for name, count in sorted(summary.unchecked.items()):
        table.add_row(name, f"not asked ({count:,} sent)", "")
    console.print(table)
    if not summary.all_there:
        console.print(
            "Some sent instances are missing at their destination: "
            "'pacsflow run NETWORK --resend-missing' sends them again."
        )
    if summary.commitment:
        _print_commitment(console, summary)


def _print_commitment(console: Console, summary: VerifySummary) -> None:
    """Per destination asked: what it committed, refused, or left unanswered."""
    table = Table(title="Storage commitment", title_justify="left")
    for heading in ("destination", "committed", "failed", "unanswered"):
        table.add_column(
            heading, justify="left" if heading == "destination" else "right"
        )
    for name, counts in sorted(summary.commitment.items()):
        failed = f"[red]{counts.failed:,}[/red]" if counts.failed else "0"
        table.add_row(name, f"{counts.committed:,}", failed, f"{counts.unanswered:,}")
    console.print(table)
    for name, counts in sorted(summary.commitment.items()):
        if counts.error:
            console.print(f"[red]{name}[/red]: {counts.error}", highlight=False)
    if not summary.all_committed:
        console.print(
            "Some instances are not committed: see the warnings above. "
            "'pacsflow explain NETWORK UID' shows why one failed; send it again with "
            "'pacsflow run NETWORK --resend-missing' once it is missing, or verify "
            "again later."
        )


def print_status(console: Console, status: Status) -> None:
    """The ledger's counts as tables a migration team can read."""
    console.print(_overview(status))
    console.print(_sources_table(status))
    console.print(_matrix_table(status))
    if status.reconciliation.get("snapshot") or status.reconciliation.get("verdicts"):
        console.print(_reconciliation_table(status))
    if status.unreadable_files:
        console.print(_unreadable_table(status))


def _reconciliation_table(status: Status) -> Table:
    """Verdicts, changes and missing files found against the legacy database."""
    found = status.reconciliation
    table = Table(title="Reconciliation", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("instances with header changes", f"{found['instances_changed']:,}")
    for keyword, count in found["changes_by_attribute"].items():
        table.add_row(f"  {keyword}", f"{count:,}")
    for verdict, count in found["verdicts"].items():
        table.add_row(f"verdict: {verdict}", f"{count:,}")
    table.add_row("stale copies on disk", f"{found['stale_files']:,}")
    table.add_row("database instances missing on disk", f"{found['missing_on_disk']:,}")
    return table


def _overview(status: Status) -> Table:
    """Files, instances, outcomes and duplicates in one table."""
    table = Table(title="Ledger", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    if status.paused:
        table.add_row(
            "[yellow]paused by an operator[/yellow]",
            f"{status.paused['why']} (since {status.paused['since'][:16]})",
        )
    table.add_row("files found", f"{status.files:,}")
    table.add_row("unreadable files", f"{status.unreadable:,}")
    if status.vanished:
        table.add_row("vanished files", f"{status.vanished:,}")
    table.add_row("instances (distinct SOP Instance UIDs)", f"{status.instances:,}")
    for outcome, count in status.outcomes.items():
        table.add_row(f"  {outcome}", f"{count:,}")
    for reason, count in status.sinbin_reasons.items():
        table.add_row(f"  sin bin: {reason}", f"{count:,}")
    for reason, count in status.skipped_reasons.items():
        table.add_row(f"  skipped: {reason}", f"{count:,}")
    for kind, count in status.duplicates.items():
        table.add_row(f"UIDs on disk twice, {kind.replace('_', ' ')}", f"{count:,}")
    for state, count in status.verification.items():
        table.add_row(f"sent, {state} at the destination", f"{count:,}")
    if status.commitment.get("committed") or status.commitment.get("failed"):
        for state, count in status.commitment.items():
            table.add_row(f"sent, storage commitment {state}", f"{count:,}")
    return table


def _sources_table(status: Status) -> Table:
    """Files and bytes per source."""
    table = Table(title="Sources", title_justify="left")
    for heading in ("source", "files", "GB", "unreadable"):
        table.add_column(heading, justify="left" if heading == "source" else "right")
    for name, counts in status.sources.items():
        table.add_row(
            name,
            f"{counts.files:,}",
            f"{counts.bytes / 1e9:,.2f}",
            f"{counts.unreadable:,}",
        )
    return table


def _matrix_table(status: Status) -> Table:
    """The SOP class × transfer syntax matrix the new PACS must accept."""
    table = Table(title="SOP class × transfer syntax", title_justify="left")
    for heading in ("SOP class", "transfer syntax", "instances", "with pixels"):
        table.add_column(heading, justify="right" if "inst" in heading else "left")
    table.columns[3].justify = "right"
    for cell in status.matrix:
        table.add_row(
            uid_name(cell.sop_class),
            uid_name(cell.transfer_syntax),
            f"{cell.count:,}",
            f"{cell.pixel_data:,}",
        )
    return table


def _unreadable_table(status: Status) -> Table:
    """The unreadable files and why."""
    table = Table(title="Unreadable files", title_justify="left")
    for heading in ("source", "path", "reason"):
        table.add_column(heading, overflow="fold")
    for item in status.unreadable_files:
        table.add_row(item.source, item.path, item.reason)
    if status.unreadable > len(status.unreadable_files):
        table.caption = f"first {len(status.unreadable_files)} of {status.unreadable}"
    return table
