"""Tests for pacsflow.config: loading, normalising and refusing network files."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from pacsflow.config import (
    DicomDestination,
    FolderDestination,
    LegacyDatabase,
    Network,
    ScanOptions,
    TerminatorDestination,
    load_network,
)
from pacsflow.errors import ConfigError

EXAMPLE = """\
tracking: sqlite:///pacsflow.db          # SQLAlchemy URL; default: pacsflow.db beside
sources:
  - name: store01
    path: /mnt/pacs/store01
  - name: store02
    path: /mnt/pacs/store02
legacy_database:                         # the old PACS's database, read only
  url: mssql+pymssql://reader@pacsdb/pacs
  password_env: LEGACY_DB_PASSWORD
  query: |                               # one row per instance
    SELECT ... AS SOPInstanceUID, ... AS StudyInstanceUID, ... AS PatientID, \
... AS FilePath
exclude_studies: exclusions.txt          # one StudyInstanceUID per line
routes:                                  # first match wins
  - name: no-pixel
    match: {pixel_data: false, transfer_syntax: [ImplicitVRLittleEndian, \
ExplicitVRLittleEndian]}
    to: newpacs-nopixel
  - name: unsupported
    match: {sop_class: [RawDataStorage]}
    to: sinbin
  - name: images
    to: newpacs                            # no match: catch-all
destinations:
  newpacs:         {dicom: {host: 10.0.0.5, port: 104, ae_title: NEWPACS, \
associations: 4}}
  newpacs-nopixel: {dicom: {host: 10.0.0.5, port: 105, ae_title: NEWPACS_NP}}
  sinbin:          {folder: {path: /srv/sinbin}}
  discard:         {terminator: {}}
sinbin: sinbin                           # destination that receives the sin bin
scan:                                    # optional
  workers: 4                             # processes for scanning
"""

MINIMAL: dict[str, Any] = {
    "sources": [{"name": "store01", "path": "/mnt/pacs/store01"}],
    "routes": [{"name": "all", "to": "newpacs"}],
    "destinations": {
        "newpacs": {"dicom": {"host": "127.0.0.1", "port": 11112, "ae_title": "NEW"}}
    },
}


def write(tmp_path: Path, content: str | dict[str, Any]) -> Path:
    """Write a network file into tmp_path and return its path."""
    path = tmp_path / "network.yaml"
    if not isinstance(content, str):
        content = yaml.safe_dump(content, sort_keys=False)
    path.write_text(content, encoding="utf-8")
    return path


def minimal(**changes: Any) -> dict[str, Any]:
    """Return a fresh valid network file's content with top-level keys replaced."""
    data = copy.deepcopy(MINIMAL)
    data.update(changes)
    return data


def with_match(match: Any) -> dict[str, Any]:
    """Return a valid network whose first route has ``match``."""
    routes = [
        {"name": "first", "match": match, "to": "newpacs"},
        {"name": "all", "to": "newpacs"},
    ]
    return minimal(routes=routes)


def with_dicom(**options: Any) -> dict[str, Any]:
    """Return a valid network whose DICOM destination has ``options`` changed."""
    dicom = {"host": "127.0.0.1", "port": 11112, "ae_title": "NEW", **options}
    return minimal(destinations={"newpacs": {"dicom": dicom}})


def load(tmp_path: Path, content: str | dict[str, Any]) -> Network:
    """Write and load a network file."""
    return load_network(write(tmp_path, content))


# --- the full example -----------------------------------------------------------------


def test_example_loads_and_normalises(tmp_path: Path) -> None:
    network = load(tmp_path, EXAMPLE)

    assert network.file == tmp_path / "network.yaml"
    assert network.tracking == f"sqlite:///{tmp_path}/pacsflow.db"
    assert [source.name for source in network.sources] == ["store01", "store02"]
    assert network.source("store02").path == Path("/mnt/pacs/store02")
    assert network.exclude_studies == tmp_path / "exclusions.txt"
    assert network.sinbin == "sinbin"
    assert network.scan == ScanOptions(workers=4)

    legacy = network.legacy_database
    assert legacy is not None
    assert legacy.url == "mssql+pymssql://reader@pacsdb/pacs"
    assert legacy.password_env == "LEGACY_DB_PASSWORD"
    assert legacy.query.startswith("SELECT ... AS SOPInstanceUID")


def test_example_routes_normalise_keywords_to_uids(tmp_path: Path) -> None:
    routes = load(tmp_path, EXAMPLE).routes

    assert [route.name for route in routes] == ["no-pixel", "unsupported", "images"]
    assert [route.to for route in routes] == ["newpacs-nopixel", "sinbin", "newpacs"]
    no_pixel, unsupported, images = (route.match for route in routes)
    assert no_pixel is not None
    assert no_pixel.pixel_data is False
    assert no_pixel.transfer_syntax == ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")
    assert no_pixel.sop_class == ()
    assert unsupported is not None
    assert unsupported.sop_class == ("1.2.840.10008.5.1.4.1.1.66",)
    assert unsupported.pixel_data is None
    assert images is None


def test_example_destinations(tmp_path: Path) -> None:
    destinations = load(tmp_path, EXAMPLE).destinations

    assert list(destinations) == ["newpacs", "newpacs-nopixel", "sinbin", "discard"]
    assert destinations["newpacs"] == DicomDestination(
        host="10.0.0.5", port=104, ae_title="NEWPACS", associations=4
    )
    nopixel = destinations["newpacs-nopixel"]
    assert isinstance(nopixel, DicomDestination)
    assert (nopixel.kind, nopixel.port, nopixel.ae_title) == (
        "dicom",
        105,
        "NEWPACS_NP",
    )
    assert nopixel.calling_ae_title == "PACSFLOW"
    assert (nopixel.associations, nopixel.max_pdu) == (1, 0)
    assert (nopixel.acse_timeout, nopixel.dimse_timeout) == (30, 60)
    assert nopixel.network_timeout == 60
    assert destinations["sinbin"] == FolderDestination(path=Path("/srv/sinbin"))
    assert destinations["sinbin"].kind == "folder"
    assert isinstance(destinations["discard"], TerminatorDestination)
    assert destinations["discard"].kind == "terminator"


def test_network_is_immutable(tmp_path: Path) -> None:
    network = load(tmp_path, EXAMPLE)

    with pytest.raises(pydantic.ValidationError, match="frozen"):
        network.sinbin = "discard"
    with pytest.raises(TypeError):
        network.destinations["new"] = TerminatorDestination()  # type: ignore[index]
    assert isinstance(network.sources, tuple)
    assert isinstance(network.routes, tuple)
    match = network.routes[1].match
    assert match is not None
    with pytest.raises(TypeError):
        match.tags["Modality"] = ("CT",)  # type: ignore[index]


def test_network_dumps_to_plain_data(tmp_path: Path) -> None:
    dumped = load(tmp_path, EXAMPLE).model_dump()

    assert dumped["destinations"]["discard"] == {"kind": "terminator"}
    assert dumped["routes"][1]["match"]["tags"] == {}


def test_password_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEGACY_DB_PASSWORD", "s3cret@!")
    legacy = load(tmp_path, EXAMPLE).legacy_database
    assert legacy is not None

    url = legacy.connect_url()

    assert url.password == "s3cret@!"
    assert (url.username, url.host, url.database) == ("reader", "pacsdb", "pacs")
    assert url.drivername == "mssql+pymssql"


def test_missing_password_variable_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEGACY_DB_PASSWORD", raising=False)
    legacy = load(tmp_path, EXAMPLE).legacy_database
    assert legacy is not None

    with pytest.raises(ConfigError, match="LEGACY_DB_PASSWORD is not set"):
        legacy.connect_url()


def test_connect_url_without_password_env(tmp_path: Path) -> None:
    legacy = LegacyDatabase(url="postgresql+psycopg://pacs@db/pacs", query="SELECT 1")

    assert legacy.connect_url().password is None


# --- defaults and normalisation -------------------------------------------------------


def test_defaults(tmp_path: Path) -> None:
    network = load(tmp_path, minimal())

    assert network.tracking == f"sqlite:///{tmp_path}/pacsflow.db"
    assert network.legacy_database is None
    assert network.exclude_studies is None
    assert network.sinbin is None
    assert network.scan.workers is None


def test_blank_scan_section_means_defaults(tmp_path: Path) -> None:
    assert load(tmp_path, minimal(scan=None)).scan == ScanOptions()


def test_relative_paths_are_relative_to_the_network_file(tmp_path: Path) -> None:
    data = minimal(
        sources=[{"name": "store01", "path": "archive/../store01"}],
        exclude_studies="lists/exclusions.txt",
        destinations={"out": {"folder": {"path": "out"}}},
        routes=[{"name": "all", "to": "out"}],
    )

    network = load(tmp_path, data)

    assert network.source("store01").path == tmp_path / "store01"
    assert network.exclude_studies == tmp_path / "lists" / "exclusions.txt"
    assert network.destinations["out"] == FolderDestination(path=tmp_path / "out")


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("sqlite:///ledger/pacsflow.db", "sqlite:///{dir}/ledger/pacsflow.db"),
        ("sqlite:////var/lib/pacsflow.db", "sqlite:////var/lib/pacsflow.db"),
        ("sqlite://", "sqlite://"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgresql+psycopg://pacs@db/pacs", "postgresql+psycopg://pacs@db/pacs"),
    ],
)
def test_tracking_urls(tmp_path: Path, written: str, expected: str) -> None:
    network = load(tmp_path, minimal(tracking=written))

    assert network.tracking == expected.format(dir=tmp_path)


def test_relative_sqlite_legacy_database(tmp_path: Path) -> None:
    legacy = {"url": "sqlite:///legacy.db", "query": "SELECT 1"}

    network = load(tmp_path, minimal(legacy_database=legacy))

    assert network.legacy_database is not None
    assert network.legacy_database.url == f"sqlite:///{tmp_path}/legacy.db"


def test_single_values_stand_for_lists(tmp_path: Path) -> None:
    match = {
        "sop_class": "1.2.840.10008.5.1.4.1.1.2",
        "not_transfer_syntax": "JPEG2000Lossless",
        "modality": "CT",
        "tags": {"InstitutionName": "General", "SeriesNumber": [1, "2"]},
        "not_tags": {"StationName": "CT01"},
    }

    found = load(tmp_path, with_match(match)).routes[0].match

    assert found is not None
    assert found.sop_class == ("1.2.840.10008.5.1.4.1.1.2",)
    assert found.not_transfer_syntax == ("1.2.840.10008.1.2.4.90",)
    assert found.modality == ("CT",)
    assert dict(found.tags) == {
        "InstitutionName": ("General",),
        "SeriesNumber": ("1", "2"),
    }
    assert dict(found.not_tags) == {"StationName": ("CT01",)}


def test_private_uids_are_accepted(tmp_path: Path) -> None:
    match = {"sop_class": ["1.2.826.0.1.3680043.2.1125.1.99"]}

    found = load(tmp_path, with_match(match)).routes[0].match

    assert found is not None
    assert found.sop_class == ("1.2.826.0.1.3680043.2.1125.1.99",)


def test_unknown_source_lookup(tmp_path: Path) -> None:
    network = load(tmp_path, EXAMPLE)

    with pytest.raises(ConfigError, match="no source named 'store03'"):
        network.source("store03")


# --- reading the file -----------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="network file not found"):
        load_network(tmp_path / "absent.yaml")


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    text = "sources:\n  - name: store01\n    path: [unclosed\nroutes: []\n"

    with pytest.raises(ConfigError, match=r"network\.yaml: line \d+, column \d+: "):
        load(tmp_path, text)


def test_key_written_twice(tmp_path: Path) -> None:
    text = yaml.safe_dump(minimal()) + "routes: []\n"

    with pytest.raises(ConfigError, match=r"line .*the key 'routes' is written twice"):
        load(tmp_path, text)


@pytest.mark.parametrize(
    ("text", "got"), [("- a\n- b\n", "a list"), ("", "an empty file"), ("x\n", "'x'")]
)
def test_top_level_not_a_mapping(tmp_path: Path, text: str, got: str) -> None:
    with pytest.raises(ConfigError, match=f"at the top level; got {got}"):
        load(tmp_path, text)


def test_unknown_top_level_key(tmp_path: Path) -> None:
    expected = (
        "network.yaml: sinbn: unknown key 'sinbn'; did you mean sinbin? Allowed here: "
        "tracking, sources, legacy_database, exclude_studies, routes, destinations, "
        "sinbin, verdicts, scan, run"
    )

    with pytest.raises(ConfigError, match=re.escape(expected)):
        load(tmp_path, minimal(sinbn="sinbin"))


def test_file_is_not_a_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file: unknown key 'file'"):
        load(tmp_path, minimal(file="elsewhere.yaml"))


def test_unknown_nested_key(tmp_path: Path) -> None:
    routes = [{"name": "all", "to": "newpacs", "matches": {"modality": "CT"}}]

    with pytest.raises(
        ConfigError,
        match=re.escape(
            "routes[0].matches: unknown key 'matches'; did you mean match? "
            "Allowed here: name, match, to"
        ),
    ):
        load(tmp_path, minimal(routes=routes))


def test_unknown_destination_option(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"destinations\.newpacs\.dicom\.aetitle: unknown key 'aetitle'; "
        r"did you mean ae_title\? Allowed here: host, port, ae_title, ",
    ):
        load(tmp_path, with_dicom(aetitle="X"))


def test_missing_required_key(tmp_path: Path) -> None:
    data = minimal(sources=[{"name": "store01"}])

    with pytest.raises(ConfigError, match=r"sources\[0\]\.path: required key missing"):
        load(tmp_path, data)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"routes": ["all"]}, r"routes\[0\]: expected a mapping .*; got 'all'"),
        (
            {"legacy_database": "mssql://pacsdb/pacs"},
            "legacy_database: expected a mapping with keys from url, password_env, "
            "query; got 'mssql://pacsdb/pacs'",
        ),
        ({"sources": {"name": "a"}}, r"sources: expected a list; got \{'name'"),
        ({"tracking": None}, r"tracking: .*got nothing \(the key is blank\)"),
    ],
)
def test_wrong_type_says_what_came(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, minimal(**changes))


def test_all_problems_are_listed(tmp_path: Path) -> None:
    data = minimal(
        sources=[{"name": "store 01", "path": "/a"}],
        scan={"workers": 0},
    )
    data["destinations"]["newpacs"]["dicom"]["port"] = 0

    with pytest.raises(ConfigError) as caught:
        load(tmp_path, data)

    lines = str(caught.value).splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"{tmp_path / 'network.yaml'}: ") for line in lines)
    assert "sources[0].name: name 'store 01' is not simple" in lines[0]
    assert "destinations.newpacs.dicom.port: expected a number greater" in lines[1]
    assert "scan.workers: expected a number greater than or equal to 1" in lines[2]
    assert isinstance(caught.value.__cause__, pydantic.ValidationError)


# --- UIDs, keywords and tags ----------------------------------------------------------


def test_unknown_sop_class_suggests_a_keyword(tmp_path: Path) -> None:
    data = minimal(
        routes=[
            {"name": "ct", "match": {"modality": "CT"}, "to": "newpacs"},
            {"name": "bad", "match": {"sop_class": ["CTImageStorag"]}, "to": "newpacs"},
            {"name": "all", "to": "newpacs"},
        ]
    )
    expected = (
        "network.yaml: routes[1].match.sop_class[0]: unknown SOP class "
        "'CTImageStorag'; did you mean CTImageStorage? Write a UID or a pydicom "
        "keyword."
    )

    with pytest.raises(ConfigError, match=re.escape(expected)):
        load(tmp_path, data)


def test_unknown_transfer_syntax(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"transfer_syntax\[0\]: unknown transfer syntax 'JPEG2000Losless'; "
        "did you mean JPEG2000Lossless",
    ):
        load(tmp_path, with_match({"transfer_syntax": "JPEG2000Losless"}))


@pytest.mark.parametrize(
    ("match", "message"),
    [
        (
            {"sop_class": "ImplicitVRLittleEndian"},
            "'ImplicitVRLittleEndian' is a transfer syntax (1.2.840.10008.1.2), "
            "not an SOP class",
        ),
        (
            {"not_transfer_syntax": ["CTImageStorage"]},
            "'CTImageStorage' is an SOP class (1.2.840.10008.5.1.4.1.1.2), "
            "not a transfer syntax",
        ),
        (
            {"transfer_syntax": "1.2.840.10008.5.1.4.1.1.2"},
            "'1.2.840.10008.5.1.4.1.1.2' is an SOP class (CTImageStorage), "
            "not a transfer syntax",
        ),
    ],
)
def test_uid_of_the_wrong_type(
    tmp_path: Path, match: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load(tmp_path, with_match(match))


@pytest.mark.parametrize("uid", ["1.2.03", "1..2", "1.2.a", "1." + "2" * 70])
def test_invalid_dotted_uid(tmp_path: Path, uid: str) -> None:
    with pytest.raises(ConfigError, match=r"sop_class\[0\]: .* is not a valid UID"):
        load(tmp_path, with_match({"sop_class": [uid]}))


def test_unknown_tag_keyword(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"match\.tags\.PatientNme: unknown DICOM keyword 'PatientNme'; "
        "did you mean PatientName",
    ):
        load(tmp_path, with_match({"tags": {"PatientNme": "X"}}))


def test_sequence_keyword_cannot_be_matched(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'ReferencedSeriesSequence' is a sequence"):
        load(tmp_path, with_match({"not_tags": {"ReferencedSeriesSequence": "1"}}))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{Modality: yes}", r"tags\.Modality\[0\]: YAML read True as a boolean"),
        ("{StudyDate: 2024-01-31}", "quote it as DICOM writes it, such as '20240131'"),
        ("{StudyDate: []}", r"tags\.StudyDate: empty list"),
        ("{}", r"match\.tags: empty mapping"),
    ],
)
def test_bad_tag_values(tmp_path: Path, text: str, message: str) -> None:
    data = with_match({"modality": "CT"})
    data["routes"][0]["match"]["tags"] = yaml.safe_load(text)

    with pytest.raises(ConfigError, match=message):
        load(tmp_path, data)


def test_modality_must_be_text(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"modality\[0\]: expected a valid string"):
        load(tmp_path, with_match({"modality": [{"CT": 1}]}))


@pytest.mark.parametrize("match", [{}, None])
def test_empty_match(tmp_path: Path, match: Any) -> None:
    with pytest.raises(
        ConfigError, match=r"routes\[0\]\.match: empty match; .*leave match out"
    ):
        load(tmp_path, with_match(match))


# --- destinations ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {},
            "a destination has exactly one kind, one of dicom, folder, terminator; "
            "got none",
        ),
        (
            {"folder": {"path": "/a"}, "terminator": {}},
            "a destination has exactly one kind, one of dicom, folder, terminator; "
            "got folder, terminator",
        ),
        (
            {"dicm": {}},
            "unknown destination kind 'dicm'; did you mean dicom? The known kinds are "
            "dicom, folder, terminator",
        ),
        ("newpacs", "expected a mapping with one of dicom, folder, terminator"),
        ({"folder": "/srv/out"}, "folder: expected a mapping of options"),
    ],
)
def test_bad_destination_entry(tmp_path: Path, entry: Any, message: str) -> None:
    data = minimal()
    data["destinations"]["other"] = entry

    with pytest.raises(
        ConfigError, match=r"destinations\.other: " + re.escape(message)
    ):
        load(tmp_path, data)


def test_destination_names_must_be_simple(tmp_path: Path) -> None:
    data = minimal()
    data["destinations"]["new pacs"] = {"terminator": {}}

    with pytest.raises(
        ConfigError, match=r"destinations\['new pacs'\]: name 'new pacs' is not simple"
    ):
        load(tmp_path, data)


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("A" * 17, "has 17 characters; DICOM allows at most 16"),
        ("NEW\\PACS", "contains a backslash"),
        ("NEW\tPACS", "contains a control character"),
        ("    ", "is empty or all spaces"),
        ("", "is empty or all spaces"),
        ("NEUPÄCS", "must be ASCII"),
    ],
)
def test_bad_ae_titles(tmp_path: Path, title: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"dicom\.ae_title: AE title .*" + message):
        load(tmp_path, with_dicom(ae_title=title))


def test_ae_title_keeps_sixteen_characters_and_drops_padding(tmp_path: Path) -> None:
    network = load(
        tmp_path, with_dicom(ae_title=" SIXTEEN_CHARS_X ", calling_ae_title="ME")
    )

    destination = network.destinations["newpacs"]
    assert isinstance(destination, DicomDestination)
    assert (destination.ae_title, destination.calling_ae_title) == (
        "SIXTEEN_CHARS_X",
        "ME",
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"port": 0}, r"port: expected a number greater than or equal to 1; got 0"),
        ({"port": 65536}, r"port: expected a number less than or equal to 65535"),
        ({"associations": 0}, r"associations: expected a number greater than or"),
        ({"max_pdu": 1024}, r"max_pdu: max_pdu 1024 is too small"),
        ({"dimse_timeout": 0}, r"dimse_timeout: expected a number greater than 0"),
        ({"host": ""}, r"host: expected text; got an empty string"),
    ],
)
def test_bad_dicom_options(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=r"destinations\.newpacs\.dicom\." + message):
        load(tmp_path, with_dicom(**options))


# --- URLs and paths -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "cannot read 'not a url' as a database URL"),
        ("postgresql://pacs@db:port/pacs", "cannot read .* as a database URL"),
        ("nosuchdb+driver://db/pacs", "unknown database dialect or driver"),
    ],
)
def test_bad_urls(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(ConfigError, match="tracking: " + message):
        load(tmp_path, minimal(tracking=url))
    legacy = {"url": url, "query": "SELECT 1"}
    with pytest.raises(ConfigError, match=r"legacy_database\.url: " + message):
        load(tmp_path, minimal(legacy_database=legacy))


def test_password_in_url_and_environment(tmp_path: Path) -> None:
    legacy = {
        "url": "mssql+pymssql://reader:pw@pacsdb/pacs",
        "password_env": "LEGACY_DB_PASSWORD",
        "query": "SELECT 1",
    }

    with pytest.raises(
        ConfigError, match=r"legacy_database\.url: the URL holds a pass"
    ):
        load(tmp_path, minimal(legacy_database=legacy))


def test_password_env_must_be_a_variable_name(tmp_path: Path) -> None:
    legacy = {"url": "sqlite://", "password_env": "$PASSWORD", "query": "SELECT 1"}

    with pytest.raises(ConfigError, match="not an environment variable name"):
        load(tmp_path, minimal(legacy_database=legacy))


@pytest.mark.parametrize("value", [["a.txt", "b.txt"], 12, ""])
def test_exclude_studies_must_be_a_path(tmp_path: Path, value: Any) -> None:
    with pytest.raises(
        ConfigError, match="exclude_studies: expected a file system path as text"
    ):
        load(tmp_path, minimal(exclude_studies=value))


def test_scan_workers_at_least_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"scan\.workers: expected a number greater"):
        load(tmp_path, minimal(scan={"workers": 0}))


# --- cross-checks ---------------------------------------------------------------------


def test_route_to_unknown_destination(tmp_path: Path) -> None:
    expected = (
        "routes[0].to: unknown destination 'newpac'; did you mean newpacs? "
        "The destinations are newpacs"
    )

    with pytest.raises(ConfigError, match=re.escape(expected)):
        load(tmp_path, minimal(routes=[{"name": "all", "to": "newpac"}]))


def test_sinbin_names_unknown_destination(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sinbin: unknown destination 'quarantine'"):
        load(tmp_path, minimal(sinbin="quarantine"))


def test_duplicate_route_names(tmp_path: Path) -> None:
    routes = [
        {"name": "ct", "match": {"modality": "CT"}, "to": "newpacs"},
        {"name": "ct", "to": "newpacs"},
    ]

    with pytest.raises(
        ConfigError,
        match=re.escape("routes[1].name: duplicate route name 'ct' (also routes[0])"),
    ):
        load(tmp_path, minimal(routes=routes))


def test_duplicate_source_names(tmp_path: Path) -> None:
    sources = [{"name": "store01", "path": "/a"}, {"name": "store01", "path": "/b"}]

    with pytest.raises(
        ConfigError,
        match=re.escape(
            "sources[1].name: duplicate source name 'store01' (also sources[0])"
        ),
    ):
        load(tmp_path, minimal(sources=sources))


def test_no_sources(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sources: no sources; list at least one"):
        load(tmp_path, minimal(sources=[]))


def test_missing_sources(tmp_path: Path) -> None:
    data = minimal()
    del data["sources"]

    with pytest.raises(ConfigError, match="sources: required key missing"):
        load(tmp_path, data)


def test_no_routes(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="routes: no routes; add at least one"):
        load(tmp_path, minimal(routes=[]))


def test_no_destinations(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="destinations: no destinations"):
        load(tmp_path, minimal(destinations={}))


def test_last_route_must_be_a_catch_all(tmp_path: Path) -> None:
    routes = [{"name": "ct", "match": {"modality": "CT"}, "to": "newpacs"}]

    with pytest.raises(
        ConfigError, match=r"routes\[0\]: .*add a last route without `match`"
    ):
        load(tmp_path, minimal(routes=routes))


def test_catch_all_must_be_last(tmp_path: Path) -> None:
    routes = [
        {"name": "everything", "to": "newpacs"},
        {"name": "ct", "match": {"modality": "CT"}, "to": "newpacs"},
        {"name": "rest", "to": "newpacs"},
    ]

    with pytest.raises(
        ConfigError,
        match=re.escape(
            "routes[0]: route 'everything' has no match, so it takes every instance "
            "and the routes after it ('ct', 'rest') can never match"
        ),
    ):
        load(tmp_path, minimal(routes=routes))


def test_the_event_log_sits_beside_the_network_file_unless_told(
    tmp_path: Path,
) -> None:
    default = load(tmp_path, minimal()).events
    elsewhere = load(tmp_path, minimal(events={"path": "logs/events.jsonl"})).events
    none = load(tmp_path, minimal(events={"path": None})).events

    assert default.path == tmp_path / "events.jsonl"
    assert (default.max_bytes, default.backups) == (100 * 2**20, 10)
    assert elsewhere.path == tmp_path / "logs" / "events.jsonl"
    assert none.path is None
    with pytest.raises(ConfigError, match=r"events\.max_bytes: expected a number"):
        load(tmp_path, minimal(events={"max_bytes": 10}))
