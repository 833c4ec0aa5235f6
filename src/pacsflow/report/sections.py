"""The report's charts and tables, one function per section of the page.

Each section is a card with a heading, a sentence on what it shows, and an SVG
chart (:mod:`pacsflow.report.svg`) or a table. Sections that have nothing to show
say so rather than disappear, so the page always has the same shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from html import escape

from pydicom.uid import UID

from pacsflow.report.data import ReportData, Tally
from pacsflow.report.style import (
    OUTCOME_COLOURS,
    OUTCOME_LABELS,
    SERIES_COLOURS,
    UNREADABLE,
    VERIFICATION_COLOURS,
)
from pacsflow.report.svg import Bar, Segment, hbars, stacked_hbars
from pacsflow.report.timechart import Series, time_chart
from pacsflow.report.words import duration, zone

REASONS = {
    "not_in_database": "not in the legacy database",
    "stale_file": "stale copy (database points elsewhere)",
    "duplicate_conflict": "UID twice, different content",
    "excluded_study": "study on the exclusion list",
}
"""Reconciliation verdicts as people read them."""

_UNIT_WORDS = {"s": "second", "min": "minute", "h": "hour", "day": "day"}


def sections(data: ReportData) -> list[str]:
    """Every section below the headline, in page order."""
    return [
        _throughput(data),
        _pair(_outcomes(data), _verification(data)),
        _pair(_reasons(data, "sinbinned"), _reasons(data, "skipped")),
        _pair(_failures(data), _unreadable(data)),
        _sources(data),
        _destinations(data),
        _matrix(data),
        _reconciliation(data),
    ]


def _throughput(data: ReportData) -> str:
    """Images delivered per interval, one line per destination."""
    title = "Deliveries over time"
    throughput = data.throughput
    if throughput is None:
        return _card(title, _none("Nothing has been delivered yet."))
    colours = _series_colours(data.destinations, list(throughput.counts))
    series = [
        Series(name, colours[name], throughput.rates(name))
        for name in throughput.counts
    ]
    unit = throughput.unit.name
    chart = time_chart(
        series, start=throughput.start, step=throughput.step, unit=f"images/{unit}"
    )
    note = (
        f"Images stored per {_UNIT_WORDS[unit]}, in {duration(throughput.step)} "
        f"intervals of local time ({zone(throughput.start)}), per destination: "
        f"{throughput.total():,} deliveries in all. Failed attempts are not counted."
    )
    return _card(title, chart, note)


def _series_colours(destinations: list[Tally], names: list[str]) -> dict[str, str]:
    """Amber for a sin bin (it only ever receives sin-binned instances), else in
    turn."""
    bins = {
        t.name
        for t in destinations
        if t.outcomes.get("sinbinned", 0) and not t.outcomes.get("sent", 0)
    }
    turn: Iterator[str] = iter(SERIES_COLOURS * (len(names) // len(SERIES_COLOURS) + 1))
    return {
        name: OUTCOME_COLOURS["sinbinned"] if name in bins else next(turn)
        for name in names
    }


def _outcomes(data: ReportData) -> str:
    """Instances per outcome."""
    outcomes = data.status.outcomes
    bars = [
        Bar(OUTCOME_LABELS[k], outcomes.get(k, 0), colour)
        for k, colour in OUTCOME_COLOURS.items()
    ]
    note = f"Where each of the {data.status.instances:,} instances stands."
    return _card("Outcomes", hbars(bars, total=data.status.instances), note)


def _verification(data: ReportData) -> str:
    """What the destinations said of the instances sent to them."""
    counts = data.status.verification
    sent = data.status.outcomes.get("sent", 0)
    note = (
        f"What the destinations hold of the {sent:,} instances sent, as "
        "'pacsflow verify' last found. A terminator holds nothing to ask."
    )
    if not sent:
        return _card("Verification", _none("Nothing has been sent yet."), note)
    bars = [
        Bar("not checked" if k == "unchecked" else k, counts.get(k, 0), colour)
        for k, colour in VERIFICATION_COLOURS.items()
    ]
    return _card("Verification", hbars(bars, total=sent), note)


def _reasons(data: ReportData, outcome: str) -> str:
    """Why instances were sin-binned, or skipped."""
    if outcome == "sinbinned":
        counts, title = data.status.sinbin_reasons, "Why instances were sin-binned"
        note = "A route to the sin bin, or a verdict of reconciliation."
    else:
        counts, title = data.status.skipped_reasons, "Why instances were skipped"
        note = "A verdict of reconciliation whose action is to skip: sent nowhere."
    total = data.status.outcomes.get(outcome, 0)
    if not counts:
        return _card(title, _none(f"No instance is {OUTCOME_LABELS[outcome].lower()}."))
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    colour = OUTCOME_COLOURS[outcome]
    bars = [Bar(_reason(reason), count, colour) for reason, count in ordered]
    return _card(title, hbars(bars, total=total), note)


def _reason(reason: str) -> str:
    """A sin-bin or skip reason as people read it."""
    if reason.startswith("routed:"):
        return f"route “{reason.removeprefix('routed:')}”"
    return REASONS.get(reason, reason)


def _failures(data: ReportData) -> str:
    """Failed instances by the DICOM status of the last answer."""
    title = "Why instances failed"
    if not data.failures:
        return _card(title, _none("No instance failed."))
    colour = OUTCOME_COLOURS["failed"]
    bars = [Bar(status, count, colour) for status, count in data.failures.items()]
    note = (
        "By the destination's last DICOM status. 'pacsflow run --retry-failed' "
        "takes them again."
    )
    total = data.status.outcomes.get("failed", 0)
    return _card(title, hbars(bars, total=total), note)


def _unreadable(data: ReportData) -> str:
    """Unreadable files by kind of reason."""
    title = "Unreadable files"
    if not data.unreadable_reasons:
        return _card(title, _none("Every file found is readable DICOM."))
    bars = [Bar(k, n, UNREADABLE) for k, n in data.unreadable_reasons.items()]
    note = (
        "Files found that are not readable DICOM, by reason; unreadable.csv lists them."
    )
    return _card(title, hbars(bars, total=data.status.unreadable), note)


def _sources(data: ReportData) -> str:
    """One stacked bar per source: its instances by outcome and unreadable files."""
    segments = [Segment(k, OUTCOME_LABELS[k], c) for k, c in OUTCOME_COLOURS.items()]
    segments.append(Segment("unreadable", "Unreadable files", UNREADABLE))
    rows = [(t.name, {**t.outcomes, "unreadable": t.unreadable}) for t in data.sources]
    note = (
        "Each instance counts in the source folder of its primary file; the "
        "number at the end of a bar is its instances plus unreadable files."
    )
    if not rows:
        return _card("Progress per source", _none("No file has been found yet."))
    return _card("Progress per source", stacked_hbars(rows, segments), note)


def _destinations(data: ReportData) -> str:
    """Each destination: kind, address and instances per outcome."""
    if not data.destinations:
        return _card("Destinations", _none("No instance has been routed yet."))
    keys = ("sent", "sinbinned", "failed")
    head = ["destination", "kind", "address", *(OUTCOME_LABELS[k] for k in keys)]
    rows = [
        [
            escape(t.name),
            escape(t.kind),
            escape(t.address),
            *(_n(t.outcomes.get(k, 0)) for k in keys),
        ]
        for t in data.destinations
    ]
    return _card("Destinations", _table(head, rows, numbers=3))


def _matrix(data: ReportData) -> str:
    """Instances per SOP class and transfer syntax, with and without pixel data."""
    head = ["SOP class", "transfer syntax", "instances", "with pixels", "without"]
    rows = [
        [
            _uid(cell.sop_class),
            _uid(cell.transfer_syntax),
            _n(cell.count),
            _n(cell.pixel_data),
            _n(cell.count - cell.pixel_data),
        ]
        for cell in data.status.matrix
    ]
    if not rows:
        return _card("SOP classes and transfer syntaxes", _none("No instance yet."))
    note = "Every instance by the SOP class and transfer syntax of its primary file."
    table = _table(head, rows, numbers=3)
    return _card("SOP classes and transfer syntaxes", table, note)


def _reconciliation(data: ReportData) -> str:
    """What the legacy database corrected and found, in counts."""
    found = data.status.reconciliation
    snapshot = found.get("snapshot")
    title = "Reconciliation with the legacy database"
    if not snapshot:
        return _card(title, _none("No legacy database has been read."))
    duplicates = data.status.duplicates
    database = [
        ("rows read", snapshot["rows"]),
        ("instances it knows", snapshot["instances"]),
        ("of them missing on disk", found.get("missing_on_disk", 0)),
        ("stale copies left on disk", found.get("stale_files", 0)),
        *(
            (f"UIDs on disk twice, {k.replace('_', ' ')}", n)
            for k, n in duplicates.items()
        ),
    ]
    verdicts = [(REASONS.get(k, k), n) for k, n in found.get("verdicts", {}).items()]
    corrected = [
        ("instances corrected", found.get("instances_changed", 0)),
        *found.get("changes_by_attribute", {}).items(),
    ]
    tables = [
        _facts("Database and disk", database),
        _facts("Verdicts", verdicts or [("none", 0)]),
        _facts("Headers corrected", corrected),
    ]
    note = (
        "Counts only: the values corrected are in the ledger and in "
        "'pacsflow reconcile --report', never in this page."
    )
    return _card(title, f'<div class="cols">{"".join(tables)}</div>', note)


def _facts(heading: str, facts: list[tuple[str, int]]) -> str:
    """A small two-column table of counts under a heading."""
    rows = [[escape(label), _n(count)] for label, count in facts]
    return (
        f"<div><h3>{escape(heading)}</h3>{_table(['', 'count'], rows, numbers=1)}</div>"
    )


def _uid(uid: str | None) -> str:
    """A UID's name with the UID below it, or the UID alone when it has none."""
    if not uid:
        return "unknown"
    name = UID(uid).name
    if name == uid:
        return f'<span class="uid">{escape(uid)}</span>'
    return f'{escape(name)}<span class="uid">{escape(uid)}</span>'


def _table(head: list[str], rows: list[list[str]], *, numbers: int) -> str:
    """A table whose last ``numbers`` columns are right-aligned numbers.

    Cells must be escaped already.
    """
    first = len(head) - numbers

    def cells(values: list[str], tag: str) -> str:
        return "".join(
            f'<{tag} class="num">{v}</{tag}>' if i >= first else f"<{tag}>{v}</{tag}>"
            for i, v in enumerate(values)
        )

    header = cells([escape(h) for h in head], "th")
    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _pair(left: str, right: str) -> str:
    """Two cards side by side on a wide page."""
    return f'<div class="grid2">{left}{right}</div>'


def _card(title: str, body: str, note: str | None = None) -> str:
    """A section: heading, what it shows, and its chart or table."""
    text = f'<p class="note">{escape(note)}</p>' if note else ""
    return f'<section class="card"><h2>{escape(title)}</h2>{text}{body}</section>'


def _none(text: str) -> str:
    """What a section says when it has nothing to show."""
    return f'<p class="none">{escape(text)}</p>'


def _n(count: int) -> str:
    """A count with thousands separators."""
    return f"{count:,}"
