"""What reconciling a sample archive must find, derived from its manifest."""

from __future__ import annotations

from pacsflow.sample import SampleManifest


def expected_verdicts(manifest: SampleManifest) -> dict[str, str]:
    """SOP Instance UID → the verdict the manifest implies, first one winning."""
    header_study = {
        f.sop_instance_uid: f.study_instance_uid for f in manifest.files if f.readable
    }
    database_study = dict(header_study)
    database_study.update(
        {m.sop_instance_uid: m.database_study for m in manifest.merged}
    )
    stale = {s.sop_instance_uid for s in manifest.stale_files}
    verdicts: dict[str, str] = {}
    for uid in header_study:
        if uid in manifest.orphans:
            verdicts[uid] = "not_in_database"
        elif uid in manifest.duplicates_different_content and uid not in stale:
            verdicts[uid] = "duplicate_conflict"
        elif database_study[uid] in manifest.excluded_studies:
            verdicts[uid] = "excluded_study"
    return verdicts


def expected_changes(manifest: SampleManifest) -> set[tuple[str, str, str, str]]:
    """Every (uid, attribute, header value, database value) the manifest planted."""
    drift = {
        (d.sop_instance_uid, d.attribute, d.header, d.database)
        for d in manifest.header_drift
    }
    merged = {
        (m.sop_instance_uid, "StudyInstanceUID", m.header_study, m.database_study)
        for m in manifest.merged
    }
    return drift | merged
