"""The sample migration end to end: generate, scan, and the ledger matches the manifest.

The manifest is the answer key of the generated archive, so every count is checked
exactly, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pacsflow.cli import main
from pacsflow.sample import SampleManifest, generate_sample, load_manifest


@pytest.fixture(scope="module")
def sample_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated archive, copied per test so scans never share a ledger."""
    directory = tmp_path_factory.mktemp("sample")
    generate_sample(directory, studies=4, seed=3)
    return directory


@pytest.fixture
def archive(sample_archive: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "archive"
    shutil.copytree(sample_archive, copy)
    return copy


def scan_and_status(
    network: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> dict[str, object]:
    """Run ``scan`` then ``status --json`` through the CLI; return the status."""
    assert main(["-q", "scan", str(network), *args]) == 0
    capsys.readouterr()
    assert main(["status", str(network), "--json"]) == 0
    status: dict[str, object] = json.loads(capsys.readouterr().out)
    return status


def use_tracking(network: Path, url: str) -> None:
    """Point the sample's network file at another ledger."""
    text = network.read_text().replace("sqlite:///pacsflow.db", url)
    network.write_text(text)


def test_scan_finds_exactly_what_the_sample_planted(
    archive: Path, ledger_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    use_tracking(archive / "network.yaml", ledger_url)
    manifest = load_manifest(archive / "manifest.json")

    status = scan_and_status(archive / "network.yaml", capsys, "--workers", "2")

    expected = manifest.expected
    assert status["files"] == expected.files == len(manifest.files)
    assert status["unreadable"] == expected.unreadable
    assert status["instances"] == expected.instances
    assert status["outcomes"] == {
        "pending": expected.instances,
        "sent": 0,
        "sinbinned": 0,
        "failed": 0,
        "skipped": 0,
    }
    assert sorted(
        (c["sop_class"], c["transfer_syntax"], c["count"])
        for c in status["matrix"]  # type: ignore[attr-defined]
    ) == sorted((c.sop_class, c.transfer_syntax, c.count) for c in expected.matrix)
    assert status["duplicates"] == duplicates_planted(manifest)
    unreadable = {(f["source"], f["path"]) for f in status["unreadable_files"]}  # type: ignore[attr-defined]
    assert unreadable == {(u.source, u.path) for u in manifest.unreadable}


def duplicates_planted(manifest: SampleManifest) -> dict[str, int]:
    """UIDs on disk twice: identical copies, and different ones (stale copies too)."""
    different = set(manifest.duplicates_different_content)
    different |= {stale.sop_instance_uid for stale in manifest.stale_files}
    return {
        "same_content": len(manifest.duplicates_same_content),
        "different_content": len(different),
    }


def test_rescan_reads_nothing_unchanged(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    network = archive / "network.yaml"
    first = scan_and_status(network, capsys)

    assert main(["-q", "scan", str(network), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)

    # only the unreadable files are tried again
    assert summary["read"] == first["unreadable"]
    assert summary["new_instances"] == 0


def test_demo_command_generates_scans_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", str(tmp_path / "demo"), "--studies", "3"]) == 0

    shown = capsys.readouterr().out
    assert "SOP class × transfer syntax" in shown
    assert "Unreadable files" in shown
    assert (tmp_path / "demo" / "pacsflow.db").exists()
    assert (tmp_path / "demo" / "report" / "index.html").exists()
    assert (tmp_path / "demo" / "events.jsonl").exists()
