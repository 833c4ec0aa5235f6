"""The folder destination: UID paths that headers cannot steer, atomic writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from pacsflow.destinations.base import Item, Result
from pacsflow.destinations.folder import Folder, relative_path, safe_component


def item(tmp_path: Path, uid: str = "1.2.3.1", study: str = "1.2.3") -> Item:
    source = tmp_path / "source.dcm"
    source.write_bytes(b"\0" * 128 + b"DICM" + bytes(range(256)))
    return Item(
        uid,
        "1.2.840.10008.5.1.4.1.1.2",
        "1.2.840.10008.1.2.1",
        str(source),
        source.stat().st_size,
        study,
        study + ".1",
    )


@pytest.mark.parametrize(
    "hostile", ["../../etc", "..", ".", "/etc/passwd", "1.2/../3", "a" * 300, "1.2\x00"]
)
def test_hostile_uids_stay_inside(hostile: str) -> None:
    component = safe_component(hostile)

    assert "/" not in component and component not in {".", ".."}
    assert component.startswith("x") and len(component) == 33


def test_plain_uids_are_kept() -> None:
    assert safe_component("1.2.840.113619.2.55.3") == "1.2.840.113619.2.55.3"


def test_copies_byte_for_byte_into_the_uid_tree(tmp_path: Path) -> None:
    one = item(tmp_path)

    result = Folder(tmp_path / "out").deliver([one])

    [delivery] = result.deliveries
    assert delivery.result is Result.DELIVERED
    written = tmp_path / "out" / relative_path(one)
    assert written == tmp_path / "out/1.2.3/1.2.3.1/1.2.3.1.dcm"
    assert written.read_bytes() == Path(one.path).read_bytes()
    assert not list(written.parent.glob(".incoming-*"))


def test_hostile_study_uid_cannot_escape(tmp_path: Path) -> None:
    one = item(tmp_path, study="../../../../tmp/evil")

    Folder(tmp_path / "out").deliver([one])

    [written] = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert (tmp_path / "out") in written.parents


def test_unwritable_folder_pauses_and_leaves_instances_untried(tmp_path: Path) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("a file where the folder should be")

    result = Folder(blocker).deliver([item(tmp_path, "1.1"), item(tmp_path, "1.2")])

    assert result.paused and "cannot write to the folder" in result.paused
    assert [d.result for d in result.deliveries] == [Result.NOT_TRIED] * 2


def test_missing_source_file_fails_only_that_instance(tmp_path: Path) -> None:
    gone = Item(
        "9.9", "1.2", "1.2.840.10008.1.2", str(tmp_path / "gone.dcm"), 1, "9", "9.1"
    )

    result = Folder(tmp_path / "out").deliver([gone, item(tmp_path)])

    assert [d.result for d in result.deliveries] == [Result.FAILED, Result.DELIVERED]
    assert result.paused is None
