"""Header fixes change the named attributes and nothing else, least of all pixels."""

from __future__ import annotations

import warnings
from io import BytesIO
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileDataset
from pydicom.filereader import read_dataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
)

from pacsflow.reconcile.fix import HeaderFixError, patched_dataset, patched_file
from pacsflow.sample import SampleManifest, generate_sample
from tests.dicomfiles import ct_dataset, sr_dataset, write

PIXEL_DATA = 0x7FE00010
SYNTAXES = [ImplicitVRLittleEndian, ExplicitVRLittleEndian, JPEG2000Lossless]


def parse(data: bytes) -> FileDataset:
    """A whole Part 10 file held in memory, read by pydicom."""
    return dcmread(BytesIO(data))


def pixel_tail(data: bytes) -> bytes:
    """The bytes of a file from its (7FE0,0010) Pixel Data tag to the end."""
    ds = parse(data)
    header = 8 if ds.original_encoding[0] else 12
    start = raw(ds, PIXEL_DATA).value_tell - header
    assert data[start : start + 4] == b"\xe0\x7f\x10\x00"
    return data[start:]


def raw(ds: Dataset, keyword: str | int) -> RawDataElement:
    """An element as read, before pydicom converts its bytes."""
    elem = ds.get_item(keyword)
    assert isinstance(elem, RawDataElement)
    return elem


def latin1_ct(path: Path, syntax: str) -> Path:
    """A CT in ISO_IR 100 with accented text at the top level and in a sequence."""
    ds = ct_dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = "Gonçalves^Maria"
    ds.StudyDescription = "Tórax"
    code = Dataset()
    code.CodeValue = "CTTHO"
    code.CodingSchemeDesignator = "L"
    code.CodeMeaning = "Tomografia do tórax"
    ds.ProcedureCodeSequence = Sequence([code])
    return write(ds, path, syntax)


@pytest.mark.parametrize("name", ["MUELLER^HANS", "Müller^Hans"])  # ASCII, UTF-8
def test_j2k_pixel_data_and_file_meta_pass_through_byte_for_byte(
    tmp_path: Path, name: str
) -> None:
    path = write(ct_dataset(), tmp_path / "ct.dcm", JPEG2000Lossless)
    before = path.read_bytes()
    fixes = (("PatientName", name), ("PatientID", "123"))

    after = patched_file(path, fixes)

    old, new = parse(before), parse(after)
    assert (new.PatientName, new.PatientID) == (name, "123")
    assert new.file_meta.TransferSyntaxUID == JPEG2000Lossless
    assert new.PixelData == old.PixelData
    assert pixel_tail(after) == pixel_tail(before)
    meta_end = len(before) - len(patched_dataset(path, ())[1])
    assert after[:meta_end] == before[:meta_end]  # preamble, DICM, file meta


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_every_other_element_is_unchanged(tmp_path: Path, syntax: str) -> None:
    path = latin1_ct(tmp_path / "ct.dcm", syntax)
    fixes = (("PatientID", "P-77"), ("StudyID", "S9"))

    new = parse(patched_file(path, fixes))

    old = dcmread(path)
    assert set(new.keys()) == set(old.keys()) | {0x00200010}
    for tag in sorted(old.keys()):
        if tag != 0x00100020:
            fresh, kept = new.get_item(tag), old.get_item(tag)
            assert (fresh.VR, fresh.value) == (kept.VR, kept.value), tag  # raw bytes
    assert new.StudyID == "S9"


def test_explicit_vr_little_endian_image_is_patched(tmp_path: Path) -> None:
    path = write(ct_dataset(), tmp_path / "ct.dcm", ExplicitVRLittleEndian)
    before = path.read_bytes()

    after = patched_file(path, (("StudyDate", "20230102"), ("InstanceNumber", "7")))

    new = parse(after)
    assert (new.StudyDate, new.InstanceNumber) == ("20230102", 7)
    assert new.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert not new.original_encoding[0]
    assert pixel_tail(after) == pixel_tail(before)


def test_implicit_vr_report_without_pixel_data_is_patched(tmp_path: Path) -> None:
    path = write(sr_dataset(depth=3), tmp_path / "sr.dcm", ImplicitVRLittleEndian)

    after = patched_file(path, (("PatientName", "Doe^Jane"), ("Modality", "SR")))

    new = parse(after)
    assert new.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    assert new.original_encoding == (True, True)
    assert new.PatientName == "Doe^Jane"
    item = new.ContentSequence[0].ContentSequence[0].ContentSequence[0]
    assert item.TextValue == "finding at level 2"
    assert new.SeriesNumber == 99


@pytest.mark.parametrize(
    "syntax", [ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian]
)
def test_big_endian_and_deflated_files_are_patched(tmp_path: Path, syntax: str) -> None:
    path = write(ct_dataset(), tmp_path / "ct.dcm", syntax)

    after = patched_file(path, (("PatientID", "Q5"),))

    new, old = parse(after), dcmread(path)
    assert new.file_meta.TransferSyntaxUID == syntax
    assert new.PatientID == "Q5"
    assert new.PixelData == old.PixelData
    assert new.Rows == old.Rows


@pytest.mark.parametrize("syntax", SYNTAXES)
@pytest.mark.parametrize("name", ["Ηλίας^Παπαδόπουλος", "山田^太郎"])
def test_switch_to_utf8_keeps_latin1_text(
    tmp_path: Path, syntax: str, name: str
) -> None:
    path = latin1_ct(tmp_path / "ct.dcm", syntax)
    before = path.read_bytes()

    after = patched_file(path, (("ReferringPhysicianName", name),))

    assert raw(parse(after), "StudyDescription").value == "Tórax".encode()
    new = parse(after)
    assert new.SpecificCharacterSet == "ISO_IR 192"
    assert new.ReferringPhysicianName == name
    assert new.PatientName == "Gonçalves^Maria"
    assert new.StudyDescription == "Tórax"
    assert new.ProcedureCodeSequence[0].CodeMeaning == "Tomografia do tórax"
    assert new.PixelData == parse(before).PixelData
    assert pixel_tail(after) == pixel_tail(before)


def test_encodable_value_keeps_the_character_set(tmp_path: Path) -> None:
    path = latin1_ct(tmp_path / "ct.dcm", ExplicitVRLittleEndian)

    new = parse(patched_file(path, (("PatientName", "Müller^Hans"),)))

    assert new.SpecificCharacterSet == "ISO_IR 100"
    assert raw(new, "PatientName").value == "Müller^Hans ".encode("latin-1")
    assert raw(new, "StudyDescription").value == "Tórax ".encode("latin-1")


def test_iso_2022_character_set_is_kept_or_left_as_its_repertoire_allows(
    tmp_path: Path,
) -> None:
    ds = ct_dataset()
    ds.SpecificCharacterSet = ["", "ISO 2022 IR 87"]
    ds.PatientName = "Yamada^Tarou=山田^太郎"
    path = write(ds, tmp_path / "ct.dcm")

    kept = parse(patched_file(path, (("ReferringPhysicianName", "佐藤^花子"),)))
    left = parse(patched_file(path, (("ReferringPhysicianName", "Müller^Hans"),)))

    assert list(kept.SpecificCharacterSet) == ["", "ISO 2022 IR 87"]
    assert kept.ReferringPhysicianName == "佐藤^花子"
    assert left.SpecificCharacterSet == "ISO_IR 192"
    assert left.ReferringPhysicianName == "Müller^Hans"
    assert raw(left, "PatientName").value == "Yamada^Tarou=山田^太郎".encode()


def test_switch_leaves_an_item_with_its_own_character_set(tmp_path: Path) -> None:
    ds = ct_dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    own = Dataset()
    own.SpecificCharacterSet = "ISO_IR 101"  # Latin-2
    own.CodeMeaning = "Łódź"
    ds.ProcedureCodeSequence = Sequence([own])
    path = write(ds, tmp_path / "ct.dcm")

    new = parse(patched_file(path, (("PatientName", "Ηλίας"),)))

    item = new.ProcedureCodeSequence[0]
    assert item.SpecificCharacterSet == "ISO_IR 101"
    assert raw(item, "CodeMeaning").value == "Łódź".encode("iso8859_2")


def test_non_ascii_value_without_character_set_switches_to_utf8(
    tmp_path: Path,
) -> None:
    path = write(ct_dataset(), tmp_path / "ct.dcm")  # no (0008,0005): ASCII only

    new = parse(patched_file(path, (("PatientName", "Müller^Hans"),)))

    assert new.SpecificCharacterSet == "ISO_IR 192"
    assert raw(new, "PatientName").value == "Müller^Hans".encode()  # even


def test_empty_value_empties_the_element_and_keeps_it(tmp_path: Path) -> None:
    path = write(ct_dataset(), tmp_path / "ct.dcm")

    new = parse(patched_file(path, (("PatientID", ""), ("AccessionNumber", ""))))

    assert raw(new, "PatientID").length == 0
    assert raw(new, "AccessionNumber").length == 0
    assert new.PatientName == "Test^Patient"


def test_backslash_separates_values(tmp_path: Path) -> None:
    path = write(ct_dataset(), tmp_path / "ct.dcm")

    new = parse(patched_file(path, (("OtherPatientIDs", "A1\\B2"),)))

    assert list(new.OtherPatientIDs) == ["A1", "B2"]


def test_no_fixes_gives_the_files_own_bytes(tmp_path: Path) -> None:
    path = write(ct_dataset(), tmp_path / "ct.dcm", JPEG2000Lossless)
    data = path.read_bytes()

    syntax, dataset = patched_dataset(path, ())

    assert patched_file(path, ()) == data
    assert syntax == JPEG2000Lossless
    assert data.endswith(dataset)


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_patched_dataset_is_the_patched_files_data_set(
    tmp_path: Path, syntax: str
) -> None:
    path = latin1_ct(tmp_path / "ct.dcm", syntax)
    fixes = (("PatientName", "山田^太郎"), ("PatientID", "9"))
    meta_end = len(path.read_bytes()) - len(patched_dataset(path, ())[1])

    sent_syntax, data = patched_dataset(path, fixes)

    assert sent_syntax == syntax
    assert data == patched_file(path, fixes)[meta_end:]
    uid = UID(sent_syntax)
    ds = read_dataset(BytesIO(data), uid.is_implicit_VR, uid.is_little_endian)
    assert (ds.PatientName, ds.PatientID) == ("山田^太郎", "9")
    assert ds.StudyDescription == "Tórax"


def test_unknown_keyword_is_named(tmp_path: Path) -> None:
    path = write(ct_dataset(), tmp_path / "ct.dcm")

    with pytest.raises(HeaderFixError, match="'PatientNmae' is not a DICOM keyword"):
        patched_file(path, (("PatientNmae", "Doe^John"),))


def test_attribute_that_is_not_text_is_refused(tmp_path: Path) -> None:
    path = write(ct_dataset(), tmp_path / "ct.dcm")

    with pytest.raises(HeaderFixError, match=r"\(0028,0010\) Rows \(VR US\)"):
        patched_dataset(path, (("Rows", "512"),))
    with pytest.raises(HeaderFixError, match=r"\(0008,0005\) is chosen by the fix"):
        patched_dataset(path, (("SpecificCharacterSet", "ISO_IR 100"),))


def test_invalid_value_is_refused_without_quoting_it(tmp_path: Path) -> None:
    path = write(ct_dataset(), tmp_path / "ct.dcm")

    with pytest.raises(HeaderFixError) as caught:
        patched_file(path, (("PatientID", "X" * 65),))

    message = str(caught.value)
    assert "(0010,0020) Patient ID (65 characters) is not valid LO text" in message
    assert "XXX" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_not_dicom_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not an image\n" * 20)

    with pytest.raises(HeaderFixError, match=r"notes\.txt: .*not a DICOM Part 10"):
        patched_file(path, (("PatientID", "1"),))
    with pytest.raises(HeaderFixError, match=r"notes\.txt: .*not a DICOM Part 10"):
        patched_dataset(path, ())


def test_missing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gone.dcm"

    with pytest.raises(HeaderFixError, match=r"gone\.dcm: the file cannot be read"):
        patched_file(path, (("PatientID", "1"),))
    with pytest.raises(HeaderFixError, match=r"gone\.dcm: the file cannot be read"):
        patched_dataset(path, (("PatientID", "1"),))


def test_unknown_transfer_syntax_is_refused(tmp_path: Path) -> None:
    whole = write(ct_dataset(), tmp_path / "ct.dcm").read_bytes()
    path = tmp_path / "odd.dcm"
    path.write_bytes(whole.replace(b"1.2.840.10008.1.2.1\0", b"1.2.840.10008.1.2.9\0"))

    with pytest.raises(HeaderFixError, match=r"1\.2\.840\.10008\.1\.2\.9 is not one"):
        patched_dataset(path, (("PatientID", "1"),))


def test_truncated_header_is_refused(tmp_path: Path) -> None:
    whole = write(ct_dataset(), tmp_path / "ct.dcm").read_bytes()
    meta_end = len(whole) - len(patched_dataset(tmp_path / "ct.dcm", ())[1])
    path = tmp_path / "cut.dcm"
    path.write_bytes(whole[: meta_end + 50])  # inside (0008,0018)'s value

    with pytest.raises(HeaderFixError, match=r"cut\.dcm: pydicom cannot parse"):
        patched_file(path, (("PatientID", "1"),))


def test_unknown_character_set_is_refused(tmp_path: Path) -> None:
    ds = ct_dataset()
    ds.SpecificCharacterSet = "ISO_IR 999"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns as it writes it
        path = write(ds, tmp_path / "ct.dcm")

    with pytest.raises(HeaderFixError, match="pydicom cannot parse or re-encode"):
        patched_file(path, (("PatientName", "Müller^Hans"),))


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SampleManifest]:
    """A generated sample archive (real JPEG 2000 images, reports) and its manifest."""
    root = tmp_path_factory.mktemp("sample")
    return root, generate_sample(root, studies=3, seed=1)


@pytest.mark.parametrize("name", ["DOE^JOHN", "山田^太郎"])
def test_sample_archive_files_keep_pixels_and_every_other_value(
    sample: tuple[Path, SampleManifest], name: str
) -> None:
    root, manifest = sample
    fixes = (("PatientName", name), ("PatientID", "R-1"))
    for entry in (entry for entry in manifest.files if entry.readable):
        path = root / entry.source / entry.path

        after = patched_file(path, fixes)

        old, new = dcmread(path), parse(after)
        assert new.file_meta == old.file_meta
        assert (new.PatientName, new.PatientID) == (name, "R-1")
        for tag in sorted(old.keys()):
            if tag not in (0x00080005, 0x00100010, 0x00100020):
                assert new[tag].value == old[tag].value, (entry.path, tag)
        if "PixelData" in old:
            assert pixel_tail(after) == pixel_tail(path.read_bytes())
