"""The retry schedule is a pure function: quick first retries, then growing, for at least 24 h."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from webhooks.delivery import next_attempt_at, retry_delay_seconds

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def test_the_first_retries_are_quick_and_then_grow_to_four_hours() -> None:
    delays = [retry_delay_seconds(n) for n in range(1, 12)]
    assert delays == [10, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 14400, 14400]


@pytest.mark.parametrize("failed_attempts", [1, 4, 9, 20])
def test_jitter_moves_a_delay_by_at_most_a_fifth(failed_attempts: int) -> None:
    base = retry_delay_seconds(failed_attempts)
    assert retry_delay_seconds(failed_attempts, -1.0) == pytest.approx(base * 0.8)
    assert retry_delay_seconds(failed_attempts, 1.0) == pytest.approx(base * 1.2)
    assert retry_delay_seconds(failed_attempts, 7.0) == pytest.approx(base * 1.2)  # clamped


def test_the_next_attempt_follows_the_schedule_inside_the_window() -> None:
    now = T0 + timedelta(seconds=10)
    assert next_attempt_at(failed_attempts=2, first_attempt_at=T0, now=now, window=DAY) == now + timedelta(
        seconds=30
    )


def test_the_last_retry_lands_on_the_end_of_the_window_and_then_it_gives_up() -> None:
    almost = T0 + DAY - timedelta(minutes=10)
    assert next_attempt_at(failed_attempts=14, first_attempt_at=T0, now=almost, window=DAY) == T0 + DAY
    assert next_attempt_at(failed_attempts=15, first_attempt_at=T0, now=T0 + DAY, window=DAY) is None


def test_following_the_schedule_retries_for_24_hours_and_not_much_longer() -> None:
    now, failures, times = T0, 0, [T0]
    while True:
        failures += 1
        following = next_attempt_at(failed_attempts=failures, first_attempt_at=T0, now=now, window=DAY)
        if following is None:
            break
        now = following
        times.append(now)
    assert times[-1] - T0 == DAY  # the final attempt is at the 24 h mark; its failure ends it
    gaps = [int((later - earlier).total_seconds()) for earlier, later in pairwise(times)]
    assert gaps[:4] == [10, 30, 60, 300]
    assert 12 <= len(times) <= 20
