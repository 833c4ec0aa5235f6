"""What a person sees in a terminal: the scan's progress bar and the status tables."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from pacsflow.config import load_network
from pacsflow.console import ScanProgress, uid_name
from pacsflow.ledger.database import open_ledger
from pacsflow.scan.indexer import scan_network
from tests.scan.test_indexer import make_archive


def test_progress_bar_counts_to_the_total(tmp_path: Path) -> None:
    network = load_network(make_archive(tmp_path, f"sqlite:///{tmp_path / 'l.db'}"))
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    engine = open_ledger(network.tracking)

    with ScanProgress(console) as progress:
        scan_network(network, engine, workers=2, observer=progress)
    engine.dispose()

    assert "9/9" in screen.getvalue()
    assert "files/s" in screen.getvalue()


def test_disabled_progress_draws_nothing(tmp_path: Path) -> None:
    network = load_network(make_archive(tmp_path, f"sqlite:///{tmp_path / 'l.db'}"))
    screen = io.StringIO()
    engine = open_ledger(network.tracking)

    with ScanProgress(Console(file=screen), enabled=False) as progress:
        scan_network(network, engine, workers=1, observer=progress)
    engine.dispose()

    assert screen.getvalue() == ""


def test_uid_names() -> None:
    assert uid_name("1.2.840.10008.1.2.4.90") == (
        "JPEG 2000 Image Compression (Lossless Only)"
    )
    assert uid_name("1.2.3.4") == "1.2.3.4"
    assert uid_name(None) == "(none)"
