"""Assembling the manifest: what the plan planted, stated as outcomes to check."""

from __future__ import annotations

from collections import Counter
from types import MappingProxyType

from pacsflow.sample.archive import Archive
from pacsflow.sample.legacy import EXCLUSIONS_NAME, LEGACY_NAME, NETWORK_NAME
from pacsflow.sample.manifest import (
    Expected,
    FileEntry,
    FileRef,
    HeaderDrift,
    MatrixCell,
    MergedInstance,
    SampleManifest,
    StaleFile,
)
from pacsflow.sample.model import STORES, Instance, Plan

# The attributes the legacy query returns that can drift, besides the study UID.
DRIFT_ATTRIBUTES = (
    "PatientID",
    "PatientName",
    "PatientBirthDate",
    "AccessionNumber",
    "StudyDate",
)


def build_manifest(plan: Plan, archive: Archive, studies: int) -> SampleManifest:
    """Return the manifest of a written sample.

    Parameters
    ----------
    plan : Plan
        What was planned.
    archive : Archive
        What was written.
    studies : int
        The study count the sample was asked for.

    Returns
    -------
    SampleManifest
    """
    faults = plan.faults
    readable = {f.sop_instance_uid for f in archive.files if f.readable}
    by_uid = {i.uid: i for i in plan.instances}
    return SampleManifest(
        seed=plan.seed,
        studies=studies,
        network=NETWORK_NAME,
        legacy_database=LEGACY_NAME,
        exclusions=EXCLUSIONS_NAME,
        sources=MappingProxyType({name: name for name in STORES}),
        files=archive.files,
        unreadable=archive.unreadable,
        orphans=tuple(sorted(faults.orphans)),
        missing_on_disk=tuple(sorted(faults.missing)),
        duplicates_same_content=tuple(sorted(faults.duplicates_same)),
        duplicates_different_content=tuple(sorted(faults.duplicates_different)),
        stale_files=tuple(_stale(by_uid[uid]) for uid in sorted(faults.stale)),
        header_drift=_header_drift(plan, readable),
        merged=tuple(
            MergedInstance(i.uid, i.series.study.uid, plan.database_study(i.series).uid)
            for i in sorted(plan.instances, key=lambda i: i.uid)
            if i.series.uid in faults.merged and i.uid in readable
        ),
        excluded_studies=tuple(study.uid for study in faults.excluded),
        expected=_expected(archive.files, len(archive.unreadable)),
    )


def _stale(instance: Instance) -> StaleFile:
    """Describe the stale copy of an instance and the current one."""
    return StaleFile(
        sop_instance_uid=instance.uid,
        stale=FileRef(instance.copy_source, instance.path),
        current=FileRef(instance.source, instance.path),
    )


def _header_drift(plan: Plan, readable: set[str | None]) -> tuple[HeaderDrift, ...]:
    """List every disagreement between a readable header and the legacy database."""
    drift = []
    for instance in plan.instances:
        if instance.uid in plan.faults.orphans or instance.uid not in readable:
            continue
        header, database = _values(plan, instance)
        drift += [
            HeaderDrift(instance.uid, name, header[name], database[name])
            for name in DRIFT_ATTRIBUTES
            if header[name] != database[name]
        ]
    return tuple(sorted(drift, key=lambda d: (d.sop_instance_uid, d.attribute)))


def _values(plan: Plan, instance: Instance) -> tuple[dict[str, str], dict[str, str]]:
    """Return an instance's drift attributes as read from its header and database."""
    study = instance.series.study
    stored = plan.database_study(instance.series)
    patient, known = study.patient, stored.patient
    # pydicom strips the trailing spaces that pad a value, so the header reads so.
    header = {
        "PatientID": patient.header_id.rstrip(" "),
        "PatientName": patient.header_name.rstrip(" "),
        "PatientBirthDate": patient.header_birth_date,
        "AccessionNumber": study.accession,
        "StudyDate": study.date,
    }
    database = {
        "PatientID": known.db_id,
        "PatientName": known.db_name,
        "PatientBirthDate": known.db_birth_date,
        "AccessionNumber": stored.accession,
        "StudyDate": stored.date,
    }
    return header, database


def _expected(files: tuple[FileEntry, ...], unreadable: int) -> Expected:
    """Count files, distinct readable instances and the class × syntax matrix."""
    first: dict[str, FileEntry] = {}
    for entry in files:  # sorted by (source, path): the first copy wins
        if entry.readable and entry.sop_instance_uid is not None:
            first.setdefault(entry.sop_instance_uid, entry)
    cells = Counter(
        (e.sop_class_uid or "", e.transfer_syntax or "") for e in first.values()
    )
    return Expected(
        files=len(files),
        unreadable=unreadable,
        instances=len(first),
        matrix=tuple(
            MatrixCell(sop_class, syntax, count)
            for (sop_class, syntax), count in sorted(cells.items())
        ),
    )
