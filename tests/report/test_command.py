"""`pacsflow report`: the command writes the page and the CSVs, or says why not."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from pacsflow.cli import main
from pacsflow.sample import generate_sample
from tests.reconcile.test_run import outcomes, prepare


def test_the_command_writes_the_page_and_one_csv_row_per_instance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate_sample(tmp_path / "sample", studies=3, seed=61)
    network = prepare(tmp_path / "sample", tmp_path)
    assert main(["-q", "run", str(network)]) == 0
    capsys.readouterr()

    code = main(["report", str(network), "--out", str(tmp_path / "rep"), "--json"])

    assert code == 0
    written = json.loads(capsys.readouterr().out)
    page = (tmp_path / "rep" / "index.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "PACS migration" in page
    with (tmp_path / "rep" / "instances.csv").open(newline="") as fp:
        rows = {r["sop_instance_uid"]: r["outcome"] for r in csv.DictReader(fp)}
    assert rows == {uid: outcome for uid, (outcome, _) in outcomes(network).items()}
    assert written["instances"] == len(rows)


def test_an_out_that_is_a_file_is_refused_with_exit_2(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    generate_sample(tmp_path / "sample", studies=3, seed=62)
    network = prepare(tmp_path / "sample", tmp_path)

    assert main(["-q", "report", str(network), "--out", str(network)]) == 2

    assert "give --out a folder" in caplog.text
