"""Choosing where the sample's faults go.

Each fault counts at least one and grows with the number of studies. Faults that name
an instance are drawn from images of studies that are neither excluded nor merged, and
no instance carries two of them, so every outcome in the manifest has one cause.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from types import MappingProxyType

from pacsflow.errors import SampleError
from pacsflow.sample.model import IMAGE_KINDS, Faults, Instance, Junk, Series, Study

_JUNK_NAMES = {"thumbs": "Thumbs.db", "text": "readme.txt", "jpeg": "preview.jpg"}


def plant_faults(
    studies: Sequence[Study],
    series: Sequence[Series],
    instances: Sequence[Instance],
    merges: int,
    rng: random.Random,
) -> Faults:
    """Decide every fault of a sample.

    Parameters
    ----------
    studies, series, instances : sequences
        The archive as stored, in writing order.
    merges : int
        How many study pairs ``(2m, 2m + 1)`` the legacy database merged.
    rng : random.Random
        The plan's random source.

    Returns
    -------
    Faults
    """
    count = len(studies)
    merged = _merged(studies, series, merges)
    excluded = tuple(studies[-(1 if count < 10 else 2) :])
    skip = {study.uid for study in excluded}
    candidates = [
        i
        for i in instances
        if i.series.kind in IMAGE_KINDS
        and i.series.study.uid not in skip
        and i.series.uid not in merged
    ]
    sizes = [max(1, count // 4)] * 2 + [max(1, count // 12)] * 3
    sizes += [max(1, count // 30)] * 2
    if sum(sizes) > len(candidates):
        raise SampleError(
            f"expected at least {sum(sizes)} images to plant faults on, but the plan "
            f"has {len(candidates)}; try another seed or more studies"
        )
    picked = rng.sample(candidates, sum(sizes))
    groups = []
    for size in sizes:
        groups.append(frozenset(i.uid for i in picked[:size]))
        picked = picked[size:]
    return Faults(
        orphans=groups[0],
        missing=groups[1],
        duplicates_same=groups[2],
        duplicates_different=groups[3],
        stale=groups[4],
        truncated_header=groups[5],
        truncated_pixel_data=groups[6],
        merged=MappingProxyType(merged),
        excluded=excluded,
        junk=_junk(instances, max(1, count // 30), rng),
    )


def _merged(
    studies: Sequence[Study], series: Sequence[Series], merges: int
) -> dict[str, Study]:
    """Map the last image series of each pair's second study to the first study."""
    images: dict[str, list[Series]] = {}
    for one in series:
        if one.kind in IMAGE_KINDS:
            images.setdefault(one.study.uid, []).append(one)
    return {
        images[studies[2 * m + 1].uid][-1].uid: studies[2 * m] for m in range(merges)
    }


def _junk(
    instances: Sequence[Instance], sets: int, rng: random.Random
) -> tuple[Junk, ...]:
    """Scatter ``sets`` groups of non-DICOM files over image folders."""
    folders = sorted(
        {
            (i.source, i.path.rsplit("/", 1)[0], i.series.size)
            for i in instances
            if i.series.kind in IMAGE_KINDS
        }
    )
    sets = max(1, min(sets, len(folders) // 4))
    chosen = rng.sample(folders, min(len(folders), 4 * sets))
    junk = []
    for position in range(4 * sets):
        source, folder, size = chosen[position % len(chosen)]
        kind = ("thumbs", "text", "empty", "jpeg")[position % 4]
        # An empty file named like the series' next image: a write that never finished.
        name = f"{size + 1}.dcm" if kind == "empty" else _JUNK_NAMES[kind]
        junk.append(Junk(source, f"{folder}/{name}", kind))
    return tuple(junk)
