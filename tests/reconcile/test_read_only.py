"""The legacy database is only ever read: other statements are refused before they are
sent, and what a SELECT might write is stopped by the read-only session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from pacsflow.cli import main
from pacsflow.errors import LegacyDatabaseError
from pacsflow.reconcile.snapshot import check_query
from pacsflow.sample import generate_sample
from pacsflow.sample.export import export_legacy
from tests.reconcile.legacy import use_legacy


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "DELETE FROM patient",
            "must be one SELECT statement; it starts with 'delete'",
        ),
        ("SELECT 1; DROP TABLE patient", "more than one statement"),
        ("SELECT pk INTO copy FROM patient", "contains 'INTO'"),
        ("", "it starts with 'nothing'"),
    ],
)
def test_anything_but_one_select_is_refused(query: str, message: str) -> None:
    with pytest.raises(LegacyDatabaseError, match=message):
        check_query(query)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    generate_sample(tmp_path / "sample", studies=3, seed=97)
    shutil.copytree(tmp_path / "sample", tmp_path / "archive")
    return tmp_path / "archive"


@pytest.mark.postgres
def test_a_select_that_would_write_is_stopped_by_the_read_only_session(
    archive: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    export_legacy(archive, postgres_url)
    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE SEQUENCE probe"))
    query = (
        "SELECT i.sop_instance_uid AS SOPInstanceUID,\n"
        "       CAST(nextval('probe') AS TEXT) AS InstanceNumber\n"
        "FROM instance i"
    )
    use_legacy(archive / "network.yaml", postgres_url, query)

    code = main(["-q", "reconcile", str(archive / "network.yaml")])

    with engine.connect() as connection:
        called = connection.scalar(text("SELECT is_called FROM probe"))
    engine.dispose()
    assert code == 2
    assert called is False  # the sequence never moved
    assert "read-only transaction" in caplog.text
