"""Scan speed: ``pacsflow scan`` against a plain single-process pydicom loop.

Generates (or reuses) a sample archive, warms the page cache, then alternates rounds of
the two readers over the same files and prints the median files/s of each, their
ratio, and pacsflow's peak memory. Each pacsflow round runs in a fresh process with a
fresh ledger, so index writes are included and memory is its own.

    .venv/bin/python benchmarks/scan.py --studies 120 --rounds 5
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pydicom import dcmread
from pydicom.errors import InvalidDicomError

from pacsflow.sample import generate_sample

_PACSFLOW_ROUND = """
import json, resource, sys, time
from pacsflow.config import load_network
from pacsflow.ledger.database import open_ledger
from pacsflow.scan.indexer import scan_network

network = load_network(sys.argv[1])
engine = open_ledger(sys.argv[2])
started = time.perf_counter()
summary = scan_network(network, engine, workers=int(sys.argv[3]))
seconds = time.perf_counter() - started
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"files": summary.seen, "seconds": seconds,
                  "main_kib": own, "worker_kib": workers}))
"""


def archive_files(directory: Path) -> list[Path]:
    """Every file below the sample's storage folders, in walk order."""
    found: list[Path] = []
    for store in sorted(directory.glob("store*")):
        for root, dirs, names in os.walk(store):
            dirs.sort()
            found.extend(Path(root, name) for name in sorted(names))
    return found


def warm(paths: list[Path]) -> None:
    """Read every file once so both readers start from a warm page cache."""
    for path in paths:
        path.read_bytes()


def pydicom_round(paths: list[Path]) -> float:
    """Files per second of a plain ``dcmread(stop_before_pixels=True)`` loop."""
    started = time.perf_counter()
    for path in paths:
        with contextlib.suppress(InvalidDicomError, EOFError, OSError, ValueError):
            dcmread(path, stop_before_pixels=True)
    return len(paths) / (time.perf_counter() - started)


def pacsflow_round(network: Path, workers: int) -> dict[str, float]:
    """One scan in a fresh process with a fresh SQLite ledger."""
    with tempfile.TemporaryDirectory() as scratch:
        ledger = f"sqlite:///{scratch}/ledger.db"
        command = [sys.executable, "-c", _PACSFLOW_ROUND, str(network), ledger]
        output = subprocess.run(
            [*command, str(workers)], check=True, capture_output=True, text=True
        ).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    result["rate"] = result["files"] / result["seconds"]
    return result


def main() -> int:
    """Run the comparison and print it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--directory", type=Path, help="reuse or keep the archive here")
    args = parser.parse_args()

    directory = args.directory or Path(tempfile.mkdtemp(prefix="pacsflow-bench-"))
    if not (directory / "manifest.json").exists():
        print(f"generating {args.studies} studies in {directory} ...", flush=True)
        generate_sample(directory, studies=args.studies, seed=7)
    paths = archive_files(directory)
    if len(paths) < 3000:
        print(f"warning: only {len(paths)} files; use --studies for at least 3,000")
    warm(paths)

    reference: list[float] = []
    ours: list[dict[str, float]] = []
    for round_number in range(1, args.rounds + 1):
        reference.append(pydicom_round(paths))
        ours.append(pacsflow_round(directory / "network.yaml", args.workers))
        print(
            f"round {round_number}: pydicom {reference[-1]:,.0f} files/s, "
            f"pacsflow {ours[-1]['rate']:,.0f} files/s",
            flush=True,
        )

    plain = statistics.median(reference)
    scan = statistics.median(r["rate"] for r in ours)
    peak_main = max(r["main_kib"] for r in ours) / 1024
    peak_worker = max(r["worker_kib"] for r in ours) / 1024
    print()
    print(f"files:                 {len(paths):,} ({args.rounds} rounds, medians)")
    print(f"pydicom loop, 1 proc:  {plain:,.0f} files/s")
    print(f"pacsflow scan, {args.workers} proc: {scan:,.0f} files/s (writes included)")
    print(f"ratio:                 {scan / plain:.2f}x")
    print(
        f"pacsflow peak memory:  main {peak_main:.0f} MiB, worker {peak_worker:.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
