"""``pacsflow explain``: any instance's or study's journey, from the ledger alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pacsflow.cli import main
from pacsflow.sample import SampleManifest, generate_sample, load_manifest
from tests.reconcile.expect import expected_changes, expected_verdicts
from tests.reconcile.test_run import prepare


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SampleManifest]:
    """The sample migrated into folders; its network file and manifest."""
    directory = tmp_path_factory.mktemp("explain")
    generate_sample(directory / "sample", studies=5, seed=31)
    network = prepare(directory / "sample", directory)
    assert main(["-q", "run", str(network)]) == 0
    return network, load_manifest(network.parent)


def explain_json(network: Path, uid: str, capsys: pytest.CaptureFixture[str]) -> Any:
    assert main(["explain", str(network), uid, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_an_instance_with_header_changes_shows_each_change_and_its_attempt(
    migrated: tuple[Path, SampleManifest], capsys: pytest.CaptureFixture[str]
) -> None:
    network, manifest = migrated
    verdicts = expected_verdicts(manifest)
    changes = sorted(c for c in expected_changes(manifest) if c[0] not in verdicts)
    uid = changes[0][0]

    found = explain_json(network, uid, capsys)

    assert found["kind"] == "instance"
    (history,) = found["instances"]
    assert history["outcome"] == "sent"
    assert history["route"] == "everything"
    assert history["destination"] == "archive"
    assert history["in_legacy_database"] is True
    assert {(c["attribute"], c["old"], c["new"]) for c in history["changes"]} == {
        (attribute, old, new) for u, attribute, old, new in changes if u == uid
    }
    (attempt,) = history["attempts"]
    assert attempt["destination"] == "archive"
    assert attempt["result"] == "stored"
    entry = next(f for f in manifest.files if f.sop_instance_uid == uid)
    assert [(f["source"], f["path"], f["primary"]) for f in history["files"]] == [
        (entry.source, entry.path, True)
    ]


def test_the_terminal_answer_names_the_file_the_verdict_and_the_outcome(
    migrated: tuple[Path, SampleManifest], capsys: pytest.CaptureFixture[str]
) -> None:
    network, manifest = migrated
    orphan = manifest.orphans[0]

    assert main(["explain", str(network), orphan]) == 0

    out = capsys.readouterr().out
    entry = next(f for f in manifest.files if f.sop_instance_uid == orphan)
    assert f"Instance {orphan}" in out
    assert entry.path in " ".join(out.split())
    assert "verdict not_in_database" in out
    assert "sinbinned, reason not_in_database, to sinbin" in out


def test_a_stale_copy_and_the_copy_sent_are_both_listed(
    migrated: tuple[Path, SampleManifest], capsys: pytest.CaptureFixture[str]
) -> None:
    network, manifest = migrated
    stale = manifest.stale_files[0]

    (history,) = explain_json(network, stale.sop_instance_uid, capsys)["instances"]

    files = {(f["source"], f["path"]): f for f in history["files"]}
    current = files[(stale.current.source, stale.current.path)]
    old = files[(stale.stale.source, stale.stale.path)]
    assert current["primary"] is True
    assert current["stale"] is False
    assert old["primary"] is False
    assert old["stale"] is True
    assert history["outcome"] == "sent"


def test_a_merged_study_lists_the_instance_the_database_moved_into_it(
    migrated: tuple[Path, SampleManifest], capsys: pytest.CaptureFixture[str]
) -> None:
    network, manifest = migrated
    merged = manifest.merged[0]

    found = explain_json(network, merged.database_study, capsys)

    assert found["kind"] == "study"
    listed = {h["sop_instance_uid"]: h for h in found["instances"]}
    assert merged.sop_instance_uid in listed
    moved = listed[merged.sop_instance_uid]
    assert moved["study_instance_uid"] == merged.database_study
    assert moved["header_study_instance_uid"] == merged.header_study
    readable_in_study = {
        f.sop_instance_uid
        for f in manifest.files
        if f.readable
        and (
            f.study_instance_uid == merged.database_study
            or f.sop_instance_uid == merged.sop_instance_uid
        )
    }
    assert readable_in_study <= set(listed)


def test_an_instance_the_database_lists_but_no_file_holds_is_missing_on_disk(
    migrated: tuple[Path, SampleManifest], capsys: pytest.CaptureFixture[str]
) -> None:
    network, manifest = migrated
    uid = manifest.missing_on_disk[0]

    found = explain_json(network, uid, capsys)

    assert found["kind"] == "instance"
    (history,) = found["instances"]
    assert history["outcome"] is None
    assert history["files"] == []
    assert history["in_legacy_database"] is True
    assert main(["explain", str(network), uid]) == 0
    assert "missing on disk" in capsys.readouterr().out


def test_an_unknown_uid_says_so_and_exits_1(
    migrated: tuple[Path, SampleManifest], capsys: pytest.CaptureFixture[str]
) -> None:
    network, _ = migrated

    assert main(["explain", str(network), "1.2.3.4.5"]) == 1

    assert "No instance or study with UID 1.2.3.4.5" in capsys.readouterr().out
