"""The splice fast path gives the data set pydicom would, for every sample file."""

from __future__ import annotations

import struct
from io import BytesIO
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import ExplicitVRBigEndian

from pacsflow.dicom.dataset import dataset_bytes
from pacsflow.reconcile.fix import patched_file
from pacsflow.reconcile.splice import NotSimpleError, splice
from pacsflow.sample import generate_sample, load_manifest

FIXES = (
    ("AccessionNumber", ""),  # emptied
    ("PatientName", "Jansen^Anna"),  # replaced
    ("IssuerOfPatientID", "ZGT"),  # usually absent: inserted
    ("PatientID", "ZGT-00421"),  # odd length: padded
    ("StudyInstanceUID", "1.2.3.4.5"),  # odd UID: padded with a NUL
)
TAGS = {
    "AccessionNumber": (0x00080050, "SH"),
    "PatientName": (0x00100010, "PN"),
    "IssuerOfPatientID": (0x00100021, "LO"),
    "PatientID": (0x00100020, "LO"),
    "StudyInstanceUID": (0x0020000D, "UI"),
}


@pytest.fixture(scope="module")
def sample_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    directory = tmp_path_factory.mktemp("sample")
    generate_sample(directory, studies=3, seed=4)
    manifest = load_manifest(directory)
    return [directory / f.source / f.path for f in manifest.files if f.readable]


def test_spliced_files_read_as_pydicom_would_write_them(
    sample_files: list[Path],
) -> None:
    for path in sample_files:
        original = dcmread(path)
        if original.file_meta.TransferSyntaxUID == ExplicitVRBigEndian:
            continue
        syntax, data = dataset_bytes(path)
        simple = [(*TAGS[k], v) for k, v in FIXES]
        splice(data, syntax != "1.2.840.10008.1.2", simple)  # the fast path applies

        patched = dcmread(BytesIO(patched_file(path, FIXES)))

        for keyword, value in FIXES:
            setattr(original, keyword, value)
        assert set(patched.keys()) == set(original.keys()), path
        for element in original:
            assert patched[element.tag].value == element.value, (path, element.tag)


def test_text_to_re_encode_inside_a_sequence_is_not_simple() -> None:
    charset = b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100"
    inner = b"\x08\x00\x80\x00LO\x06\x00Z\xfcrich"  # Latin-1, inside an item
    item = b"\xfe\xff\x00\xe0" + struct.pack("<I", len(inner)) + inner
    sequence = b"\x08\x00\x10\x11SQ\x00\x00" + struct.pack("<I", len(item)) + item
    name = b"\x10\x00\x10\x00PN\x04\x00DOE "

    with pytest.raises(NotSimpleError, match="non-ASCII bytes in element 00081110"):
        splice(charset + sequence + name, True, [(0x00100010, "PN", "山田^太郎")])


def test_group_length_in_a_changed_group_is_not_simple() -> None:
    group_length = b"\x10\x00\x00\x00UL\x04\x00\x0c\x00\x00\x00"
    name = b"\x10\x00\x10\x00PN\x04\x00DOE "

    with pytest.raises(NotSimpleError, match="group length"):
        splice(group_length + name, True, [(0x00100010, "PN", "X")])


def test_a_value_beyond_the_character_set_switches_the_data_set_to_utf8(
    sample_files: list[Path],
) -> None:
    name = "Łukasiewicz^Żaneta"  # not Latin-1: the data set must become UTF-8
    switched = 0
    for path in sample_files:
        original = dcmread(path)
        syntax, data = dataset_bytes(path)
        if syntax == ExplicitVRBigEndian or "SpecificCharacterSet" not in original:
            continue
        try:
            splice(data, syntax != "1.2.840.10008.1.2", [(0x00100010, "PN", name)])
        except NotSimpleError:
            continue  # non-ASCII text inside a sequence: the general path's
        switched += 1

        patched = dcmread(BytesIO(patched_file(path, (("PatientName", name),))))

        assert patched.SpecificCharacterSet == "ISO_IR 192"
        assert patched.PatientName == name
        original.PatientName = name
        assert set(patched.keys()) == set(original.keys()), path
        for element in original:
            if element.keyword in ("SpecificCharacterSet", "PixelData"):
                continue
            assert patched[element.tag].value == element.value, (path, element.tag)
        if "PixelData" in original:
            assert patched.PixelData == original.PixelData
    assert switched > 10
