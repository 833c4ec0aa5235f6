"""The generated demo archive: files, faults, legacy database and manifest agree."""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import statistics
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
import yaml
from pydicom.errors import InvalidDicomError

from pacsflow.errors import SampleError
from pacsflow.sample import (
    FileEntry,
    SampleManifest,
    generate_sample,
    load_manifest,
)

Sample = tuple[Path, SampleManifest]

IMPLICIT = "1.2.840.10008.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
JPEG2000_LOSSLESS = "1.2.840.10008.1.2.4.90"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
KEY_OBJECT_SELECTION = "1.2.840.10008.5.1.4.1.1.88.59"
RAW_DATA = "1.2.840.10008.5.1.4.1.1.66"
PIXEL_DATA = 0x7FE00010
DRIFTING = ("PatientID", "PatientName", "PatientBirthDate", "AccessionNumber")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    """A three-study sample, generated once for the module."""
    root = tmp_path_factory.mktemp("sample")
    return root, generate_sample(root, studies=3, seed=1)


def _path(root: Path, manifest: SampleManifest, source: str, path: str) -> Path:
    """Return the file a manifest entry names."""
    return root / manifest.sources[source] / path


def _readable(manifest: SampleManifest) -> Iterator[FileEntry]:
    """Yield the readable file entries."""
    return (f for f in manifest.files if f.readable)


def _digest(path: Path) -> str:
    """Return the SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _all_files(root: Path) -> set[str]:
    """Return every file under ``root``, relative, with forward slashes."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_manifest_round_trips(sample: Sample) -> None:
    root, manifest = sample
    assert load_manifest(root) == manifest
    assert load_manifest(root / "manifest.json") == manifest
    assert (root / "manifest.json").read_text(encoding="utf-8") == manifest.to_json()


def test_manifest_lists_every_file_on_disk(sample: Sample) -> None:
    root, manifest = sample
    listed = {f"{manifest.sources[f.source]}/{f.path}" for f in manifest.files}
    tops = {"manifest.json", "network.yaml", "legacy.db", "exclusions.txt"}
    assert _all_files(root) == listed | tops
    assert manifest.expected.files == len(manifest.files)
    for entry in manifest.files:
        assert (
            _path(root, manifest, entry.source, entry.path).stat().st_size == entry.size
        )


def test_readable_files_match_the_manifest(sample: Sample) -> None:
    root, manifest = sample
    for entry in _readable(manifest):
        ds = pydicom.dcmread(
            _path(root, manifest, entry.source, entry.path), defer_size=1024
        )
        assert ds.file_meta.TransferSyntaxUID == entry.transfer_syntax
        assert ds.file_meta.MediaStorageSOPInstanceUID == entry.sop_instance_uid
        assert ds.SOPInstanceUID == entry.sop_instance_uid
        assert ds.SOPClassUID == entry.sop_class_uid
        assert ds.StudyInstanceUID == entry.study_instance_uid
        assert ds.SeriesInstanceUID == entry.series_instance_uid
        assert ds.Modality == entry.modality
        assert (PIXEL_DATA in ds) is entry.pixel_data
        assert ds.PatientName and ds.PatientID and ds.StudyDate
    distinct = {f.sop_instance_uid for f in _readable(manifest)}
    assert manifest.expected.instances == len(distinct)


def test_jpeg2000_images_decode_to_real_pictures(sample: Sample) -> None:
    root, manifest = sample
    first: dict[str, FileEntry] = {}
    for entry in _readable(manifest):
        if entry.pixel_data and entry.modality:
            first.setdefault(entry.modality, entry)
    assert {"CT", "MR", "CR"} <= set(first)
    for entry in first.values():
        ds = pydicom.dcmread(_path(root, manifest, entry.source, entry.path))
        assert ds.file_meta.TransferSyntaxUID == JPEG2000_LOSSLESS
        assert ds.PixelData[:8] == b"\xfe\xff\x00\xe0\x04\x00\x00\x00"  # offset table
        pixels = ds.pixel_array
        assert pixels.shape == (ds.Rows, ds.Columns)
        assert pixels.std() > 50
    ct = pydicom.dcmread(_path(root, manifest, first["CT"].source, first["CT"].path))
    assert (ct.Rows, ct.Columns, ct.BitsAllocated, ct.BitsStored) == (512, 512, 16, 12)
    assert ct.PhotometricInterpretation == "MONOCHROME2"
    assert len(ct.ImagePositionPatient) == 3 and len(ct.ImageOrientationPatient) == 6


def test_no_pixel_objects_in_both_little_endian_syntaxes(sample: Sample) -> None:
    _, manifest = sample
    seen = defaultdict(set)
    for entry in _readable(manifest):
        if not entry.pixel_data:
            seen[entry.sop_class_uid].add(entry.transfer_syntax)
    assert seen[BASIC_TEXT_SR] == {IMPLICIT, EXPLICIT}
    assert seen[KEY_OBJECT_SELECTION] == {IMPLICIT, EXPLICIT}
    assert seen[RAW_DATA] == {EXPLICIT}


def test_file_sizes_are_realistic(sample: Sample) -> None:
    _, manifest = sample
    ct = [f.size for f in _readable(manifest) if f.modality == "CT" and f.pixel_data]
    assert 150_000 <= statistics.median(ct) <= 400_000
    films = [f.size for f in _readable(manifest) if f.modality in ("CR", "DX")]
    assert films and max(films) <= 500_000


def test_layout_is_striped_dated_and_mixed(sample: Sample) -> None:
    _, manifest = sample
    layout = re.compile(r"\d{4}/\d{2}/\d{2}/[0-9A-Za-z]+/\d+/[^/]+")
    stores_of_study = defaultdict(list)
    for entry in _readable(manifest):
        assert layout.fullmatch(entry.path), entry.path
        stores_of_study[entry.study_instance_uid].append(entry.source)
    for stores in stores_of_study.values():
        assert len(set(stores)) == min(3, len(stores))
    names = [f.path.rsplit("/", 1)[1] for f in _readable(manifest)]
    assert any(re.fullmatch(r"[0-9A-F]{8}", name) for name in names)
    assert sum(name.endswith(".dcm") for name in names) > len(names) / 2


def test_every_fault_is_planted_once(sample: Sample) -> None:
    _, manifest = sample
    uid_faults = [
        set(manifest.orphans),
        set(manifest.missing_on_disk),
        set(manifest.duplicates_same_content),
        set(manifest.duplicates_different_content),
        {s.sop_instance_uid for s in manifest.stale_files},
        {u.sop_instance_uid for u in manifest.unreadable if u.sop_instance_uid},
    ]
    assert all(uid_faults)
    assert sum(map(len, uid_faults)) == len(set().union(*uid_faults))
    assert manifest.header_drift and manifest.merged and manifest.excluded_studies
    whys = {u.why for u in manifest.unreadable}
    assert whys == {"non_dicom", "truncated_header", "truncated_pixel_data", "empty"}
    drifted = {(d.attribute, d.database) for d in manifest.header_drift}
    assert ("PatientName", "Müller^Jürgen") in drifted
    assert {"PatientID", "PatientName"} <= {attribute for attribute, _ in drifted}


def test_unreadable_files_are_what_the_manifest_says(sample: Sample) -> None:
    root, manifest = sample
    for entry in manifest.unreadable:
        path = _path(root, manifest, entry.source, entry.path)
        if entry.why == "empty":
            assert path.stat().st_size == 0
        if entry.why in ("empty", "non_dicom"):
            with pytest.raises(InvalidDicomError):
                pydicom.dcmread(path)
        if entry.why == "truncated_header":
            ds = pydicom.dcmread(path)
            assert "Rows" not in ds and PIXEL_DATA not in ds
            assert path.stat().st_size < 1000
        if entry.why == "truncated_pixel_data":
            header = pydicom.dcmread(path, stop_before_pixels=True)
            assert header.SOPInstanceUID == entry.sop_instance_uid
            with pytest.warns(UserWarning, match="End of file reached"):
                pydicom.dcmread(path)


def test_copies_on_disk(sample: Sample) -> None:
    root, manifest = sample
    files = defaultdict(list)
    for entry in _readable(manifest):
        files[entry.sop_instance_uid].append(entry)
    twice = {uid for uid, entries in files.items() if len(entries) == 2}
    stale = {s.sop_instance_uid for s in manifest.stale_files}
    same, different = (
        manifest.duplicates_same_content,
        manifest.duplicates_different_content,
    )
    assert twice == set(same) | set(different) | stale
    for uid in twice:
        first, second = (_path(root, manifest, e.source, e.path) for e in files[uid])
        assert (first.read_bytes() == second.read_bytes()) is (uid in same)
    for uid in different:
        a, b = (
            pydicom.dcmread(_path(root, manifest, e.source, e.path)) for e in files[uid]
        )
        changed = [elem.keyword for elem in a if elem.value != b[elem.tag].value]
        assert changed == ["InstanceCreationTime"]
    for item in manifest.stale_files:
        old = _path(root, manifest, item.stale.source, item.stale.path)
        new = _path(root, manifest, item.current.source, item.current.path)
        assert old.read_bytes() != new.read_bytes()


def test_network_file_and_exclusions(sample: Sample) -> None:
    root, manifest = sample
    network = yaml.safe_load((root / manifest.network).read_text(encoding="utf-8"))
    assert network["sources"] == [{"name": n, "path": n} for n in manifest.sources]
    assert network["legacy_database"]["url"] == "sqlite:///legacy.db"
    assert network["exclude_studies"] == manifest.exclusions
    assert [r["to"] for r in network["routes"]] == [
        "newpacs-nopixel",
        "sinbin",
        "newpacs",
    ]
    assert set(network["destinations"]) == {
        "newpacs",
        "newpacs-nopixel",
        "sinbin",
        "discard",
    }
    lines = (root / manifest.exclusions).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("#") and "" in lines
    assert tuple(line for line in lines if line and not line.startswith("#")) == (
        manifest.excluded_studies
    )


def _legacy_rows(root: Path, manifest: SampleManifest) -> dict[str, list[sqlite3.Row]]:
    """Run the network file's legacy query and group its rows by SOP Instance UID."""
    network = yaml.safe_load((root / manifest.network).read_text(encoding="utf-8"))
    connection = sqlite3.connect(root / manifest.legacy_database)
    connection.row_factory = sqlite3.Row
    try:
        rows = connection.execute(network["legacy_database"]["query"]).fetchall()
    finally:
        connection.close()
    grouped = defaultdict(list)
    for row in rows:
        grouped[row["SOPInstanceUID"]].append(row)
    return grouped


def test_legacy_query_disagrees_exactly_as_planted(sample: Sample) -> None:
    root, manifest = sample
    rows = _legacy_rows(root, manifest)
    drift, merged, orphans = set(), set(), set()
    first: dict[str | None, FileEntry] = {}
    for entry in _readable(manifest):
        first.setdefault(entry.sop_instance_uid, entry)
    for uid, entry in first.items():
        if uid not in rows:
            orphans.add(uid)
            continue
        path = _path(root, manifest, entry.source, entry.path)
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        row = rows[uid][0]
        for name in (*DRIFTING, "StudyDate"):
            header, database = str(ds.get(name, "")), row[name] or ""
            if header != database:
                drift.add((uid, name, header, database))
        if ds.StudyInstanceUID != row["StudyInstanceUID"]:
            merged.add((uid, ds.StudyInstanceUID, row["StudyInstanceUID"]))
    missing = {
        uid
        for uid, found in rows.items()
        for row in found
        if row["FilePath"] and not (root / row["FilePath"]).exists()
    }
    assert drift == {
        (d.sop_instance_uid, d.attribute, d.header, d.database)
        for d in manifest.header_drift
    }
    assert merged == {
        (m.sop_instance_uid, m.header_study, m.database_study) for m in manifest.merged
    }
    assert orphans == set(manifest.orphans)
    assert missing == set(manifest.missing_on_disk)


def test_legacy_database_points_at_current_copies(sample: Sample) -> None:
    root, manifest = sample
    rows = _legacy_rows(root, manifest)
    doubled = {uid for uid, found in rows.items() if len(found) == 2}
    assert doubled == set(manifest.duplicates_same_content) | set(
        manifest.duplicates_different_content
    )
    for item in manifest.stale_files:
        (row,) = rows[item.sop_instance_uid]
        assert row["FilePath"] == f"{item.current.source}/{item.current.path}"
    connection = sqlite3.connect(root / manifest.legacy_database)
    try:
        storages = connection.execute("SELECT name, root FROM storage").fetchall()
        names = connection.execute("SELECT patient_name FROM patient").fetchall()
    finally:
        connection.close()
    assert storages[0] == ("store01", "\\\\nas01\\pacs\\store01")
    assert ("Müller^Jürgen",) in names


def test_same_seed_same_bytes_and_regeneration_replaces(
    sample: Sample, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first_root, first = sample
    root = tmp_path / "again"
    caplog.set_level(logging.DEBUG, logger="pacsflow")
    again = generate_sample(root, studies=3, seed=1)

    assert again == first
    for name in ("manifest.json", "legacy.db", "network.yaml"):
        assert _digest(root / name) == _digest(first_root / name)
    for entry in manifest_sample(first.files):
        here = _path(root, again, entry.source, entry.path)
        assert _digest(here) == _digest(
            _path(first_root, first, entry.source, entry.path)
        )
    loud = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "Jürgen" not in loud and "JURGEN" not in loud

    (root / "notes.md").write_text("kept", encoding="utf-8")
    other = generate_sample(root, studies=3, seed=2)
    assert other.files != first.files
    listed = {f"{other.sources[f.source]}/{f.path}" for f in other.files}
    tops = {"manifest.json", "network.yaml", "legacy.db", "exclusions.txt", "notes.md"}
    assert _all_files(root) == listed | tops
    assert not [d for d in root.rglob("*") if d.is_dir() and not any(d.iterdir())]


def manifest_sample(files: tuple[FileEntry, ...]) -> list[FileEntry]:
    """Pick a handful of files spread over the manifest."""
    return list(files[:: max(1, len(files) // 6)])


def test_refuses_a_directory_that_holds_something_else(tmp_path: Path) -> None:
    (tmp_path / "report.docx").write_bytes(b"not a sample")
    with pytest.raises(SampleError, match=r"not empty and has no manifest\.json"):
        generate_sample(tmp_path, studies=3)
    assert _all_files(tmp_path) == {"report.docx"}


def test_refuses_a_file_as_directory(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_bytes(b"")
    with pytest.raises(SampleError, match="but it is a file"):
        generate_sample(target, studies=3)


def test_refuses_too_few_studies(tmp_path: Path) -> None:
    with pytest.raises(
        SampleError, match="expected between 3 and 10000 studies, got 2"
    ):
        generate_sample(tmp_path, studies=2)


def test_refuses_a_garbled_manifest(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{}", encoding="utf-8")
    with pytest.raises(SampleError, match="expected a sample manifest"):
        generate_sample(tmp_path, studies=3)
