"""The objects a sample is made of: studies, series, instances, faults, the plan.

Layout on disk: each study's instances are striped over the three stores (instance
``i`` goes to store ``(i + k) % 3``, ``k`` drawn per study), under
``YYYY/MM/DD/<accession or study hash>/<series number>/<file>``; most files are named
``<instance number>.dcm``, those of some series eight hex digits with no extension.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from pydicom.uid import (
    BasicTextSRStorage,
    ComputedRadiographyImageStorage,
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    KeyObjectSelectionDocumentStorage,
    MRImageStorage,
    RawDataStorage,
)

from pacsflow.sample.people import Patient

STORES = ("store01", "store02", "store03")
IMAGE_KINDS = ("CT", "MR", "CR", "DX")
SOP_CLASSES = {
    "CT": CTImageStorage,
    "MR": MRImageStorage,
    "CR": ComputedRadiographyImageStorage,
    "DX": DigitalXRayImageStorageForPresentation,
    "SR": BasicTextSRStorage,
    "KO": KeyObjectSelectionDocumentStorage,
    "RAW": RawDataStorage,
}


def make_uid(seed: int, *parts: object) -> str:
    """Return a ``2.25.<int>`` UID that depends only on the seed and ``parts``."""
    text = "|".join(["pacsflow-sample", str(seed), *map(str, parts)])
    digest = hashlib.sha256(text.encode()).digest()[:16]
    return f"2.25.{int.from_bytes(digest, 'big')}"


@dataclass(frozen=True)
class Study:
    """One study as its images were stored."""

    index: int
    kind: str
    patient: Patient
    uid: str
    accession: str
    date: str
    time: str
    description: str
    folder: str
    stripe: int


@dataclass(frozen=True)
class Series:
    """One series; ``kind`` is an image modality, ``SR``, ``KO`` or ``RAW``."""

    study: Study
    uid: str
    number: int
    kind: str
    size: int
    description: str
    transfer_syntax: str
    hex_names: bool

    @property
    def modality(self) -> str:
        """The (0008,0060) Modality: raw data comes from the CT scanner."""
        return "CT" if self.kind == "RAW" else self.kind

    @property
    def pixel_data(self) -> bool:
        """Whether the series' instances carry (7FE0,0010) Pixel Data."""
        return self.kind in IMAGE_KINDS


@dataclass(frozen=True)
class Instance:
    """One instance and where its file goes."""

    series: Series
    uid: str
    number: int
    slot: int
    frame: int

    @property
    def sop_class(self) -> str:
        """The instance's SOP Class UID."""
        return SOP_CLASSES[self.series.kind]

    @property
    def source(self) -> str:
        """The store this instance is striped to."""
        return STORES[(self.slot + self.series.study.stripe) % len(STORES)]

    @property
    def copy_source(self) -> str:
        """The store that holds a second copy, when the plan makes one."""
        return STORES[(self.slot + self.series.study.stripe + 1) % len(STORES)]

    @property
    def path(self) -> str:
        """The file's path inside its store, with forward slashes."""
        study = self.series.study
        day = f"{study.date[:4]}/{study.date[4:6]}/{study.date[6:]}"
        if self.series.hex_names:
            name = hashlib.sha256(self.uid.encode()).hexdigest()[:8].upper()
        else:
            name = f"{self.number}.dcm"
        return f"{day}/{study.folder}/{self.series.number}/{name}"


@dataclass(frozen=True)
class Junk:
    """A file among the images that is not DICOM: ``thumbs``, ``text``, ``empty``..."""

    source: str
    path: str
    kind: str


@dataclass(frozen=True)
class Faults:
    """The faults planted in the archive, by SOP Instance UID where they have one."""

    orphans: frozenset[str]
    missing: frozenset[str]
    duplicates_same: frozenset[str]
    duplicates_different: frozenset[str]
    stale: frozenset[str]
    truncated_header: frozenset[str]
    truncated_pixel_data: frozenset[str]
    merged: Mapping[str, Study]
    excluded: tuple[Study, ...]
    junk: tuple[Junk, ...]


@dataclass(frozen=True)
class Plan:
    """Everything a sample holds, in writing order."""

    seed: int
    patients: tuple[Patient, ...]
    studies: tuple[Study, ...]
    series: tuple[Series, ...]
    instances: tuple[Instance, ...]
    faults: Faults
    key_images: Mapping[str, tuple[Instance, ...]]

    def database_study(self, series: Series) -> Study:
        """Return the study the legacy database files ``series`` under."""
        return self.faults.merged.get(series.uid, series.study)
