"""The fast header reader agrees with pydicom and says why a file is unreadable."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
)

from pacsflow.scan.header import UnreadableFileError, read_header
from tests.dicomfiles import BASIC_TEXT_SR, ct_dataset, sr_dataset, write


@pytest.mark.parametrize(
    "syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEG2000Lossless]
)
def test_reads_image_attributes(tmp_path: Path, syntax: str) -> None:
    path = write(ct_dataset(number=7), tmp_path / "ct.dcm", syntax)

    header = read_header(path)

    reference = dcmread(path, stop_before_pixels=True)
    assert header.sop_instance_uid == reference.SOPInstanceUID
    assert header.sop_class_uid == CTImageStorage
    assert header.study_instance_uid == "1.2.3.4"
    assert header.series_instance_uid == "1.2.3.4.1"
    assert header.transfer_syntax == syntax
    assert header.pixel_data is True
    assert header.modality == "CT"
    assert header.study_date == "20240131"
    assert (header.series_number, header.instance_number) == (3, 7)


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_walks_nested_sequences_of_undefined_length(
    tmp_path: Path, syntax: str
) -> None:
    ds = sr_dataset(depth=5)
    path = write(ds, tmp_path / "sr.dcm", syntax)
    # pydicom writes sequences with undefined length; make sure that holds
    assert b"\xfe\xff\xdd\xe0" in path.read_bytes()

    header = read_header(path)

    assert header.sop_class_uid == BASIC_TEXT_SR
    assert header.pixel_data is False
    assert header.series_number == 99


def test_big_endian_goes_to_pydicom(tmp_path: Path) -> None:
    ds = ct_dataset()
    path = write(ds, tmp_path / "be.dcm", ExplicitVRBigEndian)

    header = read_header(path)

    assert header.sop_instance_uid == ds.SOPInstanceUID
    assert header.transfer_syntax == ExplicitVRBigEndian
    assert header.pixel_data is True


def test_file_without_preamble_goes_to_pydicom(tmp_path: Path) -> None:
    ds = ct_dataset()
    full = write(ds, tmp_path / "full.dcm", ImplicitVRLittleEndian)
    bare = tmp_path / "bare"
    ds_bytes = full.read_bytes()
    meta_end = 132 + 12 + struct.unpack_from("<I", ds_bytes, 140)[0]
    bare.write_bytes(ds_bytes[meta_end:])  # a raw implicit VR data set, ACR-NEMA style

    header = read_header(bare)

    assert header.sop_instance_uid == ds.SOPInstanceUID
    assert header.transfer_syntax == ImplicitVRLittleEndian


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"Just some notes about this folder.\n" * 20, "not a DICOM file|not readable"),
        (bytes(range(256)) * 8, "not a DICOM file|not readable"),
    ],
)
def test_non_dicom_is_unreadable(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "junk"
    path.write_bytes(content)

    with pytest.raises(UnreadableFileError, match=reason):
        read_header(path)


def test_truncated_header_is_unreadable(tmp_path: Path) -> None:
    path = write(ct_dataset(), tmp_path / "ct.dcm")
    path.write_bytes(path.read_bytes()[:300])

    with pytest.raises(UnreadableFileError, match="truncated"):
        read_header(path)


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, JPEG2000Lossless])
def test_truncated_pixel_data_is_unreadable(tmp_path: Path, syntax: str) -> None:
    path = write(ct_dataset(), tmp_path / "ct.dcm", syntax)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])

    with pytest.raises(UnreadableFileError, match="truncated pixel data"):
        read_header(path)


def test_huge_declared_length_is_unreadable_without_reading_it(tmp_path: Path) -> None:
    path = write(sr_dataset(depth=1), tmp_path / "sr.dcm")
    data = bytearray(path.read_bytes())
    # Declare a 4 GB Text Value (0040,A160) UT: long VR, 4-byte length
    at = data.index(b"\x40\x00\x60\xa1UT")
    data[at + 8 : at + 12] = struct.pack("<I", 0xFFFFFFF0)
    path.write_bytes(bytes(data))

    with pytest.raises(UnreadableFileError, match="truncated"):
        read_header(path)


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    path = write(sr_dataset(depth=40), tmp_path / "deep.dcm")

    with pytest.raises(UnreadableFileError, match="nested deeper than 32"):
        read_header(path)


def test_missing_sop_instance_uid_is_named(tmp_path: Path) -> None:
    ds = ct_dataset()
    path = write(ds, tmp_path / "ct.dcm")
    data = bytearray(path.read_bytes())
    # Blank both SOP Instance UIDs (file meta and data set) with spaces
    uid = ds.SOPInstanceUID.encode()
    data[:] = data.replace(uid, b" " * len(uid))
    path.write_bytes(bytes(data))

    with pytest.raises(UnreadableFileError, match=r"\(0008,0018\) SOP Instance UID"):
        read_header(path)
