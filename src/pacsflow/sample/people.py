"""Made-up patients, and the corrections the legacy database made to some of them.

Every name, ID and birth date here is synthetic. A patient has the values its images
were stored with (``header_*``) and the values the legacy database holds now
(``db_*``); for most patients they are equal. Drift kinds say how they differ:

``non_ascii``
    The database has the name with its diacritics (``Müller^Jürgen``); the header has
    the ASCII spelling an old modality worklist forced on it (``MULLER^JURGEN``).
``caret``
    The header has an initial only, empty trailing components and trailing spaces
    (``VISSER^M^^  ``); the database has the full, corrected name.
``patient_id``
    Two digits of the patient ID were swapped at registration and fixed later.
``birth_date``
    The patient was registered as unknown (``19000101``) and identified later.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date

DRIFT_KINDS = ("non_ascii", "caret", "patient_id", "birth_date")

_SURNAMES = (
    "de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder",
    "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Dijk", "Dekker", "Brouwer",
    "van der Linden", "Kok", "Smith", "Taylor", "Brown", "Wilson", "Evans", "Walker",
)  # fmt: skip
_GIVEN = {
    "F": ("Anna", "Sanne", "Emma", "Lotte", "Femke", "Margaret", "Sarah", "Ingrid"),
    "M": ("Pieter", "Jan", "Daan", "Maarten", "Sander", "Thomas", "James", "Henk"),
}
_NON_ASCII = (
    ("Müller", "Jürgen", "M"),
    ("Özdemir", "Ayşe", "F"),
    ("Brännström", "Åsa", "F"),
    ("Lefèvre", "Hélène", "F"),
    ("Núñez", "José", "M"),
    ("Søndergaard", "Bjørn", "M"),
)
_UNKNOWN_BIRTH_DATE = "19000101"
_BORN_FROM = date(1930, 1, 1).toordinal()
_BORN_UNTIL = date(2005, 1, 1).toordinal()


@dataclass(frozen=True)
class Patient:
    """A synthetic patient: header values, database values, sex."""

    index: int
    header_name: str
    header_id: str
    header_birth_date: str
    db_name: str
    db_id: str
    db_birth_date: str
    sex: str


def drift_kinds(count: int, patients: int, rng: random.Random) -> dict[int, set[str]]:
    """Choose which patients drift and how; every kind but birth date appears."""
    chosen = [0, *rng.sample(range(1, patients), min(count, patients) - 1)]
    kinds: dict[int, set[str]] = {index: set() for index in chosen}
    if len(chosen) < 3:
        kinds[chosen[0]] = {"non_ascii", "patient_id"}
        kinds[chosen[1]] = {"caret"}
        return kinds
    for position, index in enumerate(chosen):
        kinds[index] = {DRIFT_KINDS[position % len(DRIFT_KINDS)]}
    return kinds


def make_patients(
    count: int, drift: dict[int, set[str]], rng: random.Random
) -> tuple[Patient, ...]:
    """Draw ``count`` patients with unique IDs, applying each one's drift kinds."""
    ids = rng.sample(range(1_000_000, 10_000_000), count)
    patients = []
    foreign = 0
    for index in range(count):
        kinds = drift.get(index, set())
        if "non_ascii" in kinds:
            surname, given, sex = _NON_ASCII[foreign % len(_NON_ASCII)]
            foreign += 1
        else:
            sex = rng.choice("FM")
            surname, given = rng.choice(_SURNAMES), rng.choice(_GIVEN[sex])
        patients.append(
            _patient(index, surname, given, sex, str(ids[index]), kinds, rng)
        )
    return tuple(patients)


def _patient(
    index: int,
    surname: str,
    given: str,
    sex: str,
    patient_id: str,
    kinds: set[str],
    rng: random.Random,
) -> Patient:
    """Build one patient, with header values that differ where ``kinds`` says."""
    name = f"{surname}^{given}"
    born = date.fromordinal(rng.randrange(_BORN_FROM, _BORN_UNTIL))
    birth_date = born.strftime("%Y%m%d")
    header_name = name
    if "non_ascii" in kinds:
        header_name = _ascii_upper(name)
    if "caret" in kinds:
        header_name = f"{surname.upper()}^{given[0]}^^  "
    return Patient(
        index=index,
        header_name=header_name,
        header_id=_swap_digits(patient_id) if "patient_id" in kinds else patient_id,
        header_birth_date=(
            _UNKNOWN_BIRTH_DATE if "birth_date" in kinds else birth_date
        ),
        db_name=name,
        db_id=patient_id,
        db_birth_date=birth_date,
        sex=sex,
    )


def _ascii_upper(name: str) -> str:
    """Spell a name the way an ASCII-only system would: no diacritics, upper case."""
    plain = name.translate({ord("ø"): "o", ord("Ø"): "O"})
    decomposed = unicodedata.normalize("NFKD", plain)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def _swap_digits(patient_id: str) -> str:
    """Swap the first two adjacent digits that differ, as a typing slip would."""
    for position in range(len(patient_id) - 1):
        first, second = patient_id[position], patient_id[position + 1]
        if first != second:
            head, tail = patient_id[:position], patient_id[position + 2 :]
            return head + second + first + tail
    return patient_id[:-1] + str((int(patient_id[-1]) + 1) % 10)
