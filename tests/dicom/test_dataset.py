"""dataset_bytes gives a file's transfer syntax and exact data set, or says why not."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from pydicom.filereader import read_file_meta_info

from pacsflow.dicom import UnreadableDatasetError, dataset_bytes
from pacsflow.sample import SampleManifest, generate_sample

EXPLICIT = b"1.2.840.10008.1.2.1\x00"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SampleManifest]:
    """A generated sample archive and its manifest."""
    root = tmp_path_factory.mktemp("sample")
    return root, generate_sample(root, studies=3, seed=1)


def element(group: int, elem: int, vr: bytes, value: bytes) -> bytes:
    """An explicit VR little endian element."""
    if vr in (b"OB", b"UN"):
        return struct.pack("<HH2s2xI", group, elem, vr, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr, len(value)) + value


def part10(*elements: bytes, dataset: bytes = b"\x08\x00\x60\x00CS\x02\x00CT") -> bytes:
    """A preamble, 'DICM', the given meta elements and a data set."""
    return b"\0" * 128 + b"DICM" + b"".join(elements) + dataset


def test_sample_files_give_their_syntax_and_exact_data_set(
    sample: tuple[Path, SampleManifest],
) -> None:
    root, manifest = sample
    readable = [entry for entry in manifest.files if entry.readable]
    assert any(entry.size > 1 << 17 for entry in readable)  # read past the first block

    for entry in readable:
        path = root / entry.source / entry.path
        meta = read_file_meta_info(path)
        start = 132 + 12 + meta.FileMetaInformationGroupLength

        syntax, data = dataset_bytes(str(path))

        assert syntax == entry.transfer_syntax
        assert data == path.read_bytes()[start:]


def test_meta_group_without_group_length_is_walked(tmp_path: Path) -> None:
    path = tmp_path / "no_group_length.dcm"
    path.write_bytes(
        part10(element(2, 0x0001, b"OB", b"\0\1"), element(2, 0x0010, b"UI", EXPLICIT))
    )

    assert dataset_bytes(path) == (
        "1.2.840.10008.1.2.1",
        b"\x08\x00\x60\x00CS\x02\x00CT",
    )


def test_truncated_meta_group_is_refused(
    tmp_path: Path, sample: tuple[Path, SampleManifest]
) -> None:
    root, manifest = sample
    entry = next(entry for entry in manifest.files if entry.readable)
    cut = tmp_path / "cut.dcm"
    cut.write_bytes((root / entry.source / entry.path).read_bytes()[:170])

    with pytest.raises(
        UnreadableDatasetError,
        match=r"cannot send .*cut\.dcm: the file meta group is truncated: the "
        r"file ends at byte 170, inside the value of \(0002,\w{4}\), which needs",
    ) as caught:
        dataset_bytes(str(cut))

    assert caught.value.path == str(cut)
    assert caught.value.reason.startswith("the file meta group is truncated")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", r"the file is 0 bytes long, too short for a DICOM file"),
        (
            b"just some notes\n" * 20,
            r"there is no 'DICM' prefix at byte 128: this is not a DICOM Part 10 file",
        ),
        (
            part10(element(2, 0x0001, b"OB", b"\0\1")),
            r"there is no \(0002,0010\) Transfer Syntax UID in the file meta",
        ),
        (
            part10(element(2, 0x0010, b"UI", b"JPEG2000\0")),
            r"\(0002,0010\) Transfer Syntax UID is 'JPEG2000', not a UID",
        ),
        (
            part10(struct.pack("<HHI", 2, 0x0010, 20) + EXPLICIT),
            r"element \(0002,0010\) of the file meta group has no explicit VR",
        ),
        (
            part10(element(2, 0x0010, b"UI", EXPLICIT), dataset=b""),
            r"there is no data set after the file meta group \(byte 160\)",
        ),
        (
            part10(struct.pack("<HH2s2xI", 2, 1, b"OB", 1 << 20)),
            r"the file meta group is longer than 65536 bytes",
        ),
    ],
)
def test_unreadable_files_say_why(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "file.dcm"
    path.write_bytes(content + b"\0" * (70_000 if "longer" in reason else 0))

    with pytest.raises(UnreadableDatasetError, match=reason):
        dataset_bytes(path)


def test_missing_file_says_it_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(
        UnreadableDatasetError,
        match=r"gone\.dcm: the file cannot be read \(No such file or directory\)",
    ):
        dataset_bytes(tmp_path / "gone.dcm")
