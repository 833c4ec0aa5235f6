"""Small DICOM files made on the fly for tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    generate_uid,
)

BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"


def ct_dataset(
    *, uid: str | None = None, study: str = "1.2.3.4", number: int = 1
) -> Dataset:
    """A small CT image (64×64, 16 bit) with the attributes the ledger records."""
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = uid or generate_uid()
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = study + ".1"
    ds.StudyDate = "20240131"
    ds.Modality = "CT"
    ds.SeriesNumber = 3
    ds.InstanceNumber = number
    ds.PatientName = "Test^Patient"
    ds.PatientID = "P1"
    ds.Rows = ds.Columns = 64
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    pixels = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 7) & 0x0FFF
    ds.PixelData = pixels.tobytes()
    return ds


def sr_dataset(*, depth: int = 3) -> Dataset:
    """A Basic Text SR with nested content sequences and no pixel data."""
    ds = Dataset()
    ds.SOPClassUID = BASIC_TEXT_SR
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = "1.2.3.9"
    ds.SeriesInstanceUID = "1.2.3.9.1"
    ds.Modality = "SR"
    ds.InstanceNumber = 1
    ds.StudyDate = "20230101"
    node = ds
    for level in range(depth):
        item = Dataset()
        item.ValueType = "TEXT"
        item.TextValue = f"finding at level {level}"
        item.is_undefined_length_sequence_item = True
        node.ContentSequence = Sequence([item])
        node["ContentSequence"].is_undefined_length = True
        node = item
    ds.SeriesNumber = 99  # after the sequence, to check the walk continues
    return ds


def write(ds: Dataset, path: Path, syntax: str = ExplicitVRLittleEndian) -> Path:
    """Write ``ds`` as a DICOM file with a preamble in ``syntax``."""
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    if syntax == JPEG2000Lossless:
        ds.compress(
            JPEG2000Lossless, encoding_plugin="pylibjpeg", generate_instance_uid=False
        )
    else:
        meta.TransferSyntaxUID = syntax
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


__all__ = [
    "BASIC_TEXT_SR",
    "ImplicitVRLittleEndian",
    "ct_dataset",
    "sr_dataset",
    "write",
]
