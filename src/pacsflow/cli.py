"""The ``pacsflow`` command: one small function per sub-command.

``main(argv)`` returns the exit status instead of exiting, so tests call it in-process:
0 when all went well, 1 when the work ran but something needs attention (a source
folder missing), 2 for bad usage or a bad network file.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy.exc import DBAPIError

from pacsflow import __version__
from pacsflow.errors import PacsflowError
from pacsflow.ledger.reconnect import connection_lost, why

log = logging.getLogger(__name__)

_HANDLER = "pacsflow-cli"

Command = Callable[[argparse.Namespace, Console], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pacsflow`` command line and return its exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose - args.quiet)
    console = Console(stderr=False, quiet=args.quiet > 1)
    command: Command = args.command
    try:
        return command(args, console)
    except PacsflowError as exc:
        log.error("%s", exc)
        return 2
    except DBAPIError as exc:
        if not connection_lost(exc):
            raise
        log.error(
            "lost the connection to the tracking database (%s); everything recorded "
            "so far is kept: run the command again once the database answers",
            why(exc),
        )
        return 2
    except KeyboardInterrupt:
        log.error("interrupted; the ledger holds everything done so far")
        return 130


def _configure_logging(verbosity: int) -> None:
    """INFO by default, DEBUG with -v, WARNING with -q, to stderr.

    Handlers others installed (pytest's, an embedding application's) are left alone.
    """
    level = max(logging.DEBUG, min(logging.INFO - 10 * verbosity, logging.ERROR))
    root = logging.getLogger()
    root.setLevel(level)
    if not any(h.get_name() == _HANDLER for h in root.handlers):
        handler = _StderrHandler()
        handler.set_name(_HANDLER)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        )
        root.addHandler(handler)
    # pynetdicom logs every DIMSE message and identifiers at INFO, openjpeg every tile
    # it encodes, alembic every plugin it loads. Keep them to warnings.
    for noisy in ("pynetdicom", "openjpeg", "alembic"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is now (tests and tools swap it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="pacsflow",
        description="Migrate a PACS image archive straight from disk.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    _verbosity(parser)
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    demo = _command(
        commands, "demo", _demo, "migrate a generated archive into local receivers"
    )
    demo.add_argument("directory", nargs="?", default="demo", type=Path)
    demo.add_argument("--studies", type=int, default=12)
    demo.add_argument("--seed", type=int, default=1)

    sample = _command(commands, "sample", _sample, "generate a demo archive")
    sample.add_argument("directory", type=Path, help="where to write it")
    sample.add_argument("--studies", type=int, default=12, help="how many studies")
    sample.add_argument("--seed", type=int, default=1, help="for a different archive")

    validate = _command(commands, "validate", _validate, "check a network file")
    validate.add_argument("network", type=Path)

    scan = _command(commands, "scan", _scan, "index every file of the sources")
    scan.add_argument("network", type=Path, help="the network file (YAML)")
    scan.add_argument("--workers", type=int, help="processes (default: one per core)")
    scan.add_argument("--json", action="store_true", help="print the summary as JSON")

    run = _command(commands, "run", _run, "send every pending instance on its way")
    run.add_argument("network", type=Path, help="the network file (YAML)")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="read everything into a terminator; send and record nothing",
    )
    run.add_argument(
        "--retry-failed", action="store_true", help="take the failed instances again"
    )
    run.add_argument(
        "--resend-missing",
        action="store_true",
        help="send again what 'pacsflow verify' found missing",
    )
    run.add_argument("--no-scan", action="store_true", help="skip the scan first")
    run.add_argument("--workers", type=int, help="processes (default: one per core)")
    run.add_argument("--json", action="store_true", help="print the summary as JSON")

    reconcile = _command(
        commands,
        "reconcile",
        _reconcile,
        "compare the archive with the legacy database",
    )
    reconcile.add_argument("network", type=Path, help="the network file (YAML)")
    reconcile.add_argument(
        "--refresh",
        action="store_true",
        help="read the legacy database again (a new snapshot)",
    )
    reconcile.add_argument(
        "--report", type=Path, metavar="FILE.csv", help="write every difference here"
    )
    reconcile.add_argument("--no-scan", action="store_true", help="skip the scan first")
    reconcile.add_argument("--json", action="store_true", help="print JSON")

    check = _command(
        commands, "check", _check, "echo and negotiate with every DICOM destination"
    )
    check.add_argument("network", type=Path, help="the network file (YAML)")
    check.add_argument("--json", action="store_true", help="print JSON")

    verify = _command(
        commands,
        "verify",
        _verify,
        "ask each destination whether it holds what was sent",
    )
    verify.add_argument("network", type=Path, help="the network file (YAML)")
    verify.add_argument("--json", action="store_true", help="print JSON")

    explain = _command(
        commands, "explain", _explain, "tell what happened to an instance or a study"
    )
    explain.add_argument("network", type=Path, help="the network file (YAML)")
    explain.add_argument("uid", help="a SOP Instance UID or a Study Instance UID")
    explain.add_argument("--json", action="store_true", help="print JSON")

    _sinbin_parser(commands)

    pause = _command(
        commands, "pause", _pause, "let the running migration start no new batch"
    )
    pause.add_argument("network", type=Path, help="the network file (YAML)")
    pause.add_argument(
        "--why", default="paused by an operator", help="recorded with the pause"
    )
    resume = _command(commands, "resume", _resume, "let a paused migration go on")
    resume.add_argument("network", type=Path, help="the network file (YAML)")

    report = _command(
        commands, "report", _report, "write the HTML report and the CSV of outcomes"
    )
    report.add_argument("network", type=Path, help="the network file (YAML)")
    report.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="where to write them"
    )
    report.add_argument(
        "--title", default="PACS migration", help="the migration's name, as title"
    )
    report.add_argument("--json", action="store_true", help="print JSON")

    status = _command(commands, "status", _status, "show what the ledger holds")
    status.add_argument("network", type=Path, help="the network file (YAML)")
    status.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _sinbin_parser(commands: Any) -> None:
    """``pacsflow sinbin NETWORK list|release``."""
    sinbin = _command(
        commands, "sinbin", _sinbin_list, "review the sin bin and release from it"
    )
    sinbin.add_argument("network", type=Path, help="the network file (YAML)")
    actions = sinbin.add_subparsers(title="actions", required=True, metavar="ACTION")

    listing = _command(actions, "list", _sinbin_list, "what is held back, and why")
    listing.add_argument("--reason", help="only this reason")
    listing.add_argument(
        "--skipped", action="store_true", help="include skipped instances too"
    )
    listing.add_argument("--json", action="store_true", help="print JSON")

    release = _command(
        actions, "release", _sinbin_release, "send instances through again"
    )
    chosen = release.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--reason", help="every instance held back for this reason")
    chosen.add_argument("--study", metavar="UID", help="a study's instances")
    chosen.add_argument("--instance", metavar="UID", help="one instance")
    release.add_argument(
        "--no-run",
        action="store_true",
        help="only release; the next 'pacsflow run' sends them",
    )
    release.add_argument(
        "--workers", type=int, help="processes (default: one per core)"
    )
    release.add_argument("--json", action="store_true", help="print JSON")


def _command(
    commands: Any, name: str, function: Command, summary: str
) -> argparse.ArgumentParser:
    """Add a sub-command that runs ``function``."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=summary, description=summary[0].upper() + summary[1:] + "."
    )
    _verbosity(parser, default=argparse.SUPPRESS)
    parser.set_defaults(command=function)
    return parser


def _verbosity(parser: argparse.ArgumentParser, default: Any = 0) -> None:
    """-v and -q; a sub-command's copy must not reset what was given before it."""
    parser.add_argument(
        "-v", "--verbose", action="count", default=default, help="more output"
    )
    parser.add_argument(
        "-q", "--quiet", action="count", default=default, help="less output"
    )


def _sample(args: argparse.Namespace, console: Console) -> int:
    """``pacsflow sample DIR``."""
    from pacsflow.sample import generate_sample

    manifest = generate_sample(args.directory, studies=args.studies, seed=args.seed)
    console.print(
        f"Wrote a sample archive of {manifest.expected.files:,} files to "
        f"{args.directory}; network file: {args.directory / 'network.yaml'}"
    )
    return 0


def _validate(args: argparse.Namespace, console: Console) -> int:
    """``pacsflow validate NETWORK``."""
    from pacsflow.config import load_network

    network = load_network(args.network)
    console.print(
        f"{args.network} is valid: {len(network.sources)} sources, "
        f"{len(network.routes)} routes, {len(network.destinations)} destinations; "
        f"tracking database {_safe_url(network.tracking)}"
    )
    return 0


def _scan(args: argparse.Namespace, console: Console) -> int:
    """``pacsflow scan NETWORK``."""
    from pacsflow.config import load_network
    from pacsflow.console import ScanProgress, print_scan_summary
    from pacsflow.ledger.database import open_ledger
    from pacsflow.scan.indexer import scan_network

    network = load_network(args.network)
    engine = open_ledger(network.tracking)
    show = console.is_terminal and not args.json and args.quiet == 0
    try:
        with ScanProgress(console, enabled=show) as progress:
            summary = scan_network(
                network, engine, workers=args.workers, observer=progress
            )
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(_summary_json(summary), indent=2))
    else:
        print_scan_summary(console, summary)
    return 1 if summary.missing_sources else 0


def _summary_json(summary: Any) -> dict[str, Any]:
    """A scan or run summary as JSON values, with its rate."""
    from dataclasses import asdict

    values = asdict(summary)
    for rate in ("files_per_second", "images_per_second"):
        if hasattr(summary, rate):
            values[rate] = round(getattr(summary, rate), 1)
    return values


def _run(args: argparse.Namespace, console: Console) -> int:
    """``pacsflow run NETWORK``: scan what is new, then send every pending instance."""
    from pacsflow.config import load_network
    from pacsflow.console import RunProgress, print_run_summary
    from pacsflow.ledger.database import open_ledger
    from pacsflow.run import run_network

    if not args.no_scan:
        scanned = _scan(_namespace(args, json=False), _quiet_if(args.json, console))
        if scanned != 0:
            log.warning("the scan found problems; sending what it indexed")
    network = load_network(args.network)
    engine = open_ledger(network.tracking)
    show = console.is_terminal and not args.json and args.quiet == 0
    try:
        with (
            RunProgress(console, enabled=show) as progress,
            _event_log(network) as events,
        ):
            summary = run_network(
                network,
                engine,
                dry_run=args.dry_run,
                retry_failed=args.retry_failed,
                resend_missing=args.resend_missing,
                workers=args.workers,
                observer=progress,
                events=events,
            )
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(_summary_json(summary), indent=2))
    else:
        print_run_summary(console, summary)
    return 1 if summary.failed or summary.paused else 0


def _reconcile(args: argparse.Namespace, console: Console) -> int:
    """``pacsflow reconcile NETWORK``: verdicts and header changes, for review."""
    from pacsflow.console import print_reconcile_summary
    from pacsflow.reconcile.prepare import prepare
    from pacsflow.reconcile.report import write_report

    if not args.no_scan:
        _scan(_namespace(args, json=False, workers=None), _quiet_if(args.json, console))
    with _ledger(args.network) as (network, engine):
        prepared = prepare(network, engine, refresh=args.refresh, settling=False)
        if args.report is not None:
            with engine.connect() as connection:
                rows = write_report(connection, args.report)
            log.info("wrote %d findings to %s", rows, args.report)
    if args.json:
        print(json.dumps(_summary_json(prepared), indent=2))
    else:
        print_reconcile_summary(console, prepared, args.report)
    return 0


def _check(args: argparse.Namespace, console: Console) -> int:
    """``pacsflow check NETWORK``: exit 1 on any refusal or unreachable peer."""
    from pacsflow.check import check_network
    from pacsflow.console import print_checks

    with _ledger(args.network) as (network, engine):
        results = check_network(network, engine)
    if args.json:
        print(json.dumps([_check_json(r) for r in results], indent=2))
    else:
        print_checks(console, results)
    return 0 if all(r.ok for r in results) else 1


def _check_json(result: Any) -> dict[str, Any]:
    """One destination's check as JSON values."""

    def cells(pairs: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
        return [
            {"sop_class": c, "transfer_syntax": t, "instances": n}
            for (c, t), n in sorted(pairs.items())
        ]

    return {
        "destination": result.name,
        "address": result.address,
        "echo": result.echo,
        "error": result.error,
        "ok": result.ok,
        "accepted": cells(result.accepted),
        "refused": cells(result.refused),
    }


def _verify(args: argparse.Namespace, console: Console) -> int:
    """``pacsflow verify NETWORK``: exit 1 if any sent instance is missing or, where
    storage commitment is asked, not committed."""
    from pacsflow.console import print_verify_summary
    from pacsflow.verify import verify_network

    with _ledger(args.network) as (network, engine), _event_log(network) as events:
        summary = verify_network(network, engine, events=events)
    if args.json:
        print(json.dumps(_summary_json(summary), indent=2))
    else:
        print_verify_summary(console, summary)
    return 0 if summary.all_there and summary.all_committed else 1


def _explain(args: argparse.Namespace, console: Console) -> int:
    """``pacsflow explain NETWORK UID``: exit 1 when the UID is unknown."""
    from pacsflow.console.review import print_explanation
    from pacsflow.explain import explain

    with _ledger(args.network) as (_, engine), engine.connect() as connection:
        explanation = explain(connection, args.uid)
    if args.json:
        print(json.dumps(explanation.to_json(), indent=2, ensure_ascii=False))
    else:
        print_explanation(console, explanation)
    return 1 if explanation.kind == "unknown" else 0


def _sinbin_list(args: argparse.Namespace, console: Console) -> int:
    """``pacsflow sinbin NETWORK list``."""
    from dataclasses import asdict

    from pacsflow.console.review import print_sinbin
    from pacsflow.sinbin import sinbin_contents

    with _ledger(args.network) as (_, engine), engine.connect() as connection:
        groups = sinbin_contents(
            connection,
            reason=args.reason,
            skipped=args.skipped,
        )
    if args.json:
        print(json.dumps([asdict(g) for g in groups], indent=2))
    else:
        print_sinbin(console, groups)
    return 0


def _sinbin_release(args: argparse.Namespace, console: Console) -> int:
    """``pacsflow sinbin NETWORK release``: release, then run unless told not to."""
    from pacsflow.run.record import live_run
    from pacsflow.sinbin import Selection, release

    selection = Selection(args.reason, args.study, args.instance)
    with _ledger(args.network) as (network, engine):
        with _event_log(network) as events:
            with engine.begin() as connection:
                released = release(connection, selection)
            events.emit(released)
        with engine.connect() as connection:
            running = live_run(connection)
    if not released:
        console.print(f"Nothing in the sin bin matches {selection}.")
        return 1
    console.print(
        f"Released {len(released):,} instances ({selection}); they are pending again."
    )
    if running is not None:
        console.print(
            f"A run (pid {running.pid} on {running.host}) is working on this ledger: "
            "run 'pacsflow run NETWORK' after it ends to send them."
        )
        return 0
    if args.no_run:
        console.print("'pacsflow run NETWORK' sends them through reconciliation again.")
        return 0
    return _run(
        _namespace(
            args,
            dry_run=False,
            retry_failed=False,
            resend_missing=False,
            no_scan=True,
        ),
        console,
    )


def _report(args: argparse.Namespace, console: Console) -> int:
    """``pacsflow report NETWORK --out DIR``: the HTML page and the CSV files."""
    from pacsflow.report import write_report

    with _ledger(args.network) as (network, engine), engine.connect() as connection:
        written = write_report(connection, args.out, title=args.title, network=network)
    if args.json:
        print(json.dumps(written.to_json(), indent=2))
    else:
        console.print(
            f"Wrote {written.html}: {written.instances:,} instances in "
            f"{written.instances_csv.name}, {written.unreadable:,} unreadable files "
            f"in {written.unreadable_csv.name}"
        )
    return 0


def _pause(args: argparse.Namespace, console: Console) -> int:
    """``pacsflow pause NETWORK``: recorded in the ledger, obeyed by every run."""
    from pacsflow.ledger.controls import pause

    with _ledger(args.network) as (_, engine), engine.begin() as connection:
        pause(connection, args.why)
    console.print(
        "Paused: a running migration lets the batches in flight finish and starts "
        "no new one; 'pacsflow resume NETWORK' lets it go on. A run started now "
        "waits too."
    )
    return 0


def _resume(args: argparse.Namespace, console: Console) -> int:
    """``pacsflow resume NETWORK``: exit 1 if nothing was paused."""
    from pacsflow.ledger.controls import resume

    with _ledger(args.network) as (_, engine), engine.begin() as connection:
        lifted = resume(connection)
    if lifted is None:
        console.print("Nothing was paused.")
        return 1
    console.print(f"Resumed (paused since {lifted.at:%Y-%m-%d %H:%M}: {lifted.why}).")
    return 0


def _status(args: argparse.Namespace, console: Console) -> int:
    """``pacsflow status NETWORK``."""
    from pacsflow.console import print_status
    from pacsflow.ledger.report import read_status

    with _ledger(args.network) as (_, engine), engine.connect() as connection:
        status = read_status(connection)
    if args.json:
        print(json.dumps(status.to_json(), indent=2))
    else:
        print_status(console, status)
    return 0


def _demo(args: argparse.Namespace, console: Console) -> int:
    """``pacsflow demo``: a generated archive migrated into local receivers."""
    from contextlib import ExitStack

    from pacsflow.config import DicomDestination, load_network
    from pacsflow.receiver import Receiver

    directory: Path = args.directory
    network_file = directory / "network.yaml"
    if not network_file.exists():
        console.rule("generating a sample archive")
        _sample(args, console)
    network = load_network(network_file)
    with ExitStack() as receivers:
        console.rule("starting the new PACS (local receivers)")
        started = []
        for name, config in network.destinations.items():
            if isinstance(config, DicomDestination):
                receiver = Receiver(
                    directory / "received" / name, config.port, config.ae_title
                )
                try:
                    receivers.enter_context(receiver)
                except OSError as exc:
                    log.error(
                        "cannot start the demo receiver %s on port %d: %s; stop what "
                        "uses the port or change it in %s",
                        name,
                        config.port,
                        exc,
                        network_file,
                    )
                    return 2
                started.append((name, receiver))
                console.print(f"{name}: {config.ae_title} on 127.0.0.1:{config.port}")
        console.rule("migrating")
        code = _run(
            _namespace(
                args,
                network=network_file,
                workers=None,
                json=False,
                dry_run=False,
                retry_failed=False,
                resend_missing=False,
                no_scan=False,
            ),
            console,
        )
    console.rule("what the ledger holds")
    _status(_namespace(args, network=network_file, json=False), console)
    for name, receiver in started:
        console.print(
            f"{name} received {receiver.received:,} instances in {receiver.folder}"
        )
    _report(
        _namespace(
            args,
            network=network_file,
            out=directory / "report",
            title="pacsflow demo migration",
            json=False,
        ),
        console,
    )
    console.print(
        f"Sin bin: {directory / 'sinbin'} ('pacsflow sinbin {network_file} list'). "
        f"Ask about any image: 'pacsflow explain {network_file} UID'. Delete the "
        "folder to start the demo afresh."
    )
    return code


def _event_log(network: Any) -> Any:
    """The network's event log, to use in a ``with`` block."""
    from pacsflow.events import EventLog

    options = network.events
    return EventLog(options.path, max_bytes=options.max_bytes, backups=options.backups)


@contextmanager
def _ledger(path: Path) -> Iterator[tuple[Any, Any]]:
    """The network file loaded and its ledger opened, closed again afterwards."""
    from pacsflow.config import load_network
    from pacsflow.ledger.database import open_ledger

    network = load_network(path)
    engine = open_ledger(network.tracking)
    try:
        yield network, engine
    finally:
        engine.dispose()


def _quiet_if(quiet: bool, console: Console) -> Console:
    """A console that prints nothing when ``quiet`` (stdout is for JSON then)."""
    return Console(quiet=True) if quiet else console


def _namespace(args: argparse.Namespace, **values: Any) -> argparse.Namespace:
    """A copy of ``args`` with some values replaced."""
    return argparse.Namespace(**{**vars(args), **values})


def _safe_url(url: str) -> str:
    """A database URL with any password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
