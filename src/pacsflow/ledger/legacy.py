"""Queries over the legacy snapshot that the reconciler and the reports share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select

from pacsflow.ledger.schema import files, instances, legacy_files, legacy_instances
from pacsflow.outcomes import FileState


def path_matches(file_table: Any = files) -> Any:
    """A condition: a snapshot file row names this ledger file."""
    return and_(
        legacy_files.c.folder == file_table.c.folder,
        legacy_files.c.name == file_table.c.name,
        or_(
            legacy_files.c.source.is_(None),
            legacy_files.c.source == file_table.c.source,
        ),
    )


def missing_on_disk_query(*, count: bool = False) -> Select[Any]:
    """Snapshot instances with no file on disk: no indexed copy of the UID, and no
    file at a path the database names (an unreadable file there is on disk)."""
    uid = legacy_instances.c.sop_instance_uid
    on_disk = files.alias("on_disk")
    indexed = exists().where(instances.c.sop_instance_uid == uid)
    at_path = exists().where(
        legacy_files.c.sop_instance_uid == uid,
        on_disk.c.state != FileState.VANISHED.value,
        path_matches(on_disk),
    )
    columns = [func.count()] if count else [uid, legacy_instances.c.study_instance_uid]
    return select(*columns).select_from(legacy_instances).where(~indexed, ~at_path)


def reconciled_study() -> Any:
    """An instance's study as migrated: the legacy database's, else its header's.

    A column expression over :func:`instance_files`.
    """
    return func.coalesce(
        legacy_instances.c.study_instance_uid, files.c.study_instance_uid, ""
    )


def instance_files() -> Any:
    """Instances joined to their primary file and their snapshot row (if any)."""
    return instances.join(files, files.c.id == instances.c.file_id).outerjoin(
        legacy_instances,
        legacy_instances.c.sop_instance_uid == instances.c.sop_instance_uid,
    )
