"""The network file: one YAML file that describes a migration.

:func:`load_network` reads the file, validates every key and returns a frozen
:class:`Network`. Every problem found raises one :class:`~pacsflow.errors.ConfigError`
whose message has one line per problem, each naming the file, the key path and what
was expected, for example::

    network.yaml: routes[1].match.sop_class[0]: unknown SOP class 'CTImageStorag';
    did you mean CTImageStorage? Write a UID or a pydicom keyword.

(shown here on two lines; the real message keeps each problem on one line).

Loading reads the network file and nothing else: it connects to no database and does
not look into the storage folders, so a network file can be checked on any machine.
Keys are case-sensitive, unknown keys are errors, and so is a key written twice in one
mapping (plain YAML would silently keep the last one).

Example
-------
.. code-block:: yaml

    tracking: sqlite:///pacsflow.db
    sources:
      - name: store01
        path: /mnt/pacs/store01
      - name: store02
        path: /mnt/pacs/store02
    legacy_database:
      url: mssql+pymssql://reader@pacsdb/pacs
      password_env: LEGACY_DB_PASSWORD
      query: |
        SELECT i.uid AS SOPInstanceUID, s.uid AS StudyInstanceUID,
               p.pid AS PatientID, i.path AS FilePath
        FROM instance i JOIN study s ON ... JOIN patient p ON ...
    exclude_studies: exclusions.txt
    routes:
      - name: no-pixel
        match: {pixel_data: false}
        to: newpacs-nopixel
      - name: unsupported
        match: {sop_class: [RawDataStorage]}
        to: sinbin
      - name: images
        to: newpacs
    destinations:
      newpacs:         {dicom: {host: 10.0.0.5, port: 104, ae_title: NEWPACS}}
      newpacs-nopixel: {dicom: {host: 10.0.0.5, port: 105, ae_title: NEWPACS_NP}}
      sinbin:          {folder: {path: /srv/sinbin}}
      discard:         {terminator: {}}
    sinbin: sinbin
    scan:
      workers: 4

Paths and URLs
--------------
A relative path (a source's ``path``, ``exclude_studies``, a folder destination's
``path``) is taken relative to the directory that holds the network file, not to the
directory pacsflow is started from; ``~`` is expanded. The same holds for the file of an
SQLite URL: ``sqlite:///pacsflow.db`` names ``pacsflow.db`` beside the network file,
while ``sqlite:////var/lib/pacsflow.db`` (four slashes) is absolute, and ``sqlite://``
or ``sqlite:///:memory:`` are in-memory databases. Other URLs are kept as written and
only checked to parse and to name a dialect SQLAlchemy knows.

Top-level keys
--------------
tracking
    SQLAlchemy URL of the tracking database (the ledger), for example
    ``postgresql+psycopg://pacsflow@dbhost/pacsflow``. Default: ``pacsflow.db`` beside
    the network file.
sources
    Required, at least one. The storage folders of the old PACS, each a mapping with
    ``name`` (letters, digits, ``-`` and ``_``; unique) and ``path`` (the folder). The
    folders need not exist when the file is loaded; a scan reports missing ones.
    Optional ``read_mb_per_second`` caps how fast a run reads the folder while sending
    (over all workers, each reading at its share), to spare the old storage.
legacy_database
    Optional. The old PACS's own database, only ever read:

    ``url``
        SQLAlchemy URL, best without the password.
    ``password_env``
        Optional. Name of the environment variable that holds the password; it is read
        when pacsflow connects, not when the file is loaded. Do not also put a password
        in ``url``.
    ``query``
        One SELECT that returns one row per instance (a row per file when the
        database holds several files of one instance), each column named by the
        DICOM keyword of the value it holds: ``SOPInstanceUID`` (required),
        ``StudyInstanceUID``, ``PatientID``, ``PatientName`` ... (the database is
        authoritative for every such column), plus optionally ``FilePath``, the file
        the database holds for the instance: absolute, relative to its source, or
        starting with the source's name. It runs in a read-only transaction;
        anything but a single SELECT is refused.
exclude_studies
    Optional. A text file with one StudyInstanceUID per line (``#`` starts a
    comment); those studies, after reconciliation, are not migrated. The file is
    read when a migration is reconciled, not at load time.
verdicts
    Optional. What becomes of instances that reconciliation puts a verdict on, per
    verdict: ``not_in_database``, ``stale_file``, ``excluded_study`` and
    ``duplicate_conflict``, each ``sinbin`` (the default: put aside with the verdict
    as the reason), ``send`` (migrate anyway, header reconciled) or ``skip`` (send
    nowhere; record the verdict, outcome ``skipped``).
routes
    Required, at least one. Decides where each instance goes: the routes are tried in
    order and the first whose ``match`` fits wins. Each route has ``name`` (unique),
    ``to`` (a destination's name) and, except for the last route, ``match``. The last
    route must have no ``match``, so that every instance goes somewhere, and only the
    last route may lack one.
destinations
    Required. A mapping from destination name (letters, digits, ``-`` and ``_``) to one
    destination, itself a mapping with exactly one key that gives its kind:
    ``dicom``, ``folder`` or ``terminator`` (see below).
sinbin
    Optional. Name of the destination that receives every instance the migration
    sin-bins (for example, headers that cannot be reconciled). Without it, sin-binned
    instances are only recorded in the ledger with their reason.
scan
    Optional. ``workers``: number of processes that read headers while scanning, at
    least 1. Default: one per CPU core.
run
    Optional. How ``pacsflow run`` sends:

    ``order``
        ``newest_first`` (default), ``oldest_first`` (by Study Date) or ``as_found``.
    ``workers``
        Processes that read and send, at least 1. Default: one per CPU core. A
        destination never has more associations open than its ``associations``.
    ``attempts``
        Tries per instance for answers worth retrying (0xA7xx out of resources, a
        transient association rejection, an association lost mid-send). Default 3.
    ``backoff``
        Seconds before the first retry, doubled for each further one. Default 1.
    ``batch``
        Instances handed to a worker at once, in whole studies. Default 500.

events
    Optional. The event log, one JSON line per instance transition (no patient
    data): ``path`` (default ``events.jsonl`` beside the network file; ``null`` for
    none), ``max_bytes`` (rotate before the file grows past this, default 100 MiB, at
    least 4096) and ``backups`` (rotated files kept, default 10).

Match
-----
A ``match`` is a mapping of conditions; an instance matches when it meets all of them.
A list accepts any of its values; a single value may be written instead of a list.
Leave ``match`` out for a catch-all route: a ``match`` that is present but empty is an
error.

``sop_class`` / ``not_sop_class``
    SOP Class UIDs the instance has / must not have, written as UIDs
    (``1.2.840.10008.5.1.4.1.1.2``) or pydicom keywords (``CTImageStorage``).
``transfer_syntax`` / ``not_transfer_syntax``
    Transfer syntaxes of the stored file, as UIDs or pydicom keywords
    (``ExplicitVRLittleEndian``, ``JPEG2000Lossless``).
``pixel_data``
    ``true``: the instance has (7FE0,0010) Pixel Data (or float / double float pixel
    data); ``false``: it has none (reports, key objects, structured reports ...).
``modality`` / ``not_modality``
    Values of (0008,0060) Modality, such as ``CT`` or ``[SR, KO, PR]``.
``tags`` / ``not_tags``
    A mapping from DICOM keyword (``InstitutionName``, ``StationName``) to the accepted
    values. Values are compared as text: numbers are turned into text as YAML read
    them (quote decimals to keep them exactly as written), and dates must be quoted as
    DICOM writes them (``StudyDate: '20240131'``). Quote ``yes``, ``no``, ``on`` and
    ``off``, which YAML reads as booleans.

Destinations
------------
``dicom``
    A DICOM storage SCP reached by C-STORE:

    ``host``, ``port`` (1-65535), ``ae_title``
        The peer's address and AE title (1-16 characters, no backslash, no control
        characters, not all spaces).
    ``calling_ae_title``
        pacsflow's own AE title. Default ``PACSFLOW``.
    ``associations``
        Associations kept open in parallel to this peer, at least 1. Default 1.
    ``max_pdu``
        Largest PDU pacsflow accepts, in bytes: 0 for no limit (the default) or at
        least 4096.
    ``acse_timeout``, ``dimse_timeout``, ``network_timeout``
        Seconds to wait for association set-up (default 30), for a DIMSE reply
        (default 60) and on an idle connection (default 60).
    ``query``
        Where ``pacsflow verify`` asks by C-FIND what the destination holds:
        ``{host, port, ae_title}``, each defaulting to the store address's.
    ``tls``
        DICOM over TLS (1.2 or newer): ``{ca, cert, key, verify_hostname}``. ``ca``
        is the PEM file of the certificates that may sign the peer's (default: the
        system's trust store); the peer's certificate is always verified, and must
        name the host unless ``verify_hostname: false``. ``cert`` and ``key``
        (together) are pacsflow's own certificate and key, presented to peers that
        ask, and served on the storage commitment port.
    ``throttle``
        Rate limits that spare the new PACS and the network:
        ``{images_per_second, mb_per_second, windows}``, each limit over all of the
        destination's associations (each paces itself at its share). ``windows`` is a
        list of ``{days, start, end, images_per_second, mb_per_second}``: on the listed
        days (``mon`` ... ``sun``, default all) between the local times ``start`` and
        ``end`` (``"HH:MM"``; an end before the start runs past midnight, an end equal
        to the start makes a 24-hour window) the window's limits replace the
        throttle's; the first window that holds wins. ``slow_after``: seconds a
        C-STORE may take before pacsflow backs off as it does on 0xA7xx (a growing
        pause after each answer, from 50 ms up to 5 s, halved again while the
        destination keeps up).
    ``storage_commitment``
        Optional. After its C-FIND check, ``pacsflow verify`` asks the destination
        (at its store address) by Storage Commitment Push Model N-ACTION to take
        responsibility for every instance sent to it, and listens for its
        N-EVENT-REPORTs on a port of its own. The destination must know pacsflow's
        AE title with this host and port (in Orthanc: ``DicomModalities``). Each
        instance is recorded ``committed`` or ``failed`` (with the failure reason);
        one with no report in time keeps no answer. Options:

        ``port``
            Required. pacsflow's own TCP port (1-65535) for the reports.
        ``ae_title``
            The AE title pacsflow answers as on that port; an association calling
            another is refused. Default the destination's ``calling_ae_title``.
        ``bind``
            The local address to listen on. Default ``0.0.0.0`` (every interface).
        ``timeout``
            Seconds to wait, after the last request, for every report. Default 300.
        ``batch``
            Most instances referred to by one N-ACTION request (one transaction),
            at least 1. Default 1000.
``folder``
    ``path``: a folder that receives the instances as DICOM files. ``throttle``:
    rate limits as for ``dicom`` (``images_per_second``, ``mb_per_second``,
    ``windows``), over all of the run's workers (each writes at its share);
    ``slow_after`` is refused, a folder having no answers to time.
``terminator``
    No options (write ``{terminator: {}}``): instances routed there are dropped, and
    the ledger records where they went.
"""

from __future__ import annotations

import os

from pacsflow.config.destinations import (
    Destination,
    DicomDestination,
    FolderDestination,
    StorageCommitment,
    TerminatorDestination,
)
from pacsflow.config.loading import _load_network
from pacsflow.config.network import Network
from pacsflow.config.sections import (
    LegacyDatabase,
    Match,
    Route,
    RunOptions,
    ScanOptions,
    Source,
    Verdicts,
)


def load_network(path: str | os.PathLike[str]) -> Network:
    """Read and validate a network file.

    Parameters
    ----------
    path : str or os.PathLike
        The YAML network file.

    Returns
    -------
    Network
        The validated, immutable description of the migration.

    Raises
    ------
    ConfigError
        If the file cannot be read, is not valid YAML, or does not validate; the
        message lists every problem found, one per line.
    """
    return _load_network(path)


__all__ = [
    "Destination",
    "DicomDestination",
    "FolderDestination",
    "LegacyDatabase",
    "Match",
    "Network",
    "Route",
    "RunOptions",
    "ScanOptions",
    "Source",
    "StorageCommitment",
    "TerminatorDestination",
    "Verdicts",
    "load_network",
]
