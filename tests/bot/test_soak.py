"""The fault soak (`bench/soak.py`) in small: a few questions per fault through the real handlers, the loopback
fakes and the simulated clock, with the soak's own verdicts. The model-timeout fault is left to the benchmark
(it is the one fault that needs the client's wall-clock timeout to fire)."""

from __future__ import annotations

import pytest

from bench.soak import EXHAUSTING, FAULTS, SoakResult, soak

FAULTS_HERE = tuple(f for f in FAULTS if f != "model_timeout")


@pytest.fixture(scope="module")
def result() -> SoakResult:
    return soak(questions=4 * len(FAULTS_HERE), faults=FAULTS_HERE, seed=7, budget_s=10_000)


def test_no_question_is_lost_posted_twice_in_part_or_late(result: SoakResult) -> None:
    total = result.total()
    assert total["questions"] == 4 * len(FAULTS_HERE)
    assert (total["lost"], total["posted_twice"], total["partial_unsaid"], total["told_late"]) == (0, 0, 0, 0)
    assert set(result.rows) == set(FAULTS_HERE) and all(row["questions"] > 0 for row in result.rows.values())


def test_every_apology_is_explained_by_the_faults_of_its_question(result: SoakResult) -> None:
    total = result.total()
    assert total["apology_unexplained"] == 0
    for fault, row in result.rows.items():
        if fault in EXHAUSTING:
            assert row["apologised"] == row["questions"] == row["stored_failed"]  # told, and stored as failed
        else:
            assert row["apologised"] == 0 and row["answered"] == row["questions"]


def test_the_injected_faults_really_hit(result: SoakResult) -> None:
    for fault in ("discord_outage_40s", "model_500", "model_cut_off", "model_down"):
        assert result.rows[fault]["faulty_attempts"] >= result.rows[fault]["questions"], fault
