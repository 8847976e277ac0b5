"""The county benchmark's pure helpers (issue 32); the benchmark itself is measured, never
run in the tests."""

from bench.county import TOWNSHIP_RATIO, VILLAGE_RATIO, Read
from bench.county_seed import CREDIT, DEBIT, balance_after


def test_the_history_balance_is_the_running_sum_of_its_movements():
    running = 0
    for k in range(1, 70):
        running += -DEBIT if k % 4 == 0 else CREDIT
        assert balance_after(k) == running
        assert running >= 0


def test_a_village_read_meets_its_goal_within_its_ratio_only():
    assert Read("summary", "village", 15.0, 10.0).met()
    assert not Read("summary", "village", 10.0 * VILLAGE_RATIO + 0.1, 10.0).met()


def test_a_township_comparison_needs_both_under_a_second_and_its_ratio():
    assert Read("villages", "township", 900.0, 900.0 / TOWNSHIP_RATIO).met()
    assert not Read("villages", "township", 1000.0, 500.0).met()
    assert not Read("villages", "township", 310.0, 100.0).met()
