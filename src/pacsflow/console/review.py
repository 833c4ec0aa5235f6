"""What an operator reads when asked about one image, or when reviewing the sin bin.

Presentation only: :mod:`pacsflow.explain` and :mod:`pacsflow.sinbin` hand over plain
values. Header values changed by reconciliation may be patient data: they are shown
on the operator's terminal, never logged.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console
from rich.markup import escape

from pacsflow.console import uid_name
from pacsflow.explain import Explanation, History
from pacsflow.sinbin import ReasonInBin

STUDIES_SHOWN = 20
"""Studies listed per sin-bin reason in the terminal (JSON lists them all)."""

_OUTCOME_STYLE = {
    "sent": "green",
    "sinbinned": "yellow",
    "failed": "red",
    "skipped": "dim",
    "pending": "blue",
}


def print_explanation(console: Console, explanation: Explanation) -> None:
    """One instance in full, or a study as one line per instance."""
    if explanation.kind == "unknown":
        console.print(
            f"No instance or study with UID {escape(explanation.uid)} is in the "
            "ledger or the legacy snapshot: check the UID, or scan first."
        )
    elif explanation.kind == "instance":
        _print_history(console, explanation.histories[0])
    else:
        _print_study(console, explanation)


def _print_history(console: Console, history: History) -> None:
    """Everything about one instance, in the order it happened."""
    console.print(f"[bold]Instance {history.sop_instance_uid}[/bold]")
    console.print(f"  study   {history.study_instance_uid or '?'}", highlight=False)
    if history.header_study_instance_uid not in (None, history.study_instance_uid):
        console.print(
            f"          (the file's header says {history.header_study_instance_uid})",
            highlight=False,
        )
    if history.missing_on_disk:
        console.print(
            "  [red]missing on disk[/red]: the legacy database lists this instance, "
            "but no file in the sources holds it"
        )
        return
    console.print(
        f"  what    {uid_name(history.sop_class_uid)}, "
        f"{uid_name(history.transfer_syntax)}",
        highlight=False,
    )
    _print_files(console, history)
    _print_reconciliation(console, history)
    _print_outcome(console, history)
    _print_attempts(console, history)


def _print_files(console: Console, history: History) -> None:
    """The files on disk that hold the instance."""
    duplicate = "" if history.duplicate in (None, "none") else f" ({history.duplicate})"
    console.print(f"  files   {len(history.files)} found{duplicate}")
    for found in history.files:
        notes = [f"{found.size:,} bytes", found.state]
        if found.primary:
            notes.append("sent from this copy")
        if found.stale:
            notes.append("stale copy")
        if found.reason:
            notes.append(found.reason)
        console.print(
            f"          {escape(found.source)}:{escape(found.path)}  "
            f"[dim]{escape(', '.join(notes))}[/dim]",
            highlight=False,
        )


def _print_reconciliation(console: Console, history: History) -> None:
    """The verdict and the header changes."""
    known = "in the legacy database" if history.in_legacy_database else "not in it"
    verdict = f"verdict {history.verdict}" if history.verdict else "no verdict"
    console.print(f"  legacy  {known}; {verdict}")
    for change in history.changes:
        console.print(
            f"          {change.attribute}: {escape(repr(change.old))} → "
            f"{escape(repr(change.new))}",
            highlight=False,
        )


def _print_outcome(console: Console, history: History) -> None:
    """The outcome, its route and destination, releases and verification."""
    outcome = history.outcome or "?"
    style = _OUTCOME_STYLE.get(outcome, "")
    parts = [f"[{style}]{outcome}[/{style}]" if style else outcome]
    if history.reason:
        parts.append(f"reason {escape(history.reason)}")
    if history.route:
        parts.append(f"route {escape(history.route)}")
    if history.destination:
        parts.append(f"to {escape(history.destination)}")
    if history.status is not None:
        parts.append(f"status 0x{history.status:04X}")
    console.print("  outcome " + ", ".join(parts), highlight=False)
    if history.detail:
        console.print(f"          {escape(history.detail)}", highlight=False)
    for released in history.releases:
        console.print(
            f"  release {_when(released.at)}: was {released.outcome} "
            f"({released.reason or 'no reason'}), released by {released.selection}",
            highlight=False,
        )
    if history.verification:
        console.print(
            f"  verify  {history.verification} at {_when(history.verified_at)}",
            highlight=False,
        )
    elif history.outcome == "sent":
        console.print("  verify  not checked yet ('pacsflow verify NETWORK')")
    if history.commitment:
        detail = f" ({history.commitment_detail})" if history.commitment_detail else ""
        console.print(
            f"  commit  storage commitment {history.commitment}{escape(detail)} at "
            f"{_when(history.committed_at)}",
            highlight=False,
        )


def _print_attempts(console: Console, history: History) -> None:
    """Every attempt to deliver the instance, one line each."""
    for number, attempt in enumerate(history.attempts, start=1):
        status = "" if attempt.status is None else f" 0x{attempt.status:04X}"
        console.print(
            f"  try {number}   {_when(attempt.at)}  run {attempt.run}  "
            f"{attempt.destination}  {attempt.result}{status}"
            f"  [dim]{escape(attempt.association or '')}[/dim]",
            highlight=False,
            soft_wrap=True,
        )
        if attempt.detail and attempt.result != "stored":
            console.print(f"          {escape(attempt.detail)}", highlight=False)


def _print_study(console: Console, explanation: Explanation) -> None:
    """A study: one line per instance, whole UIDs (an operator copies them)."""
    console.print(
        f"[bold]Study {explanation.uid}[/bold]: "
        f"{len(explanation.histories) + explanation.more:,} instances",
        highlight=False,
    )
    width = max(len(h.sop_instance_uid) for h in explanation.histories)
    for history in explanation.histories:
        outcome = "missing on disk" if history.missing_on_disk else history.outcome
        style = _OUTCOME_STYLE.get(outcome or "", "")
        shown = f"[{style}]{outcome:<10}[/{style}]" if style else f"{outcome:<10}"
        notes = [history.reason or history.verdict or "", history.destination or ""]
        if history.attempts:
            notes.append(f"{len(history.attempts)} tries")
        if history.verification:
            notes.append(history.verification)
        console.print(
            f"  {history.sop_instance_uid:<{width}}  {shown} "
            + escape("  ".join(n for n in notes if n)),
            highlight=False,
            soft_wrap=True,
        )
    if explanation.more:
        console.print(f"… and {explanation.more:,} more instances not shown.")
    console.print("Explain one of them: pacsflow explain NETWORK SOP_INSTANCE_UID")


def print_sinbin(console: Console, groups: list[ReasonInBin]) -> None:
    """What is held back, by reason, with the first studies of each, one line per
    study with its whole UID (an operator copies it into a release)."""
    if not groups:
        console.print("The sin bin is empty.")
        return
    for group in groups:
        console.print(
            f"[bold]{escape(group.reason)}[/bold] ({group.outcome}): "
            f"{_count(group.instances, 'instance')} in "
            f"{_count(len(group.studies), 'study', 'studies')}",
            highlight=False,
        )
        width = max(len(s.study_instance_uid) for s in group.studies)
        for study in group.studies[:STUDIES_SHOWN]:
            console.print(
                f"  {study.study_instance_uid or '?':<{width}}  "
                f"{study.study_date or '':8}  {study.modalities:6} "
                f"{_count(study.instances, 'instance'):>14}  "
                f"{study.destination or '(recorded only)'}",
                highlight=False,
                soft_wrap=True,
            )
        if len(group.studies) > STUDIES_SHOWN:
            console.print(
                f"  … {len(group.studies) - STUDIES_SHOWN:,} more studies "
                "(--json lists them all)"
            )
    console.print(
        "Fix the cause, then: pacsflow sinbin NETWORK release --reason R | "
        "--study UID | --instance UID"
    )


def _count(n: int, one: str, many: str | None = None) -> str:
    """``1 instance``, ``2 instances``."""
    return f"{n:,} {one if n == 1 else many or one + 's'}"


def _when(at: datetime | None) -> str:
    """A time as an operator reads it, in local time (the ledger keeps UTC)."""
    if at is None:
        return ""
    if at.tzinfo is None:  # SQLite hands back the UTC time it stored, naive
        at = at.replace(tzinfo=UTC)
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
