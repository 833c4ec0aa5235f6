"""The report page: one self-contained HTML document built from a ReportData.

The document carries its style sheet and its charts (inline SVG) and refers to
nothing outside itself: no script, font, image or link, so it opens offline and
prints as it shows. Every text that comes from the ledger is escaped.

The page reads top to bottom as a meeting would: the title and how far the
migration is, the headline numbers, the accounting that shows them adding up, then
the charts and tables of :mod:`pacsflow.report.sections`.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from pacsflow import __version__
from pacsflow.report.data import Accounting, ReportData
from pacsflow.report.sections import sections
from pacsflow.report.style import (
    CSS,
    OUTCOME_COLOURS,
    OUTCOME_LABELS,
    UNREADABLE,
    VERIFICATION_COLOURS,
)
from pacsflow.report.words import local_time, share, span, zone


def render(data: ReportData) -> str:
    """The whole report as HTML text.

    Parameters
    ----------
    data : ReportData
        The numbers, as :func:`pacsflow.report.data.gather` read them.
    """
    body = "\n".join(
        [
            _header(data),
            _tiles(data),
            _accounting(data),
            *sections(data),
            _footer(),
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(data.title)}: migration report</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n"
        "</body>\n</html>\n"
    )


def _header(data: ReportData) -> str:
    """The title, when and from what, and how far the migration is."""
    facts = [
        f"Migration report generated {local_time(data.generated_at)} "
        f"({zone(data.generated_at)})"
    ]
    if data.network_file:
        facts.append(f"network file {data.network_file}")
    if data.throughput is not None:
        facts.append(f"deliveries {span(data.throughput.first, data.throughput.last)}")
    return (
        f"<header>\n<h1>{escape(data.title)}</h1>\n"
        f'<p class="meta">{escape(" · ".join(facts))}</p>\n'
        f"{_progress(data.status.outcomes, data.status.instances)}\n</header>"
    )


def _progress(outcomes: dict[str, int], total: int) -> str:
    """One bar of every instance by outcome, with its key."""
    done = total - outcomes.get("pending", 0)
    spans = "".join(
        f'<span style="width:{100 * n / total:.3f}%;background:{OUTCOME_COLOURS[k]}"'
        f' title="{OUTCOME_LABELS[k]}: {n:,}"></span>'
        for k in OUTCOME_COLOURS
        if total and (n := outcomes.get(k, 0))
    )
    keys = "".join(
        f'<span><i style="background:{OUTCOME_COLOURS[k]}"></i>'
        f"{OUTCOME_LABELS[k]} {outcomes.get(k, 0):,}</span>"
        for k in OUTCOME_COLOURS
    )
    return (
        f"<p><strong>{share(done, total)}</strong> of {total:,} instances have "
        f"reached an outcome; {outcomes.get('pending', 0):,} are pending.</p>"
        f'<div class="progress">{spans}</div><div class="keys">{keys}</div>'
    )


def _tiles(data: ReportData) -> str:
    """The headline numbers, one tile each."""
    status = data.status
    sent = status.outcomes.get("sent", 0)
    tiles = [
        _tile(
            OUTCOME_LABELS[k],
            status.outcomes.get(k, 0),
            f"{share(status.outcomes.get(k, 0), status.instances)} of all",
            colour,
        )
        for k, colour in OUTCOME_COLOURS.items()
    ]
    unreadable = f"{share(status.unreadable, status.files)} of files"
    tiles.append(_tile("Unreadable", status.unreadable, unreadable, UNREADABLE))
    for key in ("verified", "missing"):
        count = status.verification.get(key, 0)
        colour = VERIFICATION_COLOURS[key]
        tiles.append(
            _tile(key.capitalize(), count, f"{share(count, sent)} of sent", colour)
        )
    return f'<div class="tiles">{"".join(tiles)}</div>'


def _tile(label: str, value: int, sub: str, colour: str) -> str:
    """One headline number with its name and share."""
    return (
        f'<div class="tile" style="--c:{colour}"><div class="k">{escape(label)}</div>'
        f'<div class="n">{value:,}</div><div class="s">{escape(sub)}</div></div>'
    )


def _accounting(data: ReportData) -> str:
    """The sums that tie files, instances, outcomes and verification together."""
    rows = _sums(data.accounting, data.status.outcomes, data.status.verification)
    return (
        '<section class="card"><h2>Accounting</h2>'
        '<p class="note">Every file found and every instance is counted exactly once. '
        "Each number is counted on its own in the ledger; each line is checked here."
        f"</p>{''.join(rows)}</section>"
    )


def _sums(
    a: Accounting, outcomes: dict[str, int], verification: dict[str, int]
) -> list[str]:
    """Files, instances by file, instances by outcome, sent by verification."""
    sent = outcomes.get("sent", 0)
    return [
        _sum(
            ("files found on disk", a.files),
            [
                ("unreadable files", a.unreadable),
                ("instances' primary files", a.primary_copies),
                (
                    f"extra copies of {a.duplicated_uids:,} duplicated UIDs",
                    a.extra_copies,
                ),
            ],
        ),
        _sum(
            ("instances (distinct SOP Instance UIDs)", a.instances),
            [
                ("with a primary file on disk", a.primary_copies),
                ("whose every copy has vanished", a.without_file),
            ],
        ),
        _sum(
            ("instances", a.instances),
            [(OUTCOME_LABELS[k].lower(), outcomes.get(k, 0)) for k in OUTCOME_LABELS],
        ),
        _sum(
            ("sent", sent),
            [
                (k if k != "unchecked" else "not checked", n)
                for k, n in verification.items()
            ],
        ),
    ]


def _sum(total: tuple[str, int], parts: Sequence[tuple[str, int]]) -> str:
    """One line ``total = a + b + …`` and whether it holds."""
    terms = [_term(*total, "term total"), '<span class="op">=</span>']
    for index, (label, value) in enumerate(parts):
        if index:
            terms.append('<span class="op">+</span>')
        terms.append(_term(label, value, "term"))
    difference = total[1] - sum(value for _, value in parts)
    if difference == 0:
        check = '<span class="check ok">✓ adds up</span>'
    else:
        check = f'<span class="check bad">✗ off by {difference:+,}</span>'
    return f'<div class="sum">{"".join(terms)}{check}</div>'


def _term(label: str, value: int, cls: str) -> str:
    """A number with its name below it."""
    return f'<span class="{cls}"><b>{value:,}</b><small>{escape(label)}</small></span>'


def _footer() -> str:
    """What the report is made of, and what it leaves out on purpose."""
    return (
        f"<footer>Made by pacsflow {escape(__version__)} from the ledger alone. "
        "Every instance's outcome is listed in instances.csv beside this page. "
        "This report holds no patient names, patient IDs or birth dates.</footer>"
    )
