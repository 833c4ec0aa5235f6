"""Building the DICOM dataset of each planned instance, as an old PACS stored it.

Images (CT, MR, CR, DX) carry JPEG 2000 lossless pixel data from the frame pool; the
no-pixel objects are a Basic Text SR, a Key Object Selection that points at the study's
first images, and a Raw Data object whose payload sits in a private element.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from typing import Literal

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID

from pacsflow.sample.model import IMAGE_KINDS, Instance, Plan, make_uid
from pacsflow.sample.pixels import SPECS, FramePool

IMPLEMENTATION_CLASS_UID = make_uid(0, "implementation class")
IMPLEMENTATION_VERSION_NAME = "OLDPACS_4_2"

_MANUFACTURER = {
    "CT": "Nordlicht Medical",
    "MR": "Polder Imaging",
    "CR": "Helder Radiography",
    "DX": "Helder Radiography",
}
_REPORTS = (
    "Geen afwijkingen. No acute findings.",
    "Stabiel beeld vergeleken met vorig onderzoek.",
    "Small nodule right lower lobe, follow-up advised.",
)

Variant = Literal["original", "resent", "older"]

# How far an instance's creation time moves for the copies the plan makes.
_CREATED_SHIFT: dict[Variant, int] = {"original": 0, "resent": 3600, "older": -1800}


def build_dataset(
    instance: Instance, plan: Plan, pool: FramePool, variant: Variant = "original"
) -> Dataset:
    """Return the dataset of one instance, with its file meta information.

    Parameters
    ----------
    instance : Instance
        The planned instance.
    plan : Plan
        The whole plan (key objects look up the images they select).
    pool : FramePool
        Encoded pixel data for images.
    variant : {"original", "resent", "older"}
        ``original``; ``resent`` for a later copy or ``older`` for an earlier one,
        which differ only in (0008,0013) Instance Creation Time.

    Returns
    -------
    Dataset
    """
    series = instance.series
    ds = Dataset()
    ds.file_meta = _file_meta(instance)
    _general(ds, instance, _CREATED_SHIFT[variant])
    _BUILDERS[series.kind](ds, instance, plan, pool)
    return ds


def encode(ds: Dataset) -> bytes:
    """Return the bytes of ``ds`` as a DICOM file (preamble, file meta, dataset)."""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _file_meta(instance: Instance) -> FileMetaDataset:
    """Return the file meta information of an instance."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(instance.sop_class)
    meta.MediaStorageSOPInstanceUID = UID(instance.uid)
    meta.TransferSyntaxUID = UID(instance.series.transfer_syntax)
    meta.ImplementationClassUID = UID(IMPLEMENTATION_CLASS_UID)
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    return meta


def _clock(time: str, shift_seconds: int) -> str:
    """Return ``time`` (HHMMSS) moved by a number of seconds, within the day."""
    seconds = int(time[:2]) * 3600 + int(time[2:4]) * 60 + int(time[4:6])
    seconds = min(max(seconds + shift_seconds, 0), 86399)
    return f"{seconds // 3600:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}"


def _general(ds: Dataset, instance: Instance, created_shift: int) -> None:
    """Fill the patient, study, series and SOP common attributes."""
    series = instance.series
    study = series.study
    patient = study.patient
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.InstanceCreationDate = study.date
    ds.InstanceCreationTime = _clock(study.time, 120 + instance.slot + created_shift)
    ds.SOPClassUID = instance.sop_class
    ds.SOPInstanceUID = instance.uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = study.date
    ds.StudyTime = study.time
    ds.SeriesTime = _clock(study.time, series.number * 30)
    ds.ContentTime = _clock(study.time, 60 + instance.slot)
    ds.AccessionNumber = study.accession
    ds.Modality = series.modality
    ds.Manufacturer = _MANUFACTURER.get(study.kind, "")
    ds.InstitutionName = "Demo Ziekenhuis Oost"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = study.description
    ds.SeriesDescription = series.description
    ds.PatientName = patient.header_name
    ds.PatientID = patient.header_id
    ds.PatientBirthDate = patient.header_birth_date
    ds.PatientSex = patient.sex
    ds.StudyInstanceUID = study.uid
    ds.SeriesInstanceUID = series.uid
    ds.StudyID = str(1000 + study.index)
    ds.SeriesNumber = series.number
    ds.InstanceNumber = instance.number


def _image(ds: Dataset, instance: Instance, plan: Plan, pool: FramePool) -> None:
    """Fill the image pixel module and the modality's own attributes."""
    kind = instance.series.kind
    spec = SPECS[kind]
    _MODALITY_MODULES[kind](ds, instance)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = spec.rows, spec.columns
    ds.BitsAllocated = 16
    ds.BitsStored = spec.bits_stored
    ds.HighBit = spec.bits_stored - 1
    ds.PixelRepresentation = 0
    ds.LossyImageCompression = "00"
    ds["PixelData"] = DataElement(
        0x7FE00010,
        "OB",
        pool.pixel_data(kind, instance.frame),
        is_undefined_length=True,
    )


def _slice(ds: Dataset, instance: Instance, spacing: float, thickness: float) -> None:
    """Fill the image plane module of an axial slice."""
    series = instance.series
    z = -float(instance.number - 1) * thickness
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SliceThickness = f"{thickness:.1f}"
    ds.PixelSpacing = [f"{spacing:.4f}", f"{spacing:.4f}"]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    half = spacing * SPECS[series.kind].rows / 2
    ds.ImagePositionPatient = [f"{-half:.2f}", f"{-half:.2f}", f"{z:.2f}"]
    ds.SliceLocation = f"{z:.2f}"
    ds.FrameOfReferenceUID = make_uid(0, "frame of reference", series.uid)
    ds.PositionReferenceIndicator = ""


def _ct(ds: Dataset, instance: Instance) -> None:
    """Fill the CT image module."""
    _slice(ds, instance, 0.7031, 5.0 if "5.0" in instance.series.description else 1.0)
    ds.KVP = "120"
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    ds.WindowCenter = "40"
    ds.WindowWidth = "400"


def _mr(ds: Dataset, instance: Instance) -> None:
    """Fill the MR image module."""
    _slice(ds, instance, 0.8984, 5.0)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
    ds.ScanningSequence = "SE"
    ds.SequenceVariant = "SK"
    ds.ScanOptions = ""
    ds.MRAcquisitionType = "2D"
    ds.RepetitionTime = "4000"
    ds.EchoTime = "98"
    ds.EchoTrainLength = "15"
    ds.MagneticFieldStrength = "1.5"


def _radiograph(ds: Dataset, instance: Instance) -> None:
    """Fill the CR or DX image module of a chest film."""
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA" if instance.number % 2 else "LL"
    ds.PatientOrientation = ["L", "F"]
    ds.ImagerPixelSpacing = ["0.1390", "0.1390"]
    if instance.series.kind == "DX":
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.PresentationLUTShape = "IDENTITY"
        ds.BurnedInAnnotation = "NO"
        ds.DetectorType = "SCINTILLATOR"


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    """Return a code sequence item."""
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def _document(ds: Dataset, concept: Dataset) -> None:
    """Fill the SR document general and content attributes shared by SR and KOS."""
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = [concept]
    ds.ContinuityOfContent = "SEPARATE"
    ds.ReferencedPerformedProcedureStepSequence = []


def _report(ds: Dataset, instance: Instance, plan: Plan, pool: FramePool) -> None:
    """Fill a Basic Text SR holding a short report."""
    _document(ds, _code("18748-4", "LN", "Diagnostic Imaging Report"))
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    ds.PerformedProcedureCodeSequence = []
    finding = Dataset()
    finding.RelationshipType = "CONTAINS"
    finding.ValueType = "TEXT"
    finding.ConceptNameCodeSequence = [_code("121071", "DCM", "Finding")]
    finding.TextValue = _REPORTS[instance.series.study.index % len(_REPORTS)]
    ds.ContentSequence = [finding]


def _key_objects(ds: Dataset, instance: Instance, plan: Plan, pool: FramePool) -> None:
    """Fill a Key Object Selection that flags the study's first images."""
    _document(ds, _code("113000", "DCM", "Of Interest"))
    template = Dataset()
    template.MappingResource = "DCMR"
    template.TemplateIdentifier = "2010"
    ds.ContentTemplateSequence = [template]
    images = plan.key_images.get(instance.series.study.uid, ())
    by_series: dict[str, list[Dataset]] = {}
    content = []
    for image in images:
        by_series.setdefault(image.series.uid, []).append(_reference(image))
        item = Dataset()
        item.RelationshipType = "CONTAINS"
        item.ValueType = "IMAGE"
        item.ReferencedSOPSequence = [_reference(image)]
        content.append(item)
    evidence = Dataset()
    evidence.StudyInstanceUID = instance.series.study.uid
    evidence.ReferencedSeriesSequence = [
        _series_reference(uid, refs) for uid, refs in by_series.items()
    ]
    ds.CurrentRequestedProcedureEvidenceSequence = [evidence]
    ds.ContentSequence = content


def _reference(image: Instance) -> Dataset:
    """Return a referenced SOP item for an image."""
    item = Dataset()
    item.ReferencedSOPClassUID = image.sop_class
    item.ReferencedSOPInstanceUID = image.uid
    return item


def _series_reference(uid: str, references: list[Dataset]) -> Dataset:
    """Return a referenced series item."""
    item = Dataset()
    item.SeriesInstanceUID = uid
    item.ReferencedSOPSequence = references
    return item


def _raw(ds: Dataset, instance: Instance, plan: Plan, pool: FramePool) -> None:
    """Fill a Raw Data object whose vendor payload sits in a private element."""
    digest = hashlib.sha256(instance.uid.encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
    block = ds.private_block(0x0009, "OLDPACS RAW 1.0", create=True)
    block.add_new(0x10, "OB", rng.bytes(int(rng.integers(16, 64)) * 1024))


_MODALITY_MODULES: dict[str, Callable[[Dataset, Instance], None]] = {
    "CT": _ct,
    "MR": _mr,
    "CR": _radiograph,
    "DX": _radiograph,
}
_BUILDERS: dict[str, Callable[[Dataset, Instance, Plan, FramePool], None]] = {
    **{kind: _image for kind in IMAGE_KINDS},
    "SR": _report,
    "KO": _key_objects,
    "RAW": _raw,
}
