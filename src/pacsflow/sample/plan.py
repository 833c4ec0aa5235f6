"""What a sample holds and where each fault goes, decided before a byte is written.

Every choice is drawn from one ``random.Random(seed)`` in a fixed order, and every UID
is a hash of the seed and the object's place in the archive, so the same seed and
study count give the same plan. The first studies are shaped by hand so that even a tiny
sample (three studies) holds every modality family, every no-pixel object in both
transfer syntaxes, and every fault.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from datetime import date
from types import MappingProxyType

from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEG2000Lossless

from pacsflow.sample.faults import plant_faults
from pacsflow.sample.model import (
    IMAGE_KINDS,
    STORES,
    Instance,
    Plan,
    Series,
    Study,
    make_uid,
)
from pacsflow.sample.people import Patient, drift_kinds, make_patients
from pacsflow.sample.pixels import frame_for_slice

_FIRST_DAY = date(2008, 1, 1).toordinal()
_LAST_DAY = date(2019, 12, 31).toordinal()
_DESCRIPTIONS = {
    "CT": ("CT THORAX MET CONTRAST", "CT THORAX-ABDOMEN", "CT CHEST WITH CONTRAST"),
    "MR": ("MRI HERSENEN", "MR CEREBRUM MET GADOLINIUM", "MRI HEAD"),
    "CR": ("X-THORAX PA", "CHEST PA AND LATERAL", "X-THORAX STAAND"),
    "DX": ("X-THORAX", "CHEST PA", "X-THORAX LIGGEND"),
}
_SERIES_DESCRIPTIONS = {
    "CT": ("Thorax 5.0 B30f", "Thorax 1.0 B70f", "Abdomen 3.0 B31f"),
    "MR": ("t2_tse_tra", "flair_tra", "t1_se_tra", "dwi_tra"),
    "CR": ("PA", "LAT"),
    "DX": ("PA", "AP"),
    "SR": ("Verslag",),
    "KO": ("Key images",),
    "RAW": ("RAW DATA",),
}
_EXTRA_SERIES_NUMBERS = {"SR": 90, "KO": 91, "RAW": 99}
# Hand-made no-pixel objects of the first two studies, so small samples hold them all.
_FIRST_EXTRAS = {
    0: (("SR", ImplicitVRLittleEndian), ("KO", ExplicitVRLittleEndian), ("RAW", "")),
    1: (("SR", ExplicitVRLittleEndian), ("KO", ImplicitVRLittleEndian)),
}


def make_plan(seed: int, studies: int) -> Plan:
    """Decide the whole sample for ``seed`` and ``studies`` (at least 3).

    Parameters
    ----------
    seed : int
        Seeds every random draw.
    studies : int
        How many studies the archive holds.

    Returns
    -------
    Plan
    """
    rng = random.Random(seed)
    merges = max(1, studies // 12)
    owners, patient_count = _owners(studies, merges, rng)
    drift = drift_kinds(max(2, patient_count // 5), patient_count, rng)
    patients = make_patients(patient_count, drift, rng)
    study_list = _studies(seed, [patients[i] for i in owners], merges, rng)
    grouped = [_series_of(seed, study, rng) for study in study_list]
    series = [one for group in grouped for one in group]
    instances = [i for group in grouped for i in _instances_of(seed, group)]
    faults = plant_faults(study_list, series, instances, merges, rng)
    return Plan(
        seed=seed,
        patients=patients,
        studies=tuple(study_list),
        series=tuple(series),
        instances=tuple(instances),
        faults=faults,
        key_images=_key_images(instances),
    )


def _owners(count: int, merges: int, rng: random.Random) -> tuple[list[int], int]:
    """Give each study a patient; patients ``0..merges-1`` own a pair to merge."""
    patients = max(merges + 1, min(count - merges, round(count * 0.7)))
    owners = [m for m in range(merges) for _ in (0, 1)]
    owners += list(range(merges, patients))
    owners += [rng.randrange(patients) for _ in range(count - len(owners))]
    return owners, patients


def _studies(
    seed: int, owners: list[Patient], merges: int, rng: random.Random
) -> list[Study]:
    """Draw the studies; the second of each merge pair is split off the first."""
    studies: list[Study] = []
    for index, patient in enumerate(owners):
        kind = (
            IMAGE_KINDS[index]
            if index < 3
            else rng.choices(IMAGE_KINDS, weights=(30, 30, 25, 15))[0]
        )
        day = date.fromordinal(rng.randrange(_FIRST_DAY, _LAST_DAY))
        minutes = rng.randrange(7 * 60, 20 * 60)
        if index % 2 == 1 and index < 2 * merges:
            day = _day_of(studies[-1])
            minutes = int(studies[-1].time[:2]) * 60 + int(studies[-1].time[2:4]) + 50
        uid = make_uid(seed, "study", index)
        accession = "" if rng.random() < 0.1 else f"A{day:%y}{rng.randrange(10**6):06d}"
        hashed = not accession or rng.random() < 0.15
        folder = hashlib.sha1(uid.encode()).hexdigest()[:16] if hashed else accession
        studies.append(
            Study(
                index=index,
                kind=kind,
                patient=patient,
                uid=uid,
                accession=accession,
                date=f"{day:%Y%m%d}",
                time=f"{minutes // 60:02d}{minutes % 60:02d}{rng.randrange(60):02d}",
                description=rng.choice(_DESCRIPTIONS[kind]),
                folder=folder,
                stripe=rng.randrange(len(STORES)),
            )
        )
    return studies


def _day_of(study: Study) -> date:
    """Return a study's date as a date."""
    return date(int(study.date[:4]), int(study.date[4:6]), int(study.date[6:]))


def _image_sizes(kind: str, rng: random.Random) -> list[int]:
    """Draw the number of images of each image series of a study."""
    if kind == "CT":
        return [rng.randint(20, 60) for _ in range(1 + (rng.random() < 0.25))]
    if kind == "MR":
        return [rng.randint(10, 30) for _ in range(rng.randint(1, 3))]
    return [rng.randint(1, 4 if kind == "CR" else 3) for _ in range(rng.randint(1, 2))]


def _extras(index: int, rng: random.Random) -> tuple[tuple[str, str], ...]:
    """Draw the no-pixel objects of a study with their transfer syntax."""
    if index in _FIRST_EXTRAS:
        return _FIRST_EXTRAS[index]
    syntaxes = (str(ImplicitVRLittleEndian), str(ExplicitVRLittleEndian))
    extras: list[tuple[str, str]] = []
    if rng.random() < 0.3:
        extras.append(("SR", rng.choice(syntaxes)))
    if rng.random() < 0.2:
        extras.append(("KO", rng.choice(syntaxes)))
    if rng.random() < 0.08:
        extras.append(("RAW", ""))
    return tuple(extras)


def _series_of(seed: int, study: Study, rng: random.Random) -> list[Series]:
    """Draw the series of one study: its images, then its no-pixel objects."""
    first = 2 if study.kind in ("CT", "MR") else 1
    shapes: list[tuple[str, int, int, str]] = [
        (study.kind, first + j, size, str(JPEG2000Lossless))
        for j, size in enumerate(_image_sizes(study.kind, rng))
    ]
    shapes += [
        (kind, _EXTRA_SERIES_NUMBERS[kind], 1, syntax or ExplicitVRLittleEndian)
        for kind, syntax in _extras(study.index, rng)
    ]
    series = []
    for kind, number, size, syntax in shapes:
        # Study 0 keeps plain names and study 1's report gets a hex one, so that
        # every sample has both and plain names dominate.
        drawn = rng.random() < 0.15 and study.index != 0
        hex_names = drawn or (study.index == 1 and kind == "SR")
        series.append(
            Series(
                study=study,
                uid=make_uid(seed, "series", study.index, number),
                number=number,
                kind=kind,
                size=size,
                description=rng.choice(_SERIES_DESCRIPTIONS[kind]),
                transfer_syntax=syntax,
                hex_names=hex_names,
            )
        )
    return series


def _instances_of(seed: int, series: list[Series]) -> list[Instance]:
    """Number the instances of one study's series; the slot decides the store."""
    instances: list[Instance] = []
    for one in series:
        for position in range(one.size):
            frame = (
                frame_for_slice(one.kind, position, one.size)
                if one.kind in IMAGE_KINDS
                else -1
            )
            index = one.study.index
            uid = make_uid(seed, "instance", index, one.number, position + 1)
            instances.append(Instance(one, uid, position + 1, len(instances), frame))
    return instances


def _key_images(instances: list[Instance]) -> Mapping[str, tuple[Instance, ...]]:
    """Map each study UID to its first three images, which a key object selects."""
    chosen: dict[str, list[Instance]] = {}
    for instance in instances:
        if instance.series.kind in IMAGE_KINDS:
            images = chosen.setdefault(instance.series.study.uid, [])
            if len(images) < 3:
                images.append(instance)
    return MappingProxyType({uid: tuple(images) for uid, images in chosen.items()})
