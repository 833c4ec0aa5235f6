"""The report of a real migration: the sample archive scanned, reconciled and sent
into folders (one of them unwritable, one file deleted under the run), then verified.

The ledger is the answer key: every number on the page and every row of the CSV is
checked against counts the test makes itself, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select

from pacsflow.config import Network, load_network
from pacsflow.ledger.database import open_ledger
from pacsflow.ledger.schema import files, instances
from pacsflow.report import ReportError, ReportFiles, csvfiles, write_report
from pacsflow.report.csvfiles import INSTANCE_COLUMNS
from pacsflow.run import run_network
from pacsflow.sample import SampleManifest, generate_sample, load_manifest
from pacsflow.sample.legacy import LEGACY_QUERY
from pacsflow.scan.indexer import scan_network
from pacsflow.verify import verify_network

TITLE = "St. Elsewhere <archive> & co"

NETWORK = """\
tracking: {tracking}
sources:
  - {{name: store01, path: store01}}
  - {{name: store02, path: store02}}
  - {{name: store03, path: store03}}
legacy_database:
  url: sqlite:///legacy.db
  query: |
{query}
exclude_studies: exclusions.txt
verdicts: {{excluded_study: skip}}
routes:
  - name: documents
    match: {{pixel_data: false, not_sop_class: RawDataStorage}}
    to: blocked
  - name: unsupported
    match: {{sop_class: RawDataStorage}}
    to: sinbin
  - name: images
    to: archive
destinations:
  archive: {{folder: {{path: out/archive}}}}
  blocked: {{folder: {{path: out/blocked/inside}}}}
  sinbin: {{folder: {{path: out/sinbin}}}}
sinbin: sinbin
run: {{batch: 40}}
"""


@dataclass(frozen=True)
class Migrated:
    """A migrated copy of the sample and its report."""

    archive: Path
    network: Network
    manifest: SampleManifest
    report: ReportFiles
    deleted: Path
    """The image deleted after the scan: the one instance that fails."""


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sample")
    generate_sample(directory, studies=4, seed=11)
    return directory


@pytest.fixture
def migrated(sample: Path, tmp_path: Path, ledger_url: str) -> Migrated:
    """Scan, delete one image, run, delete one delivered file, verify, report."""
    archive = tmp_path / "archive"
    shutil.copytree(sample, archive)
    (archive / "out").mkdir()
    (archive / "out/blocked").write_text("a file where a folder should be")
    query = "".join(f"    {line}\n" for line in LEGACY_QUERY.splitlines())
    network_file = archive / "report.yaml"
    network_file.write_text(NETWORK.format(tracking=ledger_url, query=query.rstrip()))
    network = load_network(network_file)
    manifest = load_manifest(archive)

    engine = open_ledger(network.tracking)
    try:
        scan_network(network, engine, workers=2)
        deleted = _plain_image(archive, manifest)
        deleted.unlink()
        run_network(network, engine, workers=2)
        next((archive / "out/archive").rglob("*.dcm")).unlink()
        verify_network(network, engine)
        with engine.connect() as connection:
            report = write_report(
                connection, tmp_path / "report" / "new", title=TITLE, network=network
            )
    finally:
        engine.dispose()
    return Migrated(archive, network, manifest, report, deleted)


def _plain_image(archive: Path, manifest: SampleManifest) -> Path:
    """A CT file that nothing but its route decides about (so it fails once gone)."""
    special = {
        *manifest.orphans,
        *manifest.duplicates_same_content,
        *manifest.duplicates_different_content,
        *(s.sop_instance_uid for s in manifest.stale_files),
        *(m.sop_instance_uid for m in manifest.merged),
    }
    entry = next(
        f
        for f in manifest.files
        if f.readable
        and f.modality == "CT"
        and f.sop_instance_uid not in special
        and f.study_instance_uid not in manifest.excluded_studies
    )
    return archive / entry.source / entry.path


class Page(HTMLParser):
    """The parts of the page a test reads (tiles, accounting lines, every tag),
    checking on the way that every element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.tiles: dict[str, str] = {}
        self.sums: list[list[str]] = []
        self.text: list[str] = []
        self.open: list[tuple[str, str]] = []
        self._label = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "meta":
            return
        cls = dict(attrs).get("class") or ""
        self.open.append((tag, cls))
        if cls == "sum":
            self.sums.append([])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        opened, _ = self.open.pop()
        assert opened == tag, f"<{opened}> closed by </{tag}>"

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        classes = [cls for _, cls in self.open]
        inner = classes[-1] if classes else ""
        if "tile" in classes and inner == "k":
            self._label = data
        elif "tile" in classes and inner == "n":
            self.tiles[self._label] = data
        elif "sum" in classes and data.strip():
            self.sums[-1].append(data)


def read_page(path: Path) -> tuple[str, Page]:
    """The page's text, parsed; every element must be closed."""
    html = path.read_text(encoding="utf-8")
    page = Page()
    page.feed(html)
    page.close()
    assert page.open == []
    return html, page


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


@contextmanager
def ledger(migrated: Migrated) -> Iterator[Connection]:
    engine = open_ledger(migrated.network.tracking)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def counts(connection: Connection) -> dict[str, int]:
    """The accounting numbers, counted plainly."""
    present = files.c.state != "vanished"
    by_outcome = select(instances.c.outcome, func.count()).group_by(instances.c.outcome)
    per_outcome = {o: n for o, n in connection.execute(by_outcome)}
    checked = (
        select(instances.c.verification, func.count())
        .where(instances.c.outcome == "sent")
        .group_by(instances.c.verification)
    )
    verification = {v: n for v, n in connection.execute(checked)}
    return {
        "files": connection.scalar(select(func.count()).where(present)) or 0,
        "unreadable": connection.scalar(
            select(func.count()).where(files.c.state == "unreadable")
        )
        or 0,
        "instances": connection.scalar(select(func.count()).select_from(instances))
        or 0,
        "extra": connection.scalar(select(func.sum(instances.c.copies - 1))) or 0,
        **{o: per_outcome.get(o, 0) for o in OUTCOMES},
        "verified": verification.get("verified", 0),
        "missing": verification.get("missing", 0),
        "unchecked": verification.get(None, 0),
    }


OUTCOMES = ("sent", "sinbinned", "failed", "skipped", "pending")


def test_page_shows_every_outcome_and_adds_up(migrated: Migrated) -> None:
    with ledger(migrated) as connection:
        expected = counts(connection)
    _, page = read_page(migrated.report.html)

    # The migration was made to reach every outcome.
    assert all(expected[o] > 0 for o in OUTCOMES), expected
    assert expected["missing"] == 1
    labels = {
        "Sent": "sent",
        "Sin-binned": "sinbinned",
        "Failed": "failed",
        "Skipped": "skipped",
        "Pending": "pending",
        "Unreadable": "unreadable",
        "Verified": "verified",
        "Missing": "missing",
    }
    assert page.tiles == {label: f"{expected[k]:,}" for label, k in labels.items()}

    files_line, instances_line, outcomes_line, sent_line = (
        _numbers(line) for line in page.sums
    )
    e = expected
    assert files_line == [e["files"], e["unreadable"], e["instances"], e["extra"]]
    assert files_line[0] == sum(files_line[1:])
    assert instances_line == [e["instances"], e["instances"], 0]
    assert outcomes_line == [e["instances"], *(e[o] for o in OUTCOMES)]
    assert sent_line == [e["sent"], e["verified"], e["missing"], e["unchecked"]]
    assert all(line[-1] == "✓ adds up" for line in page.sums)
    assert migrated.report.outcomes == {o: e[o] for o in OUTCOMES}


def _numbers(line: list[str]) -> list[int]:
    """The numbers of an accounting line (its terms), in order."""
    return [
        int(text.replace(",", "")) for text in line if re.fullmatch(r"[\d,]+", text)
    ]


def test_page_is_self_contained_and_escaped(migrated: Migrated) -> None:
    html, page = read_page(migrated.report.html)

    assert page.tags[0][0] == "html"
    lowered = html.lower()
    for forbidden in (
        "http://",
        "https://",
        "<script",
        "<link",
        "<img",
        "url(",
        "@import",
    ):
        assert forbidden not in lowered
    assert not [attrs for _, attrs in page.tags if "src" in attrs or "href" in attrs]
    assert "St. Elsewhere &lt;archive&gt; &amp; co" in html
    assert TITLE not in html
    assert TITLE in "".join(page.text)
    assert sum(1 for tag, _ in page.tags if tag == "svg") >= 6


def test_page_and_csv_hold_no_patient_data(migrated: Migrated) -> None:
    names, identifiers = _patient_data(migrated)
    html = migrated.report.html.read_text(encoding="utf-8")
    rows = read_csv(migrated.report.instances_csv)
    rows += read_csv(migrated.report.unreadable_csv)
    cells = {value for row in rows for value in row.values()}

    assert len(names) > 3 and len(identifiers) > 6  # the search is not empty
    for name in names:
        assert name not in html, name
        assert not any(name in cell for cell in cells), name
    for value in identifiers:
        pattern = re.compile(rf"(?<![\w.]){re.escape(value)}(?![\w.])")
        assert not pattern.search(html), value
        assert value not in cells, value


def _relative(migrated: Migrated) -> str:
    """The deleted image's path inside its source."""
    inside = migrated.deleted.relative_to(migrated.archive).parts[1:]
    return "/".join(inside)


def _patient_data(migrated: Migrated) -> tuple[set[str], set[str]]:
    """Patient names, and IDs and birth dates, from the legacy database and the
    headers the ledger recorded."""
    names: set[str] = set()
    identifiers: set[str] = set()
    legacy = sqlite3.connect(migrated.archive / "legacy.db")
    with legacy:
        for pid, name, birth in legacy.execute(
            "SELECT patient_id, patient_name, birth_date FROM patient"
        ):
            names.update(_name_forms(name))
            identifiers.update({pid, birth, (birth or "").replace("-", "")})
    legacy.close()
    with ledger(migrated) as connection:
        for (attributes,) in connection.execute(
            select(files.c.attributes).where(files.c.attributes.is_not(None))
        ):
            values = json.loads(attributes)
            names.update(_name_forms(values.get("PatientName")))
            identifiers.update(
                {values.get("PatientID"), values.get("PatientBirthDate")}
            )
    return names - {""}, {i for i in identifiers if i}


def _name_forms(name: str | None) -> set[str]:
    """A person name as stored, with spaces for carets, and its family name."""
    if not name:
        return set()
    family = name.split("^")[0]
    return {name, name.replace("^", " "), *({family} if len(family) > 4 else set())}


def test_csv_lists_every_instance_with_its_outcome(migrated: Migrated) -> None:
    rows = read_csv(migrated.report.instances_csv)
    with ledger(migrated) as connection:
        query = select(instances.c.sop_instance_uid, instances.c.outcome)
        outcomes = {uid: outcome for uid, outcome in connection.execute(query)}
        unreadable = connection.scalar(
            select(func.count()).where(files.c.state == "unreadable")
        )

    assert list(rows[0]) == list(INSTANCE_COLUMNS)
    assert len(rows) == len(outcomes) == migrated.report.instances
    assert {r["sop_instance_uid"]: r["outcome"] for r in rows} == outcomes
    by_uid = {r["sop_instance_uid"]: r for r in rows}
    for merged in migrated.manifest.merged:  # the reconciled study, as sent
        assert by_uid[merged.sop_instance_uid]["study_instance_uid"] == (
            merged.database_study
        )
    failed = [r for r in rows if r["outcome"] == "failed"]
    assert [(r["source"], r["path"]) for r in failed] == [
        (migrated.deleted.relative_to(migrated.archive).parts[0], _relative(migrated))
    ]
    assert failed[0]["detail"]
    assert {r["verification"] for r in rows if r["outcome"] == "sent"} == {
        "verified",
        "missing",
    }
    assert all(r["source"] and r["path"] and r["updated_at"] for r in rows)
    listed = read_csv(migrated.report.unreadable_csv)
    assert len(listed) == unreadable == migrated.report.unreadable
    assert len(listed) == len(migrated.manifest.unreadable)


def test_csv_streams_in_batches(
    migrated: Migrated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvfiles, "BATCH", 7)
    again = tmp_path / "again.csv"

    with ledger(migrated) as connection:
        assert csvfiles.write_instances(connection, again) > 7 * 3

    assert again.read_bytes() == migrated.report.instances_csv.read_bytes()


def test_an_empty_ledger_gives_a_page_that_says_so(tmp_path: Path) -> None:
    engine = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        with engine.connect() as connection:
            report = write_report(connection, tmp_path / "a/b", title="Nothing yet")
    finally:
        engine.dispose()

    html, page = read_page(report.html)
    assert page.tiles["Sent"] == "0"
    assert "Nothing has been delivered yet." in html
    assert all(line[-1] == "✓ adds up" for line in page.sums)
    assert report.instances == report.unreadable == 0
    assert len(read_csv(report.instances_csv)) == 0


def test_a_folder_that_cannot_be_made_is_reported(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file")
    engine = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        with (
            engine.connect() as connection,
            pytest.raises(ReportError, match=r"taken is a file; give --out a folder"),
        ):
            write_report(connection, tmp_path / "taken", title="x")
        with (
            engine.connect() as connection,
            pytest.raises(ReportError, match=r"cannot write the report into .*inside"),
        ):
            write_report(connection, tmp_path / "taken/inside", title="x")
    finally:
        engine.dispose()
