"""Reconciliation with the old PACS's database: the database is right, headers drift.

The steps, in the order a run takes them:

``snapshot``  one bulk, read-only read of the legacy database into the ledger
``verdicts``  set-wise over the pending instances: which copy is current, orphans,
              stale files, conflicting duplicates, excluded studies, header changes
``values``    DICOM text from header bytes and from SQL values, and how they compare
``fix``       in the worker, at send time: the header patched, pixel data untouched
``report``    the differences as CSV, for the department to review before sending
"""
