"""Which metadata-log records the bridge skips (services.bridge.recent): a record that reached the
log after a newer one is still handled; one handled already, or older than the window, is not."""

from __future__ import annotations

from services.bridge.recent import RecentRecords

S = 1_000_000_000
NOW = 1_795_556_645_274_528_084
A = RecentRecords.identity(b'{"name":"a.jpg"}')
B = RecentRecords.identity(b'{"name":"b.jpg"}')


def test_records_after_the_position_are_new_until_handled() -> None:
    recent = RecentRecords(5 * S)
    assert recent.is_new(NOW + 1, A, NOW)
    recent.remember(NOW + 1, A)
    assert not recent.is_new(NOW + 1, A, NOW + 1)


def test_a_late_record_within_the_window_is_new() -> None:
    recent = RecentRecords(5 * S)
    recent.remember(NOW, A)
    # b was stamped a millisecond before a but reached the log after it
    assert recent.is_new(NOW - 1_000_000, B, NOW)
    recent.remember(NOW - 1_000_000, B)
    assert not recent.is_new(NOW - 1_000_000, B, NOW)
    # the same timestamp with other content is another record
    assert recent.is_new(NOW, B, NOW)


def test_records_older_than_the_window_are_replays() -> None:
    recent = RecentRecords(5 * S)
    assert not recent.is_new(NOW - 5 * S, A, NOW)
    assert not recent.is_new(NOW - 6 * S, B, NOW)


def test_what_it_remembers_is_bounded_by_the_window() -> None:
    recent = RecentRecords(5 * S)
    for i in range(1000):
        recent.remember(NOW + i * S // 10, RecentRecords.identity(str(i).encode()))
    assert len(recent) <= 51  # 5 s of records at 10 a second
