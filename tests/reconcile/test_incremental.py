"""A run judges afresh only what changed since the last reconciliation."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pacsflow.cli import main
from pacsflow.sample import generate_sample, load_manifest
from tests.reconcile.expect import expected_verdicts
from tests.reconcile.test_run import prepare


def reconciled(network: Path, capsys: pytest.CaptureFixture[str], *more: str) -> Any:
    assert main(["-q", "reconcile", str(network), "--json", *more]) == 0
    return json.loads(capsys.readouterr().out)["summary"]


@pytest.fixture
def network(tmp_path: Path) -> Path:
    generate_sample(tmp_path / "sample", studies=4, seed=51)
    return prepare(tmp_path / "sample", tmp_path)


def test_nothing_changed_nothing_judged_and_the_counts_stay(
    network: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = len(load_manifest(network.parent).stale_files)
    first = reconciled(network, capsys)
    second = reconciled(network, capsys)

    assert first["judged"] == first["instances"] > 0
    # a scan points a duplicated UID at its first copy, reconciliation back at the
    # copy the database names: only those few are judged on every run
    assert second["judged"] == stale
    assert {k: v for k, v in second.items() if k != "judged"} == {
        k: v for k, v in first.items() if k != "judged"
    }


def test_an_edited_exclusion_list_is_judged_again(
    network: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = load_manifest(network.parent)
    first = reconciled(network, capsys)
    (network.parent / "exclusions.txt").write_text("")

    second = reconciled(network, capsys)

    assert second["judged"] == first["instances"]
    excluded = sum(v == "excluded_study" for v in expected_verdicts(manifest).values())
    assert first["verdicts"]["excluded_study"] == excluded
    assert "excluded_study" not in second["verdicts"]


def test_a_file_read_again_and_a_new_snapshot_are_judged_again(
    network: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = load_manifest(network.parent)
    first = reconciled(network, capsys)
    entry = next(
        f
        for f in manifest.files
        if f.readable and f.sop_instance_uid not in expected_verdicts(manifest)
    )
    path = network.parent / entry.source / entry.path
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))

    touched = reconciled(network, capsys)
    refreshed = reconciled(network, capsys, "--refresh")

    assert touched["judged"] == 1 + len(manifest.stale_files)
    assert refreshed["judged"] == first["instances"]
    assert refreshed["instances_changed"] == first["instances_changed"]
