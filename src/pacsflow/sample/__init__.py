"""A generated demo archive of an old PACS, with its legacy database and answer key.

:func:`generate_sample` writes into a directory what a migration meets in a hospital:

``store01/`` ``store02/`` ``store03/``
    Storage folders. Each study's instances are striped over them under
    ``YYYY/MM/DD/<accession or study hash>/<series number>/``; most files are
    ``<n>.dcm``, some eight hex digits with no extension. CT (512×512) and MR
    (256×256) series and CR/DX films in JPEG 2000 lossless, Basic Text SR and Key
    Object Selection documents in implicit and explicit VR little endian, and Raw
    Data objects.
``legacy.db``
    The old PACS's SQLite database (patient, study, series, instance, storage,
    file). It is right where headers drifted: corrected names and IDs, merged
    studies, orphan files it never knew, rows whose file is gone, duplicates,
    a stale copy left by a re-point; and the stores hold junk and cut-off files.
``network.yaml``, ``exclusions.txt``
    A network file tying the stores, the legacy query, routes and destinations
    together, and the list of studies not to migrate.
``manifest.json``
    Everything planted, so tests can check outcomes exactly
    (:class:`SampleManifest`).

All patient data is synthetic. The same seed and study count give the same bytes.
"""

from pacsflow.sample.generate import generate_sample
from pacsflow.sample.legacy import LEGACY_QUERY
from pacsflow.sample.manifest import (
    Expected,
    FileEntry,
    FileRef,
    HeaderDrift,
    MatrixCell,
    MergedInstance,
    SampleManifest,
    StaleFile,
    UnreadableEntry,
    load_manifest,
)

__all__ = [
    "LEGACY_QUERY",
    "Expected",
    "FileEntry",
    "FileRef",
    "HeaderDrift",
    "MatrixCell",
    "MergedInstance",
    "SampleManifest",
    "StaleFile",
    "UnreadableEntry",
    "generate_sample",
    "load_manifest",
]
