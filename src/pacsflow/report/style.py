"""The report's look: one colour per outcome, and the page's CSS (screen and print).

The colours are calm and keep their meaning everywhere in the report: sent green,
sin-binned amber, failed red, skipped grey, pending blue.
"""

from __future__ import annotations

OUTCOME_COLOURS = {
    "sent": "#2f855a",
    "sinbinned": "#d69e2e",
    "failed": "#c53030",
    "skipped": "#a0aec0",
    "pending": "#3182ce",
}
"""The colour of each outcome."""

OUTCOME_LABELS = {
    "sent": "Sent",
    "sinbinned": "Sin-binned",
    "failed": "Failed",
    "skipped": "Skipped",
    "pending": "Pending",
}
"""How each outcome is written for people."""

UNREADABLE = "#7f6a93"
"""The colour of unreadable files."""

VERIFICATION_COLOURS = {
    "verified": "#2f855a",
    "missing": "#c53030",
    "unchecked": "#cbd5e0",
}
"""The colour of each verification answer."""

SERIES_COLOURS = (
    "#2b6cb0",
    "#dd6b20",
    "#319795",
    "#805ad5",
    "#b83280",
    "#718096",
    "#975a16",
    "#2c7a7b",
)
"""Colours of destinations in the time chart, in turn."""

CSS = """
:root { --ink: #1a202c; --muted: #4a5568; --line: #e2e8f0; --bg: #f4f6f9;
  --card: #fff; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
  Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 28px 24px 40px; }
h1 { font-size: 30px; line-height: 1.2; margin: 0 0 6px; }
h2 { font-size: 19px; margin: 0 0 2px; }
h3 { font-size: 15px; margin: 16px 0 4px; }
.meta { color: var(--muted); margin: 0 0 16px; }
.note { color: var(--muted); font-size: 13.5px; margin: 0 0 12px; }
.card { background: var(--card); border-radius: 10px; padding: 20px 24px;
  margin-top: 18px; box-shadow: 0 1px 3px rgba(26, 32, 44, .08); overflow-x: auto; }
.grid2 { display: grid; gap: 18px;
  grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); }
.grid2 > .card { margin-top: 0; }
.grid2 + .card, .card + .grid2, .grid2 + .grid2 { margin-top: 18px; }
.cols { display: grid; gap: 8px 28px;
  grid-template-columns: repeat(auto-fit, minmax(250px, 1fr)); }
.cols table { font-size: 13.5px; }
.progress { display: flex; height: 24px; border-radius: 6px; overflow: hidden;
  background: var(--line); margin: 8px 0 6px; }
.progress span { display: block; height: 100%; }
.keys { display: flex; flex-wrap: wrap; gap: 4px 18px; font-size: 13.5px;
  color: var(--muted); }
.keys i { display: inline-block; width: 11px; height: 11px; border-radius: 2px;
  margin-right: 6px; vertical-align: -1px; }
.tiles { display: grid; gap: 12px; margin-top: 18px;
  grid-template-columns: repeat(auto-fit, minmax(128px, 1fr)); }
.tile { background: var(--card); border-radius: 10px; padding: 12px 16px 10px;
  border-top: 5px solid var(--c); box-shadow: 0 1px 3px rgba(26, 32, 44, .08); }
.tile .n { font-size: 30px; font-weight: 650; line-height: 1.15;
  font-variant-numeric: tabular-nums; }
.tile .k { font-size: 14px; font-weight: 600; white-space: nowrap; }
.tile .s { font-size: 12.5px; color: var(--muted); white-space: nowrap; }
.sum { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 10px;
  padding: 10px 0; border-bottom: 1px solid var(--line); }
.sum:last-child { border-bottom: 0; }
.term { display: inline-flex; flex-direction: column; min-width: 84px; }
.term b { font-size: 22px; font-variant-numeric: tabular-nums; }
.term small { color: var(--muted); font-size: 12.5px; line-height: 1.25; }
.term.total b { font-size: 24px; }
.op { font-size: 22px; color: var(--muted); padding: 0 2px; }
.check { margin-left: auto; font-size: 13.5px; font-weight: 600;
  padding: 3px 10px; border-radius: 12px; }
.check.ok { color: #22543d; background: #e6f4ea; }
.check.bad { color: #742a2a; background: #fde8e8; }
svg.chart { width: 100%; height: auto; display: block; overflow: visible; }
svg text { font-family: inherit; font-size: 13px; fill: var(--ink); }
svg text.axis, svg text.legend { fill: var(--muted); font-size: 12.5px; }
svg text.unit { font-size: 13px; }
svg text.in { fill: #fff; font-size: 12px; font-weight: 600; }
svg line.axis { stroke: #a0aec0; }
svg line.grid { stroke: var(--line); }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line);
  text-align: left; vertical-align: top; }
th { font-size: 12.5px; text-transform: uppercase; letter-spacing: .03em;
  color: var(--muted); font-weight: 600; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.uid { display: block; color: var(--muted); font-size: 11.5px;
  font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.none { color: var(--muted); font-style: italic; margin: 6px 0; }
footer { color: var(--muted); font-size: 13px; margin-top: 24px; }
@page { size: A4 landscape; margin: 10mm; }
@media print {
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { background: #fff; font-size: 12px; }
  main { max-width: none; padding: 0; }
  .card, .tile { box-shadow: none; border: 1px solid #cbd5e0; }
  .tile { border-top: 5px solid var(--c); padding: 8px 10px; }
  .card, .tile, tr, .sum { break-inside: avoid; }
  .grid2 { grid-template-columns: 1fr 1fr; }
  .tiles { grid-template-columns: repeat(8, 1fr); }
  .term { min-width: 0; }
  .term b, .term.total b, .op { font-size: 17px; }
  h1 { font-size: 24px; }
}
@media (max-width: 560px) { .grid2 { grid-template-columns: 1fr; } }
"""
"""The page's style sheet, inlined in its ``<style>`` element."""
