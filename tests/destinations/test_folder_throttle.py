"""A folder destination's throttle: its configuration, and a real run held to it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import yaml

from pacsflow.cli import main
from pacsflow.config import FolderDestination, load_network
from pacsflow.config.throttle import ThrottleOptions
from pacsflow.destinations import open_sender
from pacsflow.destinations.base import Item, Result, RetryPolicy
from pacsflow.errors import ConfigError
from pacsflow.sample import generate_sample
from tests.destinations.rates import steady_rate, stored_at
from tests.samplenet import SAMPLE_SOURCES


def network_with(tmp_path: Path, throttle: object) -> Path:
    """A network file whose one destination is a folder with ``throttle``."""
    content = {
        "sources": [{"name": "store01", "path": "store01"}],
        "routes": [{"name": "all", "to": "out"}],
        "destinations": {"out": {"folder": {"path": "out", "throttle": throttle}}},
    }
    path = tmp_path / "network.yaml"
    path.write_text(yaml.safe_dump(content), encoding="utf-8")
    return path


def test_a_folder_takes_a_throttle(tmp_path: Path) -> None:
    throttle = {
        "images_per_second": 20,
        "mb_per_second": 5,
        "windows": [{"days": ["sat", "sun"], "start": "00:00", "end": "00:00"}],
    }

    folder = load_network(network_with(tmp_path, throttle)).destinations["out"]

    assert isinstance(folder, FolderDestination)
    assert folder.throttle is not None
    assert folder.throttle.images_per_second == 20
    assert folder.throttle.mb_per_second == 5
    assert folder.throttle.windows[0].days == ("sat", "sun")


def test_a_folder_refuses_slow_after(tmp_path: Path) -> None:
    network = network_with(tmp_path, {"images_per_second": 20, "slow_after": 2})

    with pytest.raises(
        ConfigError,
        match=r"destinations\.out\.folder\.throttle: slow_after times a DICOM "
        r"destination's answers .* does not apply to a folder destination; remove it",
    ):
        load_network(network)


def test_a_folder_refuses_an_unknown_throttle_key(tmp_path: Path) -> None:
    network = network_with(tmp_path, {"images_per_sec": 20})

    with pytest.raises(ConfigError, match=r"folder\.throttle\.images_per_sec"):
        load_network(network)


def items(tmp_path: Path, count: int) -> list[Item]:
    """``count`` small files to deliver, each its own instance."""
    source = tmp_path / "source.dcm"
    source.write_bytes(b"\0" * 128 + b"DICM" + bytes(range(256)))
    return [
        Item(
            f"1.2.3.{number}",
            "1.2.840.10008.5.1.4.1.1.2",
            "1.2.840.10008.1.2.1",
            str(source),
            source.stat().st_size,
            "1.2.3",
            "1.2.3.0",
        )
        for number in range(1, count + 1)
    ]


def test_each_worker_writes_at_its_share(tmp_path: Path) -> None:
    config = FolderDestination(
        path=tmp_path / "out", throttle=ThrottleOptions(images_per_second=50)
    )
    sender = open_sender(config, RetryPolicy(), share=2)  # one of two workers

    started = time.monotonic()
    result = sender.deliver(items(tmp_path, 5))
    took = time.monotonic() - started

    assert [d.result for d in result.deliveries] == [Result.DELIVERED] * 5
    assert took >= 5 * 2 / 50 * 0.95  # 25/s each: sleeps never end early


NETWORK = (
    SAMPLE_SOURCES
    + """\
routes:
  - name: everything
    to: out
destinations:
  out:
    folder:
      path: {out}
      throttle: {{images_per_second: {rate}}}
run: {{batch: 10}}
"""
)


def test_a_run_into_a_folder_holds_the_configured_rate(tmp_path: Path) -> None:
    generate_sample(tmp_path / "sample", studies=3, seed=94)
    archive = tmp_path / "archive"
    shutil.copytree(tmp_path / "sample", archive)
    out, rate = tmp_path / "out", 40
    network = archive / "throttled.yaml"
    network.write_text(NETWORK.format(out=out, rate=rate))

    assert main(["-q", "run", "--workers", "2", str(network)]) == 0

    stored = stored_at(archive / "ledger.db")
    assert len(stored) > 50
    assert len(list(out.rglob("*.dcm"))) == len(stored)
    measured = steady_rate(stored)
    # Writing a small file takes far less than a worker's 50 ms share: a rate well
    # below the limit means pacing is wrong; above it, only clock noise is allowed.
    assert rate * 0.5 <= measured <= rate * 1.15, f"{measured:.1f} images/s"
