"""Planning a run: pending instances, routed, in study batches, in the chosen order.

The ledger hands over the pending instances sorted by study (in the configured order),
series and instance number, streamed so memory stays flat. Each instance is routed;
a study's instances for one destination go into one batch, so a study arrives whole
over one association even when it is striped across storage folders. A batch holds
whole studies up to the batch size (one study larger than that is a batch alone).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from pacsflow.config import Network, Route
from pacsflow.destinations.base import Item
from pacsflow.ledger.legacy import instance_files, reconciled_study
from pacsflow.ledger.schema import files, instances
from pacsflow.outcomes import Outcome
from pacsflow.routing import Facts, choose, tag_keywords

log = logging.getLogger(__name__)


@dataclass
class Batch:
    """Whole studies' instances for one destination, in sending order."""

    destination: str
    items: list[Item] = field(default_factory=list)
    routes: dict[str, str | None] = field(default_factory=dict)
    """SOP Instance UID → the name of the route that chose this destination (None
    when a verdict sent it to the sin bin)."""
    reasons: dict[str, str] = field(default_factory=dict)
    """SOP Instance UID → the verdict that sent it to the sin bin."""

    @property
    def size(self) -> int:
        """Bytes of all files in the batch."""
        return sum(item.size for item in self.items)


def pending_rows(connection: Connection, order: str) -> Iterator[Any]:
    """Pending instances with their primary file, study by study, streamed.

    The study is the reconciled one (the legacy database's, else the header's), so
    instances the database merged into a study travel with it.
    """
    joined = instance_files()
    study = reconciled_study()
    by_study = (
        select(
            study.label("study"),
            func.max(files.c.study_date).label("date"),
            func.min(files.c.id).label("first"),
        )
        .select_from(joined)
        .where(instances.c.outcome == Outcome.PENDING.value)
        .group_by(study)
        .subquery()
    )
    study_key = {
        "newest_first": (by_study.c.date.desc(), by_study.c.first),
        "oldest_first": (by_study.c.date.asc(), by_study.c.first),
        "as_found": (by_study.c.first,),
    }[order]
    query = (
        select(
            instances.c.sop_instance_uid,
            instances.c.verdict,
            files,
            study.label("study"),
            instances.c.fixes,
        )
        .select_from(joined.join(by_study, study == by_study.c.study))
        .where(instances.c.outcome == Outcome.PENDING.value)
        .order_by(
            *study_key,
            study,
            files.c.series_number,
            files.c.series_instance_uid,
            files.c.instance_number,
            instances.c.sop_instance_uid,
        )
        .execution_options(stream_results=True, yield_per=2000)
    )
    yield from connection.execute(query)


@dataclass(frozen=True, slots=True)
class _Placed:
    """One instance, where it goes, by which route or for which verdict."""

    item: Item
    destination: str
    route: str | None
    reason: str | None = None


class Planner:
    """Turns the ledger's pending rows into batches for each destination."""

    def __init__(
        self, network: Network, *, dry_run: bool = False, workers: int = 1
    ) -> None:
        self._network = network
        self._dry_run = dry_run
        self._read_limits = {
            source.name: source.read_mb_per_second / workers
            for source in network.sources
            if source.read_mb_per_second
        }
        self._sinbin = network.sinbin or ""
        self._keywords = tag_keywords(network.routes)
        self._roots = {source.name: source.path for source in network.sources}

    def batches(self, rows: Iterator[Any]) -> Iterator[Batch]:
        """Batches of whole studies, in the order the rows come."""
        limit = self._network.run.batch
        open_batches: dict[str, Batch] = {}
        study: list[_Placed] = []
        current: str | None = None
        for row in rows:
            if study and row.study != current:
                yield from self._add_study(study, open_batches, limit)
                study = []
            current = row.study
            study.append(self._place(row))
        if study:
            yield from self._add_study(study, open_batches, limit)
        yield from open_batches.values()

    def _place(self, row: Any) -> _Placed:
        """Where one pending instance goes, and why."""
        verdict = row.verdict
        if verdict is not None and self._sinbinned(verdict):
            item = self._item(row, ())
            return _Placed(item, self._destination(self._sinbin), None, verdict)
        fixes = tuple(json.loads(row.fixes).items()) if row.fixes else ()
        route = self.route(row)
        return _Placed(self._item(row, fixes), self._destination(route.to), route.name)

    def _sinbinned(self, verdict: str) -> bool:
        """Whether the verdict's action puts the instance in the sin bin."""
        return bool(getattr(self._network.verdicts, verdict) == "sinbin")

    def _destination(self, name: str) -> str:
        """The destination's name, or the terminator's place on a dry run."""
        return "dry-run" if self._dry_run else name

    def _add_study(
        self,
        study: Sequence[_Placed],
        open_batches: dict[str, Batch],
        limit: int,
    ) -> Iterator[Batch]:
        """Add one study's instances to the open batches; yield those that filled."""
        parts: dict[str, list[_Placed]] = {}
        for placed in study:
            parts.setdefault(placed.destination, []).append(placed)
        for destination, part in parts.items():
            batch = open_batches.get(destination)
            if batch is not None and len(batch.items) + len(part) > limit:
                yield open_batches.pop(destination)
                batch = None
            if batch is None:
                batch = open_batches[destination] = Batch(destination)
            for placed in part:
                uid = placed.item.sop_instance_uid
                batch.items.append(placed.item)
                batch.routes[uid] = placed.route
                if placed.reason is not None:
                    batch.reasons[uid] = placed.reason
            if len(batch.items) >= limit:
                yield open_batches.pop(destination)

    def _item(self, row: Any, fixes: tuple[tuple[str, str], ...]) -> Item:
        """The worker's view of one pending instance, its header as reconciled."""
        path = Path(self._roots[row.source], row.folder, row.name)
        fixed = dict(fixes)
        return Item(
            sop_instance_uid=row.sop_instance_uid,
            sop_class_uid=row.sop_class_uid,
            transfer_syntax=row.transfer_syntax,
            path=str(path),
            size=row.size,
            study_instance_uid=fixed.get("StudyInstanceUID")
            or row.study_instance_uid
            or "",
            series_instance_uid=fixed.get("SeriesInstanceUID")
            or row.series_instance_uid
            or "",
            fixes=fixes,
            source=row.source,
            read_mb_per_second=self._read_limits.get(row.source),
        )

    def route(self, row: Any) -> Route:
        """The route the instance takes."""
        facts = Facts(
            sop_class=row.sop_class_uid,
            transfer_syntax=row.transfer_syntax,
            pixel_data=bool(row.pixel_data),
            modality=row.modality,
            tags=self._tags(row) if self._keywords else {},
        )
        return choose(self._network.routes, facts)

    def _tags(self, row: Any) -> dict[str, str]:
        """The header values routes look at (read from the file when routes need
        them)."""
        from pydicom import dcmread

        path = Path(self._roots[row.source], row.folder, row.name)
        try:
            ds = dcmread(
                path, stop_before_pixels=True, specific_tags=list(self._keywords)
            )
        except Exception as exc:  # any unreadable header routes as blank
            log.debug("cannot read tags of %s: %s", path, exc)
            return {}
        values = {}
        for keyword in self._keywords:
            value = ds.get(keyword)
            if value is not None:
                values[keyword] = str(value)
        return values
