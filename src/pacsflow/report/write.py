"""Writing the report's files into a folder: the page and the two CSV files."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from pacsflow.config import Network
from pacsflow.errors import ReportError
from pacsflow.report.csvfiles import write_instances, write_unreadable
from pacsflow.report.data import gather
from pacsflow.report.html import render

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """What :func:`write_report` wrote, and the counts it wrote them with.

    Attributes
    ----------
    html : Path
        The self-contained page, ``index.html``.
    instances_csv : Path
        One row per instance, ``instances.csv``.
    unreadable_csv : Path
        One row per unreadable file, ``unreadable.csv``.
    instances : int
        Rows in ``instances.csv``.
    unreadable : int
        Rows in ``unreadable.csv``.
    outcomes : dict of str to int
        Instances per outcome, as the page shows them.
    """

    html: Path
    instances_csv: Path
    unreadable_csv: Path
    instances: int
    unreadable: int
    outcomes: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        """The files and counts as JSON-ready values (``report --json``)."""
        return {
            "html": str(self.html),
            "instances_csv": str(self.instances_csv),
            "unreadable_csv": str(self.unreadable_csv),
            "instances": self.instances,
            "unreadable": self.unreadable,
            "outcomes": dict(self.outcomes),
        }


def write_report(
    connection: Connection,
    out: Path,
    *,
    title: str,
    network: Network | None = None,
) -> ReportFiles:
    """Write the HTML report and the CSV files of a migration into a folder.

    Parameters
    ----------
    connection : Connection
        The ledger. Everything is read from it; nothing is written to it.
    out : Path
        The folder to write ``index.html``, ``instances.csv`` and
        ``unreadable.csv`` into; created if missing, files in it overwritten.
    title : str
        The migration's name, the page's title.
    network : Network, optional
        The network file, to list its sources in order and each destination's kind
        and address.

    Returns
    -------
    ReportFiles
        The files written and their counts.

    Raises
    ------
    ReportError
        If the folder or a file in it cannot be written.
    LedgerError
        If the ledger is on a database the report cannot read timestamps of.
    """
    if out.exists() and not out.is_dir():
        raise ReportError(
            f"{out} is a file; give --out a folder to write the report to"
        )
    html = out / "index.html"
    listing = out / "instances.csv"
    unreadable = out / "unreadable.csv"

    data = gather(
        connection, title=title, generated_at=datetime.now(UTC), network=network
    )
    page = render(data)

    try:
        out.mkdir(parents=True, exist_ok=True)
        html.write_text(page, encoding="utf-8")
        listed = write_instances(connection, listing)
        unlisted = write_unreadable(connection, unreadable)
    except OSError as exc:
        raise ReportError(
            f"cannot write the report into {out}: {exc.strerror or exc}; choose a "
            "folder you can write to with --out"
        ) from exc

    log.info("wrote the report of %d instances to %s", listed, html)
    outcomes = dict(data.status.outcomes)
    return ReportFiles(html, listing, unreadable, listed, unlisted, outcomes)
