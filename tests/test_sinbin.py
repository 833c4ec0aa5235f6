"""`pacsflow sinbin list` and `release`: review what was put aside, send it again."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from pacsflow.cli import main
from pacsflow.ledger.database import open_ledger
from pacsflow.ledger.index import now
from pacsflow.ledger.schema import releases, runs
from pacsflow.sample import SampleManifest, generate_sample, load_manifest
from tests.reconcile.expect import expected_verdicts
from tests.reconcile.test_run import outcomes, prepare


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sinbin")
    generate_sample(directory, studies=5, seed=41)
    return directory


@pytest.fixture
def migrated(sample: Path, tmp_path: Path) -> tuple[Path, SampleManifest]:
    """A fresh copy of the sample migrated into folders."""
    network = prepare(sample, tmp_path)
    assert main(["-q", "run", str(network)]) == 0
    return network, load_manifest(network.parent)


def listing(network: Path, capsys: pytest.CaptureFixture[str], *more: str) -> Any:
    assert main(["sinbin", str(network), "list", "--json", *more]) == 0
    return json.loads(capsys.readouterr().out)


def released_rows(network: Path) -> list[Any]:
    engine = open_ledger(f"sqlite:///{network.parent / 'ledger.db'}")
    with engine.connect() as connection:
        rows = connection.execute(select(releases)).all()
    engine.dispose()
    return rows


def test_the_list_groups_every_sin_binned_instance_by_reason_and_study(
    migrated: tuple[Path, SampleManifest], capsys: pytest.CaptureFixture[str]
) -> None:
    network, manifest = migrated
    verdicts = expected_verdicts(manifest)

    groups = listing(network, capsys)

    assert {g["reason"]: g["instances"] for g in groups} == Counter(verdicts.values())
    for group in groups:
        assert group["outcome"] == "sinbinned"
        assert sum(s["instances"] for s in group["studies"]) == group["instances"]
        assert {s["destination"] for s in group["studies"]} == {"sinbin"}
    excluded = next(g for g in groups if g["reason"] == "excluded_study")
    listed = {s["study_instance_uid"] for s in excluded["studies"]}
    assert listed <= set(manifest.excluded_studies)
    only = listing(network, capsys, "--reason", "not_in_database")
    assert [g["reason"] for g in only] == ["not_in_database"]


def test_the_terminal_list_shows_reasons_and_whole_study_uids(
    migrated: tuple[Path, SampleManifest], capsys: pytest.CaptureFixture[str]
) -> None:
    network, manifest = migrated

    assert main(["sinbin", str(network), "list"]) == 0

    out = capsys.readouterr().out
    joined = "".join(out.split())  # wide UIDs fold onto several lines
    assert "excluded_study (sinbinned)" in out
    assert manifest.excluded_studies[0].replace(" ", "") in joined
    assert "pacsflow sinbin NETWORK release" in out


def test_releasing_a_fixed_exclusion_sends_those_studies_on(
    migrated: tuple[Path, SampleManifest], capsys: pytest.CaptureFixture[str]
) -> None:
    network, manifest = migrated
    excluded = {
        uid for uid, v in expected_verdicts(manifest).items() if v == "excluded_study"
    }
    (network.parent / "exclusions.txt").write_text("# nothing excluded any more\n")

    assert (
        main(["-q", "sinbin", str(network), "release", "--reason", "excluded_study"])
        == 0
    )

    found = outcomes(network)
    assert {found[uid] for uid in excluded} == {("sent", None)}
    received = {p.stem for p in (network.parent / "out/archive").rglob("*.dcm")}
    assert excluded <= received
    rows = released_rows(network)
    assert {r.sop_instance_uid for r in rows} == excluded
    assert {(r.outcome, r.reason, r.selection) for r in rows} == {
        ("sinbinned", "excluded_study", "reason=excluded_study")
    }
    capsys.readouterr()
    uid = sorted(excluded)[0]
    assert main(["explain", str(network), uid, "--json"]) == 0
    (history,) = json.loads(capsys.readouterr().out)["instances"]
    assert [r["selection"] for r in history["releases"]] == ["reason=excluded_study"]
    assert [a["destination"] for a in history["attempts"]] == ["sinbin", "archive"]
    assert history["outcome"] == "sent"


def test_a_release_whose_cause_remains_goes_back_with_its_reason(
    migrated: tuple[Path, SampleManifest],
) -> None:
    network, manifest = migrated
    orphan = manifest.orphans[0]

    assert main(["-q", "sinbin", str(network), "release", "--instance", orphan]) == 0

    assert outcomes(network)[orphan] == ("sinbinned", "not_in_database")
    assert [r.sop_instance_uid for r in released_rows(network)] == [orphan]


def test_releasing_a_study_releases_only_what_is_held_back(
    migrated: tuple[Path, SampleManifest],
) -> None:
    network, manifest = migrated
    study = manifest.excluded_studies[0]
    before = outcomes(network)

    code = main(["-q", "sinbin", str(network), "release", "--study", study, "--no-run"])

    assert code == 0
    after = outcomes(network)
    released = {r.sop_instance_uid for r in released_rows(network)}
    assert released
    assert {after[uid] for uid in released} == {("pending", "excluded_study")}
    assert {before[uid][0] for uid in released} == {"sinbinned"}
    assert all(after[u] == before[u] for u in before if u not in released)


def test_nothing_to_release_exits_1(
    migrated: tuple[Path, SampleManifest], capsys: pytest.CaptureFixture[str]
) -> None:
    network, _ = migrated

    code = main(["sinbin", str(network), "release", "--reason", "no_such_reason"])

    assert code == 1
    assert "Nothing in the sin bin matches reason=no_such_reason" in (
        capsys.readouterr().out
    )


@pytest.fixture
def other_run(migrated: tuple[Path, SampleManifest]) -> Iterator[int]:
    """A live process recorded as a run working on the ledger."""
    network, _ = migrated
    sleeper = subprocess.Popen(["sleep", "60"])
    engine = open_ledger(f"sqlite:///{network.parent / 'ledger.db'}")
    with engine.begin() as connection:
        connection.execute(
            insert(runs).values(
                started_at=now(),
                host=socket.gethostname(),
                pid=sleeper.pid,
                dry_run=False,
                sent=0,
                sinbinned=0,
                failed=0,
            )
        )
    engine.dispose()
    try:
        yield sleeper.pid
    finally:
        sleeper.kill()
        sleeper.wait(timeout=10)


def test_a_release_during_a_run_only_marks_them_pending(
    migrated: tuple[Path, SampleManifest],
    other_run: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    network, manifest = migrated
    orphan = manifest.orphans[0]

    assert main(["sinbin", str(network), "release", "--instance", orphan]) == 0

    assert outcomes(network)[orphan][0] == "pending"
    out = " ".join(capsys.readouterr().out.split())
    assert f"A run (pid {other_run} on" in out
    assert os.getpid() != other_run
