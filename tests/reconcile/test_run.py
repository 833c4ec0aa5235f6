"""A run with reconciliation: verdicts decide the sin bin, headers arrive fixed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pydicom import dcmread
from sqlalchemy import select

from pacsflow.cli import main
from pacsflow.ledger.database import open_ledger
from pacsflow.ledger.schema import instances
from pacsflow.sample import generate_sample, load_manifest
from pacsflow.sample.legacy import LEGACY_QUERY
from tests.reconcile.expect import expected_changes, expected_verdicts
from tests.samplenet import SAMPLE_SOURCES

NETWORK = (
    SAMPLE_SOURCES
    + """\
legacy_database:
  url: sqlite:///legacy.db
  query: |
{query}
exclude_studies: exclusions.txt
routes:
  - name: everything
    to: archive
destinations:
  archive: {{folder: {{path: out/archive}}}}
  sinbin: {{folder: {{path: out/sinbin}}}}
sinbin: sinbin
{verdicts}
"""
)


@pytest.fixture(scope="module")
def sample_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sample")
    generate_sample(directory, studies=5, seed=21)
    return directory


def prepare(sample: Path, tmp_path: Path, verdicts: str = "") -> Path:
    """A copy of the sample with a folder network; its path."""
    archive = tmp_path / "archive"
    shutil.copytree(sample, archive)
    query = "".join(f"    {line}\n" for line in LEGACY_QUERY.splitlines())
    network = archive / "folders.yaml"
    network.write_text(NETWORK.format(query=query.rstrip("\n"), verdicts=verdicts))
    return network


def outcomes(network: Path) -> dict[str, tuple[str, str | None]]:
    """SOP Instance UID → (outcome, reason)."""
    engine = open_ledger(f"sqlite:///{network.parent / 'ledger.db'}")
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                instances.c.sop_instance_uid, instances.c.outcome, instances.c.reason
            )
        ).all()
    engine.dispose()
    return {uid: (outcome, reason) for uid, outcome, reason in rows}


def test_verdicts_go_to_the_sin_bin_and_headers_arrive_fixed(
    sample_archive: Path, tmp_path: Path
) -> None:
    network = prepare(sample_archive, tmp_path)
    manifest = load_manifest(network.parent)

    assert main(["-q", "run", str(network)]) == 0

    verdicts = expected_verdicts(manifest)
    found = outcomes(network)
    assert {
        uid: reason
        for uid, (outcome, reason) in found.items()
        if outcome == "sinbinned"
    } == verdicts
    assert {o for uid, (o, _) in found.items() if uid not in verdicts} == {"sent"}
    received = {p.stem: p for p in (network.parent / "out/archive").rglob("*.dcm")}
    assert set(received) == set(found) - set(verdicts)
    originals = {
        f.sop_instance_uid: network.parent / f.source / f.path
        for f in reversed(manifest.files)
        if f.readable
    }
    for stale in manifest.stale_files:  # sent from the copy the database names
        current = stale.current
        originals[stale.sop_instance_uid] = (
            network.parent / current.source / current.path
        )
    for uid, keyword, _old, new in sorted(expected_changes(manifest)):
        if uid in verdicts:
            continue
        arrived = dcmread(received[uid])
        assert str(arrived[keyword].value) == new, (uid, keyword)
        original = dcmread(originals[uid])
        if "PixelData" in original:
            assert arrived.PixelData == original.PixelData
        assert (
            arrived.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
        )


def test_verdict_actions_send_and_skip(sample_archive: Path, tmp_path: Path) -> None:
    network = prepare(
        sample_archive,
        tmp_path,
        "verdicts: {not_in_database: send, excluded_study: skip}",
    )
    manifest = load_manifest(network.parent)

    assert main(["-q", "run", str(network)]) == 0

    found = outcomes(network)
    for uid, verdict in expected_verdicts(manifest).items():
        expected = {
            "not_in_database": ("sent", None),
            "excluded_study": ("skipped", "excluded_study"),
            "duplicate_conflict": ("sinbinned", "duplicate_conflict"),
        }[verdict]
        assert found[uid] == expected, uid


def test_dry_run_patches_but_records_nothing(
    sample_archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    network = prepare(sample_archive, tmp_path)

    assert main(["-q", "run", str(network), "--dry-run", "--json"]) == 0

    summary = json.loads(capsys.readouterr().out)
    assert summary["failed"] == 0
    assert summary["prepared"]["summary"]["instances_changed"] > 0
    assert {o for o, _ in outcomes(network).values()} == {"pending"}
    assert not (network.parent / "out").exists()
