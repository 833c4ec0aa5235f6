"""Reconciliation cost: the same archive to a terminator, with and without it.

Generates (or reuses) a sample archive, copies its legacy database into a fresh
PostgreSQL database (127.0.0.1:5432 by default, dropped at the end), scans once into a
ledger of each network, then alternates dry-run rounds of:

- **without**: no legacy database, no exclusion list; every file read whole into a
  terminator;
- **with**: the legacy database (snapshot taken once, before the rounds, as in a real
  migration), verdicts and header changes computed set-wise for every pending
  instance, and every instance that differs patched in the worker as it would be sent.

Both run the whole ``pacsflow run --dry-run`` pipeline (plan, routes, workers), each
round in a fresh process, and record no outcome, so every round starts from the same
pending instances. Prints instances/s of each (medians) and the ratio.

    .venv/bin/python benchmarks/reconcile.py --studies 120 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from pacsflow.sample import generate_sample
from pacsflow.sample.export import SERVER_QUERY, export_legacy

_ROUND = """
import json, sys, time
from pacsflow.config import load_network
from pacsflow.ledger.database import open_ledger
from pacsflow.run import run_network

network = load_network(sys.argv[1])
engine = open_ledger(network.tracking)
started = time.perf_counter()
summary = run_network(network, engine, dry_run=True, workers=int(sys.argv[2]))
seconds = time.perf_counter() - started
prepared = summary.prepared.summary
print(json.dumps({"instances": summary.sent + summary.failed, "seconds": seconds,
                  "failed": summary.failed, "changed": prepared.instances_changed}))
"""

_PREPARE = """
import sys
from pacsflow.config import load_network
from pacsflow.ledger.database import open_ledger
from pacsflow.reconcile.prepare import prepare
from pacsflow.scan.indexer import scan_network

network = load_network(sys.argv[1])
engine = open_ledger(network.tracking)
scan_network(network, engine)
prepare(network, engine, settling=False)
"""

_NETWORK = """\
tracking: sqlite:///{ledger}
sources:
  - {{name: store01, path: {root}/store01}}
  - {{name: store02, path: {root}/store02}}
  - {{name: store03, path: {root}/store03}}
{legacy}
routes:
  - {{name: everything, to: discard}}
destinations:
  discard: {{terminator: {{}}}}
"""


def network_file(scratch: Path, root: Path, name: str, legacy: str) -> Path:
    """Write one network file of the comparison; its path."""
    path = scratch / f"{name}.yaml"
    ledger = scratch / f"{name}.db"
    path.write_text(_NETWORK.format(ledger=ledger, root=root, legacy=legacy))
    return path


def legacy_section(url: str, root: Path) -> str:
    """The network file's legacy_database and exclude_studies keys."""
    query = "".join(f"    {line}\n" for line in SERVER_QUERY.splitlines())
    return (
        f"legacy_database:\n  url: {url}\n  query: |\n{query}"
        f"exclude_studies: {root}/exclusions.txt"
    )


def one_round(network: Path, workers: int) -> dict[str, float]:
    """One dry run in a fresh process."""
    output = subprocess.run(
        [sys.executable, "-c", _ROUND, str(network), str(workers)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    result["rate"] = result["instances"] / result["seconds"]
    return result


def main() -> int:
    """Run the comparison and print it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--directory", type=Path, help="reuse or keep the archive here")
    parser.add_argument(
        "--postgres",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="admin URL of the PostgreSQL server for the legacy database",
    )
    args = parser.parse_args()

    root = args.directory or Path(tempfile.mkdtemp(prefix="pacsflow-reconcile-"))
    if not (root / "manifest.json").exists():
        print(f"generating {args.studies} studies in {root} ...", flush=True)
        generate_sample(root, studies=args.studies, seed=7)

    name = f"pacsflow_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
    try:
        export_legacy(root, url)
        with tempfile.TemporaryDirectory() as scratch_name:
            scratch = Path(scratch_name)
            plain = network_file(scratch, root, "without", "")
            full = network_file(scratch, root, "with", legacy_section(url, root))
            for network in (plain, full):
                command = [sys.executable, "-c", _PREPARE, str(network)]
                subprocess.run(command, check=True)
            compare(plain, full, args.rounds, args.workers)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


def compare(plain: Path, full: Path, rounds: int, workers: int) -> None:
    """Alternate rounds of both networks and print the medians and the ratio."""
    without: list[dict[str, float]] = []
    with_: list[dict[str, float]] = []
    for number in range(1, rounds + 1):
        without.append(one_round(plain, workers))
        with_.append(one_round(full, workers))
        print(
            f"round {number}: without {without[-1]['rate']:,.0f} instances/s, "
            f"with {with_[-1]['rate']:,.0f} instances/s "
            f"({with_[-1]['changed']:,.0f} with header changes)",
            flush=True,
        )
    base = statistics.median(r["rate"] for r in without)
    reconciled = statistics.median(r["rate"] for r in with_)
    print()
    print(f"instances:              {without[0]['instances']:,.0f} ({rounds} rounds)")
    print(f"without reconciliation: {base:,.0f} instances/s")
    print(f"with reconciliation:    {reconciled:,.0f} instances/s (legacy: PostgreSQL)")
    print(f"ratio with / without:   {reconciled / base:.2f}x")


if __name__ == "__main__":
    raise SystemExit(main())
