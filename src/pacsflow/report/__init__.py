"""``pacsflow report``: a migration's report for the department, from the ledger.

:func:`write_report` writes into one folder

``index.html``
    One self-contained page (inline style sheet, charts as inline SVG, no script and
    no link to anything) that opens offline in any browser and prints: headline
    numbers, the accounting that shows them adding up, deliveries over time per
    destination, outcomes, sin-bin and skip reasons, progress per source, the SOP
    class × transfer syntax matrix and verification.
``instances.csv``
    Every instance's outcome, one row each, streamed.
``unreadable.csv``
    Every file that is not readable DICOM, and why.

The modules keep reading apart from drawing::

    data.py       the numbers, in grouped queries          → ReportData
    timeline.py   deliveries per interval, in the database → Throughput
    svg.py        bars and stacked bars                    → SVG text
    timechart.py  the time chart                           → SVG text
    words.py      numbers, shares and times for people
    style.py      colours and the style sheet
    sections.py   one card per chart or table              → HTML text
    html.py       the page around them                     → HTML text
    csvfiles.py   instances.csv, unreadable.csv            (streamed)
    write.py      write_report: all of the above into a folder

No patient name, patient ID or birth date is read for the report.
"""

from __future__ import annotations

from pacsflow.errors import ReportError
from pacsflow.report.write import ReportFiles, write_report

__all__ = ["ReportError", "ReportFiles", "write_report"]
