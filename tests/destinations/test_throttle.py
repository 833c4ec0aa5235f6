"""Throttling: the pacing arithmetic, the time windows, a real run held to its rate."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from pacsflow.cli import main
from pacsflow.config.throttle import ThrottleOptions, Window
from pacsflow.destinations.base import Item
from pacsflow.destinations.throttle import Pacer, ReadPacing
from pacsflow.ledger.database import open_ledger
from pacsflow.ledger.schema import attempts, files, instances
from pacsflow.receiver import Receiver
from pacsflow.sample import generate_sample
from tests.destinations.rates import steady_rate, stored_at
from tests.peers import free_port
from tests.samplenet import SAMPLE_SOURCES

MONDAY_NOON = datetime(2026, 11, 30, 12, 0)
SATURDAY_NOON = datetime(2026, 12, 5, 12, 0)


class FakeClock:
    """A monotonic clock that only moves when slept on."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def pacer(
    options: ThrottleOptions, share: int, at: datetime
) -> tuple[Pacer, FakeClock]:
    clock = FakeClock()
    paced = Pacer(options, share, clock=clock, sleep=clock.sleep, local_time=lambda: at)
    return paced, clock


def test_each_association_waits_for_its_share_of_the_rate() -> None:
    paced, clock = pacer(ThrottleOptions(images_per_second=10), 2, MONDAY_NOON)

    for _ in range(5):
        paced.wait(1000)

    assert clock.slept == pytest.approx([0.2] * 5)  # 10/s over 2 associations


def test_a_new_batch_waits_for_its_share_too() -> None:
    options = ThrottleOptions(images_per_second=10)
    clock = FakeClock()

    for _ in range(3):  # three one-instance batches, each with a fresh pacer
        Pacer(options, 1, clock=clock, sleep=clock.sleep).wait(1000)

    assert clock.slept == pytest.approx([0.1] * 3)  # not one burst of three


def test_the_slower_of_the_two_limits_holds() -> None:
    options = ThrottleOptions(images_per_second=100, mb_per_second=1)
    paced, clock = pacer(options, 1, MONDAY_NOON)

    paced.wait(500_000)
    paced.wait(500_000)

    assert clock.slept == pytest.approx([0.5, 0.5])  # 0.5 MB at 1 MB/s


def test_a_window_replaces_the_limits_while_it_holds() -> None:
    clinic = Window(
        days=("mon", "tue", "wed", "thu", "fri"),
        start="07:00",  # type: ignore[arg-type]
        end="19:00",  # type: ignore[arg-type]
        images_per_second=20,
    )
    options = ThrottleOptions(windows=(clinic,))

    assert options.limits_at(MONDAY_NOON).images_per_second == 20
    assert options.limits_at(SATURDAY_NOON).images_per_second is None
    assert options.limits_at(MONDAY_NOON.replace(hour=19)).images_per_second is None


def test_a_window_that_ends_where_it_starts_lasts_all_day() -> None:
    always = Window(start="00:00", end="00:00")  # type: ignore[arg-type]
    weekend = Window(days=("sat", "sun"), start="00:00", end="00:00")  # type: ignore[arg-type]

    assert always.holds(MONDAY_NOON.replace(hour=0, minute=0))
    assert always.holds(MONDAY_NOON.replace(hour=23, minute=59, second=59))
    assert weekend.holds(SATURDAY_NOON)
    assert not weekend.holds(MONDAY_NOON)


def test_a_window_past_midnight_belongs_to_the_day_it_opened() -> None:
    night = Window(days=("mon",), start="22:00", end="06:00")  # type: ignore[arg-type]

    assert night.holds(MONDAY_NOON.replace(hour=23))
    assert night.holds(datetime(2026, 12, 1, 5, 0))  # Tuesday 05:00
    assert not night.holds(MONDAY_NOON.replace(hour=5))  # Monday 05:00: Sunday's
    assert not night.holds(MONDAY_NOON)


# A batch per study, so that both associations have work at once.
NETWORK = (
    SAMPLE_SOURCES
    + """\
routes:
  - name: everything
    to: newpacs
destinations:
  newpacs:
    dicom:
      host: 127.0.0.1
      port: {port}
      ae_title: NEWPACS
      associations: 2
      throttle: {throttle}
run: {{batch: 10}}
"""
)

# A loopback receiver takes far more than these rates, so a run that is held to much
# less than its limit is paced wrongly; above the limit, only clock noise is allowed.
SLOWEST, FASTEST = 0.5, 1.15


def throttled_run(tmp_path: Path, throttle: str, seed: int) -> float:
    """Send the sample over two associations under ``throttle``; the steady rate."""
    generate_sample(tmp_path / "sample", studies=3, seed=seed)
    archive = tmp_path / "archive"
    shutil.copytree(tmp_path / "sample", archive)
    port = free_port()
    network = archive / "throttled.yaml"
    network.write_text(NETWORK.format(port=port, throttle=throttle))

    with Receiver(tmp_path / "received", port, "NEWPACS"):
        assert main(["-q", "run", "--workers", "2", str(network)]) == 0

    stored = stored_at(archive / "ledger.db")
    assert len(stored) > 50
    return steady_rate(stored)


@pytest.mark.network
def test_a_run_holds_the_configured_rate(tmp_path: Path) -> None:
    rate = 40

    measured = throttled_run(tmp_path, f"{{images_per_second: {rate}}}", seed=91)

    assert rate * SLOWEST <= measured <= rate * FASTEST, f"{measured:.1f} images/s"


@pytest.mark.network
def test_inside_a_window_its_own_limit_holds(tmp_path: Path) -> None:
    base, window = 200, 25
    throttle = (
        f"{{images_per_second: {base}, windows: "
        f"[{{start: '00:00', end: '00:00', images_per_second: {window}}}]}}"
    )

    measured = throttled_run(tmp_path, throttle, seed=93)

    assert window * SLOWEST <= measured <= window * FASTEST, f"{measured:.1f} images/s"


def test_reads_of_a_source_are_spaced_to_its_share() -> None:
    clock = FakeClock()
    reads = ReadPacing(clock=clock, sleep=clock.sleep)
    slow = Item("1", "", "", "", 2_000_000, "", "", source="store01",
                read_mb_per_second=1.0)  # fmt: skip
    other = Item("2", "", "", "", 2_000_000, "", "", source="store02")

    reads.wait(slow)
    reads.wait(other)  # no limit on store02
    reads.wait(slow)

    assert clock.slept == pytest.approx([2.0])  # 2 MB at 1 MB/s


READ_LIMITED = """\
tracking: sqlite:///ledger.db
sources:
  - {{name: store01, path: store01, read_mb_per_second: {rate}}}
  - {{name: store02, path: store02, read_mb_per_second: {rate}}}
  - {{name: store03, path: store03, read_mb_per_second: {rate}}}
routes:
  - name: everything
    to: discard
destinations:
  discard: {{terminator: {{}}}}
"""


def test_a_run_reads_each_source_no_faster_than_its_limit(tmp_path: Path) -> None:
    generate_sample(tmp_path / "sample", studies=3, seed=92)
    archive = tmp_path / "archive"
    shutil.copytree(tmp_path / "sample", archive)
    rate = 3.0
    network = archive / "limited.yaml"
    network.write_text(READ_LIMITED.format(rate=rate))

    main(["-q", "run", "--workers", "2", str(network)])

    engine = open_ledger(f"sqlite:///{archive / 'ledger.db'}")
    with engine.connect() as connection:
        rows = connection.execute(
            select(attempts.c.at, files.c.size)
            .select_from(
                attempts.join(
                    instances,
                    instances.c.sop_instance_uid == attempts.c.sop_instance_uid,
                ).join(files, files.c.id == instances.c.file_id)
            )
            .where(attempts.c.result == "stored")
            .order_by(attempts.c.at)
        ).all()
    engine.dispose()
    assert len(rows) > 50
    seconds = (rows[-1].at - rows[0].at).total_seconds()
    megabytes = sum(row.size for row in rows[1:]) / 1e6
    assert megabytes / seconds <= 3 * rate * 1.1  # three sources at most


def test_a_struggling_destination_gets_a_growing_pause_until_it_keeps_up() -> None:
    paced, clock = pacer(ThrottleOptions(slow_after=2.0), 1, MONDAY_NOON)

    paced.adapt(0.1, busy=True)  # 0xA7xx
    paced.adapt(3.0, busy=False)  # slower than slow_after
    grown = paced.slowdown
    for _ in range(20):
        paced.adapt(0.1, busy=False)
    paced.wait(1000)
    paced.wait(1000)

    assert grown == pytest.approx(0.1)  # 50 ms, then doubled
    assert paced.slowdown == 0.0
    assert clock.slept == []  # kept up again: no pause left


def test_without_slow_after_only_out_of_resources_slows_down() -> None:
    paced, clock = pacer(ThrottleOptions(), 1, MONDAY_NOON)

    paced.adapt(30.0, busy=False)
    assert paced.slowdown == 0.0
    paced.adapt(0.1, busy=True)
    paced.wait(1000)
    paced.wait(1000)

    assert clock.slept == pytest.approx([0.05])  # one pause after the one answer


def test_the_pause_counts_from_the_answer_not_from_the_send() -> None:
    paced, clock = pacer(ThrottleOptions(slow_after=0.2), 1, MONDAY_NOON)

    paced.wait(1000)
    clock.now += 0.3  # a slow answer: longer than the pause it earns
    paced.adapt(0.3, busy=False)
    paced.wait(1000)

    assert clock.slept == pytest.approx([0.05])  # the pause still comes, in full
