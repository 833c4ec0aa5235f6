"""Before anything moves: can every destination take what the routes will send it?

``pacsflow check`` validates the network file, then for each DICOM destination opens
one association (several when more than 128 pairs are needed) proposing every
(SOP class, transfer syntax) pair of the ledger's instances that a route sends there,
C-ECHOes it, and reports which pairs the destination accepts and which it refuses,
with the instances concerned. A refusal found now is a configuration fix; found in
week two of a migration it is a pile of failed instances.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from pacsflow.config import DicomDestination, Network
from pacsflow.destinations.dicom import MAX_CONTEXTS, peer_of
from pacsflow.dicom.association import StoreAssociation
from pacsflow.dicom.errors import DicomError
from pacsflow.ledger.schema import files, instances
from pacsflow.run.plan import Planner

log = logging.getLogger(__name__)

Pair = tuple[str, str]
"""(SOP Class UID, Transfer Syntax UID)."""


@dataclass
class DestinationCheck:
    """What one DICOM destination answered."""

    name: str
    address: str
    echo: int | None = None
    """The C-ECHO status, or None when no association could be opened."""
    error: str | None = None
    accepted: dict[Pair, int] = field(default_factory=dict)
    refused: dict[Pair, int] = field(default_factory=dict)
    """Pair → instances routed here with it."""

    @property
    def ok(self) -> bool:
        """Reachable, answering C-ECHO with success, refusing nothing."""
        return self.error is None and self.echo == 0 and not self.refused


def routed_pairs(network: Network, engine: Engine) -> dict[str, Counter[Pair]]:
    """Destination → (SOP class, transfer syntax) → instances the routes send there."""
    planner = Planner(network)
    counts: dict[str, Counter[Pair]] = {}
    query = (
        select(instances.c.sop_instance_uid, files)
        .select_from(instances.join(files, files.c.id == instances.c.file_id))
        .execution_options(stream_results=True, yield_per=2000)
    )
    with engine.connect() as connection:
        for row in connection.execute(query):
            route = planner.route(row)
            pair = (row.sop_class_uid, row.transfer_syntax)
            counts.setdefault(route.to, Counter())[pair] += 1
    return counts


def check_network(network: Network, engine: Engine) -> list[DestinationCheck]:
    """Echo and negotiate with every DICOM destination; one result each."""
    pairs = routed_pairs(network, engine)
    results = []
    for name, config in network.destinations.items():
        if isinstance(config, DicomDestination):
            results.append(_check(name, config, pairs.get(name, Counter())))
    return results


def _check(
    name: str, config: DicomDestination, pairs: Counter[Pair]
) -> DestinationCheck:
    """Open the associations one destination needs and record its answers."""
    peer = peer_of(config)
    result = DestinationCheck(name, str(peer))
    ordered = sorted(pairs)
    size = MAX_CONTEXTS - 1  # one context is Verification's
    groups = [ordered[i : i + size] for i in range(0, len(ordered), size)] or [[]]
    try:
        for group in groups:
            with StoreAssociation(peer, group) as association:
                result.echo = association.echo()
                for pair in group:
                    found = association.accepts(*pair)
                    (result.accepted if found else result.refused)[pair] = pairs[pair]
    except DicomError as exc:
        result.error = str(exc)
        log.debug("check of %s failed: %s", name, exc)
    return result
