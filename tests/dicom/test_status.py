"""Every C-STORE-RSP status lands in the category the run acts on, with a short name."""

from __future__ import annotations

import pytest

from pacsflow.dicom import StatusCategory, categorise, describe
from pacsflow.dicom.association import StoreStatus


@pytest.mark.parametrize(
    ("status", "category"),
    [
        (0x0000, StatusCategory.SUCCESS),
        (0xB000, StatusCategory.WARNING),
        (0xB006, StatusCategory.WARNING),
        (0xB007, StatusCategory.WARNING),
        (0xB123, StatusCategory.WARNING),
        (0x0107, StatusCategory.WARNING),
        (0xA700, StatusCategory.RETRY),
        (0xA7FF, StatusCategory.RETRY),
        (0x0213, StatusCategory.RETRY),
        (0x0124, StatusCategory.REFUSED),
        (0xA900, StatusCategory.FAILURE),
        (0xA9FF, StatusCategory.FAILURE),
        (0xC000, StatusCategory.FAILURE),
        (0xCFFF, StatusCategory.FAILURE),
        (0x0122, StatusCategory.FAILURE),
        (0x0110, StatusCategory.FAILURE),
        (0x0211, StatusCategory.FAILURE),
        (0x0111, StatusCategory.FAILURE),
        (0xFF00, StatusCategory.FAILURE),
        (0xFE00, StatusCategory.FAILURE),
        (0xA800, StatusCategory.FAILURE),
        (0x1234, StatusCategory.FAILURE),
    ],
)
def test_categorise(status: int, category: StatusCategory) -> None:
    assert categorise(status) is category


def test_every_status_has_one_category() -> None:
    assert {categorise(status) for status in range(0x10000)} == set(StatusCategory)


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (0x0000, "0x0000 Success"),
        (0xA700, "0xA700 Out of resources"),
        (0xA7F3, "0xA7F3 Out of resources"),
        (0xA900, "0xA900 Data set does not match SOP Class"),
        (0xB000, "0xB000 Coercion of data elements"),
        (0xB006, "0xB006 Elements discarded"),
        (0xB007, "0xB007 Data set does not match SOP Class"),
        (0xC123, "0xC123 Cannot understand"),
        (0x0122, "0x0122 SOP Class not supported"),
        (0x0124, "0x0124 Not authorised"),
        (0xBEEF, "0xBEEF Warning"),
        (0x1234, "0x1234 Unknown status"),
    ],
)
def test_describe(status: int, text: str) -> None:
    assert describe(status) == text


def test_store_status_reads_as_the_ledger_records_it() -> None:
    status = StoreStatus(0xA900, "PixelData too short", "(7FE0,0010)")

    assert status.category() is StatusCategory.FAILURE
    assert str(status) == (
        "0xA900 Data set does not match SOP Class, Error Comment 'PixelData too "
        "short', Offending Element (7FE0,0010)"
    )
    assert str(StoreStatus(0)) == "0x0000 Success"
