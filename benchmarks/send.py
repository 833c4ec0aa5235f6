"""Send speed: ``pacsflow run`` against DCMTK's ``storescu``, into one ``storescp``.

Generates (or reuses) a sample archive, scans it once, then alternates rounds of:

- DCMTK ``storescu``: every readable file over one association (the reference);
- ``pacsflow run``: the full pipeline (routes, study batches, tracking on), with a fresh
  ledger copy each round so every instance is pending again.

Both send to the same DCMTK ``storescp`` writing files to disk on loopback (with
``--fork``, so parallel associations are served in parallel; TCP_NODELAY on). Prints
images/s and MB/s of each (medians) and their ratio.

    .venv/bin/python benchmarks/send.py --studies 120 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pacsflow.sample import generate_sample, load_manifest

_ENV = {**os.environ, "TCP_NODELAY": "1"}

_NETWORK = """\
tracking: sqlite:///{ledger}
sources:
  - {{name: store01, path: {root}/store01}}
  - {{name: store02, path: {root}/store02}}
  - {{name: store03, path: {root}/store03}}
routes:
  - {{name: everything, to: receiver}}
destinations:
  receiver:
    dicom: {{host: 127.0.0.1, port: {port}, ae_title: STORESCP,
             associations: {associations}}}
run: {{workers: {workers}}}
"""

_PACSFLOW_ROUND = """
import json, sys, time
from pacsflow.config import load_network
from pacsflow.ledger.database import open_ledger
from pacsflow.run import run_network

network = load_network(sys.argv[1])
engine = open_ledger(network.tracking)
started = time.perf_counter()
summary = run_network(network, engine)
seconds = time.perf_counter() - started
print(json.dumps({"sent": summary.sent, "failed": summary.failed, "seconds": seconds}))
"""


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_storescp(folder: Path, port: int) -> subprocess.Popen[bytes]:
    """DCMTK storescp writing what it receives as received, one process per link."""
    folder.mkdir(parents=True, exist_ok=True)
    command = [
        "storescp",
        "--fork",
        "+xv",
        "--aetitle",
        "STORESCP",
        "--output-directory",
    ]
    process = subprocess.Popen(
        [*command, str(folder), "--accept-all", "--bit-preserving", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_ENV,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("storescp did not start listening")


def empty(folder: Path) -> None:
    """Remove what the receiver wrote in the last round."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)


def storescu_round(files: list[Path], port: int) -> float:
    """Seconds storescu takes for ``files`` over one association."""
    # -xv: propose JPEG 2000 lossless (and uncompressed), so files go unconverted
    command = ["storescu", "-xv", "-aet", "STORESCU", "-aec", "STORESCP", "127.0.0.1"]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, str(port), *map(str, files)],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=_ENV,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        last = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise SystemExit(f"storescu failed ({done.returncode}): {' | '.join(last)}")
    return seconds


def pacsflow_round(network: Path) -> dict[str, float]:
    """One ``run`` in a fresh process; returns what it sent and how long it took."""
    output = subprocess.run(
        [sys.executable, "-c", _PACSFLOW_ROUND, str(network)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def prepare_ledger(
    root: Path, scratch: Path, port: int, args: argparse.Namespace
) -> Path:
    """Scan once into a template ledger; return the network file of a round."""
    template = scratch / "template.db"
    network = scratch / "network.yaml"
    network.write_text(
        _NETWORK.format(
            ledger=template,
            root=root,
            port=port,
            associations=args.associations,
            workers=args.workers,
        )
    )
    subprocess.run(
        [sys.executable, "-m", "pacsflow", "-q", "scan", str(network)], check=True
    )
    round_network = scratch / "round.yaml"
    round_network.write_text(
        network.read_text().replace(str(template), str(scratch / "round.db"))
    )
    return round_network


def main() -> int:
    """Run the comparison and print it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--associations", type=int, default=2)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--directory", type=Path, help="reuse or keep the archive here")
    args = parser.parse_args()

    root = args.directory or Path(tempfile.mkdtemp(prefix="pacsflow-send-"))
    if not (root / "manifest.json").exists():
        print(f"generating {args.studies} studies in {root} ...", flush=True)
        generate_sample(root, studies=args.studies, seed=7)
    manifest = load_manifest(root)
    seen: set[str] = set()
    files = []
    for entry in manifest.files:
        if entry.readable and entry.sop_instance_uid not in seen:
            seen.add(entry.sop_instance_uid or "")
            files.append(root / manifest.sources[entry.source] / entry.path)
    megabytes = sum(f.stat().st_size for f in files) / 1e6

    scratch = Path(tempfile.mkdtemp(prefix="pacsflow-send-run-"))
    port = free_port()
    received = scratch / "received"
    receiver = start_storescp(received, port)
    try:
        network = prepare_ledger(root, scratch, port, args)
        reference: list[float] = []
        ours: list[float] = []
        for number in range(1, args.rounds + 1):
            empty(received)
            reference.append(storescu_round(files, port))
            empty(received)
            shutil.copy(scratch / "template.db", scratch / "round.db")
            result = pacsflow_round(network)
            if result["sent"] != len(files):
                print(f"warning: pacsflow sent {result['sent']} of {len(files)}")
            ours.append(result["seconds"])
            print(
                f"round {number}: storescu {len(files) / reference[-1]:,.0f} img/s, "
                f"pacsflow {len(files) / ours[-1]:,.0f} img/s",
                flush=True,
            )
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)

    dcmtk, pacsflow = statistics.median(reference), statistics.median(ours)
    print()
    print(f"instances: {len(files):,} ({megabytes:,.0f} MB), {args.rounds} rounds")
    print(
        f"storescu, 1 association:   {len(files) / dcmtk:,.0f} images/s, "
        f"{megabytes / dcmtk:,.1f} MB/s"
    )
    print(
        f"pacsflow run, {args.associations} associations: "
        f"{len(files) / pacsflow:,.0f} images/s, {megabytes / pacsflow:,.1f} MB/s "
        "(routes and tracking on)"
    )
    print(f"ratio pacsflow / storescu: {dcmtk / pacsflow:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
