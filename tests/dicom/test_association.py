"""The sender against real peers on loopback: storescp, Orthanc and scripted peers.

What goes out must arrive byte for byte in its own transfer syntax; every status
comes back as a value; every way an association can fail maps to the error the run
acts on, with a message that names the destination and says what to do.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
)
from pynetdicom.pdu import A_RELEASE_RQ

from pacsflow.dicom import (
    AssociationLostError,
    AssociationRejectedError,
    NoContextError,
    Peer,
    PeerUnreachableError,
    StatusCategory,
    StoreAssociation,
    dataset_bytes,
)
from pacsflow.sample import generate_sample
from tests.dicom.scripted_peer import (
    Answer,
    Script,
    raw_peer,
    scripted_peer,
    store_response,
)
from tests.dicomfiles import ct_dataset, sr_dataset, write
from tests.peers import Peer as RunningPeer
from tests.peers import free_port, orthanc, orthanc_get, storescp

pytestmark = pytest.mark.network

J2K_CT = (CTImageStorage, JPEG2000Lossless)
EXPLICIT_CT = (CTImageStorage, ExplicitVRLittleEndian)


@dataclass(frozen=True)
class Instance:
    """A file to send, read as the sender reads it."""

    path: Path
    sop_class: str
    sop_instance: str
    transfer_syntax: str
    dataset: bytes


def instance(path: Path) -> Instance:
    """Read a DICOM file into an Instance."""
    meta = dcmread(path, stop_before_pixels=True).file_meta
    syntax, data = dataset_bytes(str(path))
    return Instance(
        path,
        str(meta.MediaStorageSOPClassUID),
        str(meta.MediaStorageSOPInstanceUID),
        syntax,
        data,
    )


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> list[Instance]:
    """The sample archive's readable files, one per SOP instance, and small
    CT images and SRs in explicit and implicit VR."""
    root = tmp_path_factory.mktemp("archive")
    manifest = generate_sample(root / "sample", studies=3, seed=1)
    paths = {}
    for entry in manifest.files:
        if entry.readable and entry.sop_instance_uid not in paths:
            paths[entry.sop_instance_uid] = root / "sample" / entry.source / entry.path
    made = [
        write(ct_dataset(), root / "ct_explicit.dcm", ExplicitVRLittleEndian),
        write(ct_dataset(), root / "ct_implicit.dcm", ImplicitVRLittleEndian),
        write(sr_dataset(), root / "sr_implicit.dcm", ImplicitVRLittleEndian),
    ]
    return [instance(path) for path in [*paths.values(), *made]]


def pairs(instances: list[Instance]) -> set[tuple[str, str]]:
    """The presentation contexts needed to send ``instances``."""
    return {(item.sop_class, item.transfer_syntax) for item in instances}


def send_all(peer: Peer, instances: list[Instance]) -> list[int]:
    """Send every instance over one association; return the statuses."""
    with StoreAssociation(peer, pairs(instances)) as association:
        return [
            association.store(
                item.sop_class, item.sop_instance, item.transfer_syntax, item.dataset
            ).status
            for item in instances
        ]


def test_archive_covers_the_syntaxes(archive: list[Instance]) -> None:
    syntaxes = {item.transfer_syntax for item in archive}
    assert {
        JPEG2000Lossless,
        ExplicitVRLittleEndian,
        ImplicitVRLittleEndian,
    } <= syntaxes
    assert max(len(item.dataset) for item in archive) > 16384  # needs fragments


# Real peers


def test_storescp_receives_every_byte(tmp_path: Path, archive: list[Instance]) -> None:
    folder = tmp_path / "received"
    with storescp(folder) as running:
        peer = Peer(running.host, running.port, running.ae_title)
        statuses = send_all(peer, archive)

    assert statuses == [0x0000] * len(archive)
    received = {dcmread(path).SOPInstanceUID: path for path in folder.iterdir()}
    assert len(received) == len(archive)
    for item in archive:
        syntax, data = dataset_bytes(str(received[item.sop_instance]))
        assert syntax == item.transfer_syntax
        assert data == item.dataset
        sent, kept = dcmread(item.path), dcmread(received[item.sop_instance])
        assert kept.file_meta.TransferSyntaxUID == syntax
        assert kept.get("PixelData") == sent.get("PixelData")


def test_storescp_echo(tmp_path: Path) -> None:
    with storescp(tmp_path / "received") as running:
        peer = Peer(running.host, running.port, running.ae_title)
        with StoreAssociation(peer, [J2K_CT]) as association:
            assert association.accepts(*J2K_CT)
            assert association.echo() == 0x0000


def orthanc_file(running: RunningPeer, instance_id: str) -> bytes:
    """The DICOM file Orthanc stored for an instance."""
    url = f"http://127.0.0.1:{running.http_port}/instances/{instance_id}/file"
    with urllib.request.urlopen(url, timeout=10) as response:
        data: bytes = response.read()
        return data


def test_orthanc_keeps_pixel_data_and_syntax(
    tmp_path: Path, archive: list[Instance]
) -> None:
    # Orthanc rewrites some header elements, so only what it must keep is compared.
    with orthanc(tmp_path / "orthanc") as running:
        peer = Peer(running.host, running.port, running.ae_title)
        statuses = send_all(peer, archive)
        ids = orthanc_get(running, "/instances")
        assert isinstance(ids, list)
        stored = {}
        for number, instance_id in enumerate(ids):
            path = tmp_path / f"{number}.dcm"
            path.write_bytes(orthanc_file(running, instance_id))
            stored[dcmread(path, stop_before_pixels=True).SOPInstanceUID] = path

    assert statuses == [0x0000] * len(archive)
    assert len(ids) == len(archive)
    for item in archive:
        syntax, _ = dataset_bytes(str(stored[item.sop_instance]))
        assert syntax == item.transfer_syntax
        kept = dcmread(stored[item.sop_instance])
        assert kept.get("PixelData") == dcmread(item.path).get("PixelData")


TEMPLATE_UID = "1.2.826.0.1.3680043.9.9999.7.100000000"


def numbered(template: bytes, number: int) -> tuple[str, bytes]:
    """A copy of the template data set with its own SOP Instance UID."""
    uid = f"{TEMPLATE_UID[:-9]}{100_000_000 + number}"
    return uid, template.replace(TEMPLATE_UID.encode(), uid.encode())


@pytest.mark.slow
def test_ten_thousand_stores_on_one_association(tmp_path: Path) -> None:
    path = write(ct_dataset(uid=TEMPLATE_UID), tmp_path / "template.dcm")
    syntax, template = dataset_bytes(str(path))
    folder = tmp_path / "received"
    successes = 0

    with storescp(folder) as running:
        peer = Peer(running.host, running.port, running.ae_title, dimse_timeout=10)
        with StoreAssociation(peer, [(CTImageStorage, syntax)]) as association:
            for number in range(10_000):
                uid, data = numbered(template, number)
                status = association.store(CTImageStorage, uid, syntax, data)
                successes += status.status == 0x0000

    assert successes == 10_000
    assert sum(1 for _ in folder.iterdir()) == 10_000


# Statuses, as a pynetdicom SCP sends them


@pytest.mark.parametrize(
    ("status", "comment", "offending", "category"),
    [
        (0x0000, None, None, StatusCategory.SUCCESS),
        (0xB000, "PatientName coerced", [0x00100010], StatusCategory.WARNING),
        (0xB006, "private elements dropped", [0x00091001], StatusCategory.WARNING),
        (0xB007, "not a CT", [0x00080016], StatusCategory.WARNING),
        (0xA700, "disk full", None, StatusCategory.RETRY),
        (0xA900, "wrong IOD", [0x00280010, 0x00280011], StatusCategory.FAILURE),
        (0xC000, "cannot parse", [0x7FE00010], StatusCategory.FAILURE),
        (0x0122, "no CT here", None, StatusCategory.FAILURE),
        (0x0124, "not allowed", None, StatusCategory.REFUSED),
        (0xFF00, "made up", None, StatusCategory.FAILURE),
    ],
)
def test_statuses_come_back_as_values(
    tmp_path: Path,
    status: int,
    comment: str | None,
    offending: list[int] | None,
    category: StatusCategory,
) -> None:
    item = instance(write(ct_dataset(), tmp_path / "ct.dcm"))
    script = Script([EXPLICIT_CT], status, comment, offending)

    with (
        scripted_peer(script) as running,
        StoreAssociation(running.send_to(), [EXPLICIT_CT]) as association,
    ):
        answer = association.store(
            CTImageStorage, item.sop_instance, item.transfer_syntax, item.dataset
        )
        assert association.echo() == 0x0000  # still usable

    assert answer.status == status
    assert answer.error_comment == comment
    expected = None
    if offending:
        expected = ", ".join(
            f"({tag >> 16:04X},{tag & 0xFFFF:04X})" for tag in offending
        )
    assert answer.offending_element == expected
    assert answer.category() is category
    [received] = running.received
    assert received.dataset == item.dataset
    assert received.transfer_syntax == ExplicitVRLittleEndian
    assert running.endings == ["released"]


@pytest.mark.parametrize("max_pdu", [16382, 4096, 0])
def test_large_data_set_arrives_whole_within_the_peer_max_pdu(
    max_pdu: int,
) -> None:
    data = bytes(range(256)) * 12_289  # 3 MiB and a bit, never a multiple of a PDU
    uid = "1.2.826.0.1.3680043.9.9999.8.1"

    with (
        scripted_peer(Script([EXPLICIT_CT], max_pdu=max_pdu)) as running,
        StoreAssociation(running.send_to(), [EXPLICIT_CT]) as association,
    ):
        answer = association.store(
            CTImageStorage, uid, ExplicitVRLittleEndian, memoryview(data)
        )

    assert answer.status == 0x0000
    assert [item.dataset for item in running.received] == [data]


def test_message_ids_count_up_and_wrap(tmp_path: Path) -> None:
    item = instance(write(ct_dataset(), tmp_path / "ct.dcm"))
    store = (CTImageStorage, item.sop_instance, item.transfer_syntax, item.dataset)

    with (
        scripted_peer(Script([EXPLICIT_CT])) as running,
        StoreAssociation(running.send_to(), [EXPLICIT_CT]) as association,
    ):
        association.store(*store)
        association.store(*store)
        association.store(*store, message_id=777)
        association._next_id = 0xFFFF  # skip ahead: 65,535 stores take too long
        association.store(*store)
        association.store(*store)

    assert [item.message_id for item in running.received] == [1, 2, 777, 0xFFFF, 1]


# Negotiation failures


def test_nothing_listening_is_unreachable() -> None:
    peer = Peer("127.0.0.1", free_port(), "NEWPACS", acse_timeout=5)

    with pytest.raises(
        PeerUnreachableError,
        match=rf"cannot connect to NEWPACS@127\.0\.0\.1:{peer.port}: the connection "
        r"was refused: nothing listens at that port; check the host and port",
    ):
        StoreAssociation(peer, [J2K_CT]).open()


def test_wrong_called_ae_is_rejected_permanently() -> None:
    with scripted_peer(Script([J2K_CT], require_called_aet=True)) as running:
        peer = Peer(running.host, running.port, "NEWPACS", calling_ae="MIGRATE")
        with pytest.raises(
            AssociationRejectedError,
            match=r"NEWPACS@127\.0\.0\.1:\d+ rejected the association: called AE "
            r"title not recognised \(result 1, source 1, reason 7\); the rejection "
            r"is permanent: check that the destination knows pacsflow as calling AE "
            r"title 'MIGRATE'",
        ) as caught:
            StoreAssociation(peer, [J2K_CT]).open()

    assert (caught.value.result, caught.value.source, caught.value.reason) == (1, 1, 7)
    assert not caught.value.transient


def test_busy_peer_rejects_transiently() -> None:
    with (
        scripted_peer(Script([J2K_CT], max_associations=1)) as running,
        StoreAssociation(running.send_to(), [J2K_CT]),
        pytest.raises(
            AssociationRejectedError,
            match=r"local limit exceeded \(result 2, source 3, reason 2\); the "
            "rejection is transient: try again later",
        ) as caught,
    ):
        StoreAssociation(running.send_to(), [J2K_CT]).open()

    assert caught.value.transient


def test_no_context_names_the_class_and_syntax(tmp_path: Path) -> None:
    item = instance(write(ct_dataset(), tmp_path / "ct.dcm"))

    with (
        scripted_peer(Script([EXPLICIT_CT])) as running,
        StoreAssociation(running.send_to(), [J2K_CT, EXPLICIT_CT]) as association,
    ):
        assert not association.accepts(*J2K_CT)
        assert association.accepts(*EXPLICIT_CT)
        with pytest.raises(
            NoContextError,
            match=r"SCRIPTED@127\.0\.0\.1:\d+: the destination accepts no "
            r"presentation context for CT Image Storage "
            r"\(1\.2\.840\.10008\.5\.1\.4\.1\.1\.2\) in JPEG 2000 Image "
            r"Compression \(Lossless Only\) \(1\.2\.840\.10008\.1\.2\.4\.90\); "
            r"no transcoding is done: configure the destination to accept it",
        ):
            association.store(
                CTImageStorage, item.sop_instance, JPEG2000Lossless, item.dataset
            )
        answer = association.store(
            CTImageStorage, item.sop_instance, item.transfer_syntax, item.dataset
        )

    assert answer.status == 0x0000
    assert running.endings == ["released"]


def test_unproposed_pair_says_so() -> None:
    with (
        scripted_peer(Script([EXPLICIT_CT])) as running,
        StoreAssociation(running.send_to(), [EXPLICIT_CT]) as association,
        pytest.raises(
            NoContextError,
            match="it was not among the contexts this association proposed",
        ),
    ):
        association.store(CTImageStorage, "1.2.3", JPEG2000Lossless, b"\0\0")


def test_at_most_128_contexts() -> None:
    peer = Peer("127.0.0.1", 104, "NEWPACS")
    many = [
        (f"1.2.826.0.1.3680043.9.9999.9.{n}", ExplicitVRLittleEndian)
        for n in range(1, 129)
    ]

    StoreAssociation(peer, many[:127])  # with Verification: 128
    with pytest.raises(ValueError, match=r"129 presentation contexts .* at most 128"):
        StoreAssociation(peer, many)


# Losing the association mid-store


def test_abort_mid_store_loses_the_association(tmp_path: Path) -> None:
    item = instance(write(ct_dataset(), tmp_path / "ct.dcm"))

    with scripted_peer(Script([EXPLICIT_CT], abort=True)) as running:
        association = StoreAssociation(running.send_to(), [EXPLICIT_CT])
        association.open()
        with pytest.raises(
            AssociationLostError,
            match=rf"SCRIPTED@127\.0\.0\.1:\d+ aborted the association \(A-ABORT "
            rf"source \d, reason \d\) during the C-STORE of SOP Instance "
            rf"{item.sop_instance} \(message 1\); its outcome is unknown: send it "
            "again on a new association",
        ):
            association.store(
                CTImageStorage, item.sop_instance, item.transfer_syntax, item.dataset
            )
        with pytest.raises(AssociationLostError, match="is closed"):
            association.echo()
        association.abort()  # never raises
        association.release()


def test_stalled_peer_times_out(tmp_path: Path) -> None:
    item = instance(write(ct_dataset(), tmp_path / "ct.dcm"))

    with scripted_peer(Script([EXPLICIT_CT], stall=True)) as running:
        association = StoreAssociation(running.send_to(dimse_timeout=1), [EXPLICIT_CT])
        association.open()
        with pytest.raises(
            AssociationLostError,
            match=r"did not answer within 1 s during the C-STORE of SOP Instance",
        ):
            association.store(
                CTImageStorage, item.sop_instance, item.transfer_syntax, item.dataset
            )


def test_exception_in_with_block_aborts(tmp_path: Path) -> None:
    with (
        scripted_peer(Script([EXPLICIT_CT])) as running,
        pytest.raises(KeyError),
        StoreAssociation(running.send_to(), [EXPLICIT_CT]) as association,
    ):
        association.echo()
        raise KeyError("the caller failed")

    assert running.endings == ["aborted"]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (
            lambda request: store_response(request, message_id=99),
            r"answered message 1 with a C-STORE-RSP for message 99",
        ),
        (
            lambda request: store_response(request, sop_instance="1.2.3.999"),
            r"answered the C-STORE of SOP Instance 1\.2\.826\.0\.1\.3680043\.9\.9999"
            r"\.8\.2 with a response for SOP Instance 1\.2\.3\.999",
        ),
        (
            lambda request: [A_RELEASE_RQ().encode()],
            r"sent an unexpected A-RELEASE-RQ PDU during the C-STORE",
        ),
        (
            lambda request: [b"\x09\x00\x00\x00\x00\x00"],
            r"sent a PDU of unknown type 0x09",
        ),
        (
            lambda request: [b"\x04\x00\x40\x00\x00\x00"],
            r"sent a P-DATA-TF PDU of 1073741824 bytes, over our limit of 81920 bytes",
        ),
    ],
)
def test_protocol_faults_lose_the_association(answer: Answer, reason: str) -> None:
    with raw_peer(answer) as running:
        association = StoreAssociation(running.send_to(max_pdu=16384), [EXPLICIT_CT])
        association.open()
        with pytest.raises(AssociationLostError, match=reason):
            association.store(
                CTImageStorage,
                "1.2.826.0.1.3680043.9.9999.8.2",
                ExplicitVRLittleEndian,
                b"\x08\x00\x60\x00CS\x02\x00CT",
            )
