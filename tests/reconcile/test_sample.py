"""Reconciling the sample archive finds exactly what its manifest planted.

The legacy database is the sample's SQLite file, and the same rows loaded into
PostgreSQL and MariaDB in two shapes (joined PACS tables with native DATE columns, and
one flat table with padded CHAR columns and UNC paths).
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from pacsflow.cli import main
from pacsflow.sample import generate_sample, load_manifest
from pacsflow.sample.export import SERVER_QUERY, export_legacy
from tests.reconcile.expect import expected_changes, expected_verdicts
from tests.reconcile.legacy import FLAT_QUERY, load_flat, use_legacy


@pytest.fixture(scope="module")
def sample_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sample")
    generate_sample(directory, studies=6, seed=11)
    return directory


@pytest.fixture
def archive(sample_archive: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "archive"
    shutil.copytree(sample_archive, copy)
    return copy


Loader = Callable[[Path, str], None]

LEGACY = [
    pytest.param(None, None, None, id="sqlite"),
    pytest.param(
        "postgres_url", export_legacy, SERVER_QUERY, id="postgresql-joined",
        marks=pytest.mark.postgres,
    ),
    pytest.param(
        "postgres_url", load_flat, FLAT_QUERY, id="postgresql-flat",
        marks=pytest.mark.postgres,
    ),
    pytest.param(
        "mariadb_url", export_legacy, SERVER_QUERY, id="mariadb-joined",
        marks=pytest.mark.mariadb,
    ),
    pytest.param(
        "mariadb_url", load_flat, FLAT_QUERY, id="mariadb-flat",
        marks=pytest.mark.mariadb,
    ),
]  # fmt: skip


def reconcile(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[dict[str, object], list[dict[str, str]]]:
    """``pacsflow reconcile --report --json``; the summary and the report rows."""
    report = archive / "report.csv"
    network = str(archive / "network.yaml")
    assert main(["-q", "reconcile", network, "--report", str(report), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    with report.open(encoding="utf-8") as stream:
        return summary, list(csv.DictReader(stream))


@pytest.mark.parametrize(("server", "loader", "query"), LEGACY)
def test_every_planted_problem_is_found(
    archive: Path,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    server: str | None,
    loader: Loader | None,
    query: str | None,
) -> None:
    manifest = load_manifest(archive)
    if server is not None and loader is not None and query is not None:
        url: str = request.getfixturevalue(server)
        loader(archive, url)
        use_legacy(archive / "network.yaml", url, query)

    _summary, rows = reconcile(archive, capsys)

    by_kind: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_kind.setdefault(row["kind"], []).append(row)
    verdicts = {r["sop_instance_uid"]: r["verdict"] for r in by_kind["verdict"]}
    assert verdicts == expected_verdicts(manifest)
    changes = {
        (r["sop_instance_uid"], r["attribute"], r["header_value"], r["database_value"])
        for r in by_kind["change"]
    }
    assert changes == expected_changes(manifest)
    stale = {(r["source"], r["path"]) for r in by_kind["stale_file"]}
    assert stale == {(s.stale.source, s.stale.path) for s in manifest.stale_files}
    missing = {r["sop_instance_uid"] for r in by_kind["missing_on_disk"]}
    assert missing == set(manifest.missing_on_disk)


def test_status_reports_the_reconciliation(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = load_manifest(archive)
    reconcile(archive, capsys)

    assert main(["status", str(archive / "network.yaml"), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)

    found = status["reconciliation"]
    changes = expected_changes(manifest)
    assert found["instances_changed"] == len({uid for uid, *_ in changes})
    by_attribute: dict[str, int] = {}
    for _uid, attribute, *_ in changes:
        by_attribute[attribute] = by_attribute.get(attribute, 0) + 1
    assert found["changes_by_attribute"] == by_attribute
    assert found["missing_on_disk"] == len(manifest.missing_on_disk)
    assert found["stale_files"] == len(manifest.stale_files)
    verdicts: dict[str, int] = {}
    for verdict in expected_verdicts(manifest).values():
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
    assert found["verdicts"] == verdicts
    assert found["snapshot"]["instances"] > 0


def test_reconcile_on_a_postgresql_ledger(
    archive: Path, capsys: pytest.CaptureFixture[str], postgres_url: str
) -> None:
    network = archive / "network.yaml"
    network.write_text(
        network.read_text().replace("sqlite:///pacsflow.db", postgres_url)
    )
    manifest = load_manifest(archive)

    _summary, rows = reconcile(archive, capsys)

    verdicts = {
        r["sop_instance_uid"]: r["verdict"] for r in rows if r["kind"] == "verdict"
    }
    assert verdicts == expected_verdicts(manifest)
    changes = {
        (r["sop_instance_uid"], r["attribute"], r["header_value"], r["database_value"])
        for r in rows
        if r["kind"] == "change"
    }
    assert changes == expected_changes(manifest)
