"""Mutated real files through the scanner: no crash, no unbounded memory, a reason.

Hypothesis mutates files of the sample archive (every encoding it holds): bytes
flipped in the header, lengths set huge, bytes inserted or cut, the file truncated.
Whatever comes, the scanner's worker returns one result per file, either a header or
a reason a person can read, in bounded memory. Each CI run tries a bounded number of
cases; set ``PACSFLOW_FUZZ_EXAMPLES`` for more (``PACSFLOW_FUZZ_EXAMPLES=20000``).
"""

from __future__ import annotations

import os
import struct
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pacsflow.sample import generate_sample, load_manifest
from pacsflow.scan.worker import read_batch

EXAMPLES = int(os.environ.get("PACSFLOW_FUZZ_EXAMPLES", "300"))
HEADER_BYTES = 2048  # most mutations land where the walker reads
MEMORY_LIMIT = 64 * 2**20


class Originals(list[bytes]):
    """The files to mutate; a short repr for Hypothesis' failure reports."""

    def __repr__(self) -> str:
        return f"<{len(self)} sample files>"


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> Originals:
    """One file of each transfer syntax and SOP class of the sample, as bytes."""
    directory = tmp_path_factory.mktemp("fuzz-sample")
    generate_sample(directory, studies=3, seed=71)
    kinds: dict[tuple[str | None, str | None], bytes] = {}
    for entry in load_manifest(directory).files:
        if entry.readable:
            key = (entry.transfer_syntax, entry.sop_class_uid)
            path = directory / entry.source / entry.path
            kinds.setdefault(key, path.read_bytes())
    return Originals(kinds.values())


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def mutations() -> st.SearchStrategy[list[tuple[str, int, int]]]:
    """A few (kind, position, value) edits."""
    edit = st.tuples(
        st.sampled_from(["flip", "huge", "insert", "cut", "truncate"]),
        st.integers(0, HEADER_BYTES),
        st.integers(0, 255),
    )
    return st.lists(edit, min_size=1, max_size=6)


def mutate(data: bytes, edits: list[tuple[str, int, int]]) -> bytes:
    """Apply the edits to a copy of ``data``."""
    out = bytearray(data)
    for kind, position, value in edits:
        at = min(position, max(len(out) - 1, 0))
        if kind == "flip" and out:
            out[at] ^= value or 0xFF
        elif kind == "huge" and len(out) >= at + 4:
            out[at : at + 4] = struct.pack("<I", 0xFFFFFFF0 - value)
        elif kind == "insert":
            out[at:at] = bytes([value]) * (value % 7 + 1)
        elif kind == "cut":
            del out[at : at + value % 16 + 1]
        elif kind == "truncate":
            del out[at:]
    return bytes(out)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(which=st.integers(0, 1000), edits=mutations())
@example(which=0, edits=[("cut", 0, 0)])  # no preamble: a 1 GB read, before
@example(which=0, edits=[("flip", 136, 0)])  # a meta length pydicom cannot split
@example(which=2, edits=[("huge", 300, 0)])
def test_a_mutated_file_gets_a_header_or_a_reason_in_bounded_memory(
    originals: Originals, scratch: Path, which: int, edits: list[tuple[str, int, int]]
) -> None:
    (scratch / "case.dcm").write_bytes(mutate(originals[which % len(originals)], edits))

    tracemalloc.start()
    try:
        (result,) = read_batch(str(scratch), [("", "case.dcm")])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    header, reason = result
    assert (header is None) != (reason is None)
    if reason is not None:
        assert "unexpected" not in reason, reason
    assert peak < MEMORY_LIMIT


def test_every_kind_of_file_is_fuzzed(originals: Originals) -> None:
    assert len(originals) >= 5
