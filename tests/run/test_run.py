"""Runs into folder destinations: routing, outcomes, study order, sin bin, dry run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from pacsflow.config import Network, load_network
from pacsflow.ledger.database import open_ledger
from pacsflow.ledger.report import read_status
from pacsflow.ledger.schema import attempts, files, instances
from pacsflow.run import RunSummary, run_network
from pacsflow.sample import generate_sample, load_manifest
from pacsflow.scan.indexer import scan_network

NETWORK = """\
tracking: {tracking}
sources:
  - {{name: store01, path: store01}}
  - {{name: store02, path: store02}}
  - {{name: store03, path: store03}}
routes:
  - name: no-pixel
    match: {{pixel_data: false, not_sop_class: RawDataStorage}}
    to: reports
  - name: unsupported
    match: {{sop_class: RawDataStorage}}
    to: sinbin
  - name: images
    to: archive
destinations:
  archive: {{folder: {{path: out/archive}}}}
  reports: {{folder: {{path: out/reports}}}}
  sinbin: {{folder: {{path: out/sinbin}}}}
sinbin: sinbin
run: {{order: {order}, batch: 40}}
"""


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sample")
    generate_sample(directory, studies=3, seed=5)
    return directory


def migrate(
    sample: Path,
    tmp_path: Path,
    tracking: str | None = None,
    order: str = "newest_first",
    **options: object,
) -> tuple[Network, RunSummary]:
    """Copy the sample, point a folder network at it, scan and run."""
    archive = tmp_path / "archive"
    if not archive.exists():
        shutil.copytree(sample, archive)
    network_file = archive / "folders.yaml"
    tracking = tracking or f"sqlite:///{archive / 'ledger.db'}"
    network_file.write_text(NETWORK.format(tracking=tracking, order=order))
    network = load_network(network_file)
    engine = open_ledger(network.tracking)
    try:
        scan_network(network, engine, workers=2)
        return network, run_network(network, engine, **options)  # type: ignore[arg-type]
    finally:
        engine.dispose()


def test_every_instance_ends_in_one_outcome(
    sample: Path, tmp_path: Path, ledger_url: str
) -> None:
    manifest = load_manifest(sample)

    network, summary = migrate(sample, tmp_path, ledger_url, workers=2)

    # Without a legacy database, a UID on disk twice with different content is a
    # conflict nobody can settle: sin-binned before routing.
    conflicts = set(manifest.duplicates_different_content) | {
        s.sop_instance_uid for s in manifest.stale_files
    }
    raw = {
        f.sop_instance_uid
        for f in manifest.files
        if f.readable and f.sop_class_uid.endswith(".66")
    } - conflicts
    assert summary.sinbinned == len(raw) + len(conflicts)
    assert summary.sent + summary.sinbinned == manifest.expected.instances
    assert summary.failed == summary.left_pending == 0
    engine = open_ledger(network.tracking)
    with engine.connect() as connection:
        status = read_status(connection)
        reasons = set(connection.scalars(select(instances.c.reason)).all())
    engine.dispose()
    assert status.outcomes["pending"] == 0
    assert status.sinbin_reasons == {
        "routed:unsupported": len(raw),
        "duplicate_conflict": len(conflicts),
    }
    assert reasons == {None, "routed:unsupported", "duplicate_conflict"}


def test_folders_hold_the_original_bytes(sample: Path, tmp_path: Path) -> None:
    network, summary = migrate(sample, tmp_path)

    written = {p.stem: p for p in (tmp_path / "archive/out").rglob("*.dcm")}
    assert len(written) == summary.sent + summary.sinbinned
    engine = open_ledger(network.tracking)
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                instances.c.sop_instance_uid,
                files.c.source,
                files.c.folder,
                files.c.name,
            ).join(files, instances.c.file_id == files.c.id)
        ).all()
    engine.dispose()
    for uid, source, folder, name in rows[:40]:
        original = tmp_path / "archive" / source / folder / name
        assert written[uid].read_bytes() == original.read_bytes()


def test_studies_go_whole_and_newest_first(sample: Path, tmp_path: Path) -> None:
    network, _ = migrate(sample, tmp_path, workers=1)

    engine = open_ledger(network.tracking)
    with engine.connect() as connection:
        sent = connection.execute(
            select(
                files.c.study_instance_uid,
                files.c.study_date,
                files.c.series_number,
                files.c.instance_number,
            )
            .select_from(
                attempts.join(
                    instances,
                    attempts.c.sop_instance_uid == instances.c.sop_instance_uid,
                ).join(files, instances.c.file_id == files.c.id)
            )
            .where(attempts.c.destination == "archive")
            .order_by(attempts.c.id)
        ).all()
    engine.dispose()
    studies = [row.study_instance_uid for row in sent]
    runs = [s for i, s in enumerate(studies) if i == 0 or studies[i - 1] != s]
    assert len(runs) == len(set(studies)), "a study was interleaved with another"
    dates = [
        next(r.study_date for r in sent if r.study_instance_uid == s) for s in runs
    ]
    assert dates == sorted(dates, reverse=True)
    for study in runs:
        order = [
            (r.series_number, r.instance_number)
            for r in sent
            if r.study_instance_uid == study
        ]
        assert order == sorted(order)


def test_dry_run_reads_everything_and_records_nothing(
    sample: Path, tmp_path: Path
) -> None:
    network, summary = migrate(sample, tmp_path, dry_run=True)

    assert summary.dry_run and summary.sent == summary.pending > 0
    assert not (tmp_path / "archive/out").exists()
    engine = open_ledger(network.tracking)
    with engine.connect() as connection:
        assert read_status(connection).outcomes["pending"] == summary.pending
    engine.dispose()


def test_paused_destination_leaves_its_instances_pending(
    sample: Path, tmp_path: Path
) -> None:
    (tmp_path / "archive").mkdir()
    shutil.copytree(sample, tmp_path / "archive", dirs_exist_ok=True)
    (tmp_path / "archive/out").mkdir()
    (tmp_path / "archive/out/archive").write_text("not a folder")

    _, summary = migrate(sample, tmp_path)

    assert "archive" in summary.paused
    assert summary.left_pending > 0
    assert summary.sinbinned > 0  # the other destinations carried on

    (tmp_path / "archive/out/archive").unlink()
    _, again = migrate(sample, tmp_path)
    assert again.pending == summary.left_pending
    assert again.sent == summary.left_pending and not again.paused
