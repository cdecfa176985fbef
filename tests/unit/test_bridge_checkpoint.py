"""The bridge's position in the metadata log (services.bridge.checkpoint)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.bridge.checkpoint import (
    CheckpointFile,
    CorruptCheckpoint,
    initial_position,
    parse_checkpoint,
    time_ago_arg,
)

S = 1_000_000_000
NOW = 1_795_556_645_274_528_084


def test_initial_position_prefers_the_saved_one() -> None:
    assert initial_position(123, now_ns=NOW, lookback_seconds=3600) == 123


def test_initial_position_without_checkpoint_is_now_or_the_lookback() -> None:
    assert initial_position(None, now_ns=NOW, lookback_seconds=0) == NOW
    assert initial_position(None, now_ns=NOW, lookback_seconds=90) == NOW - 90 * S


def test_time_ago_covers_the_gap_plus_the_margin() -> None:
    assert time_ago_arg(NOW - 10 * S, now_ns=NOW, margin_seconds=5) == f"{15 * S // 1000}us"
    # a checkpoint "in the future" (the filer's clock is ahead) still replays the margin
    assert time_ago_arg(NOW + 3 * S, now_ns=NOW, margin_seconds=2) == f"{2 * S // 1000}us"
    assert time_ago_arg(NOW, now_ns=NOW, margin_seconds=0) == "1us"


def test_file_round_trip_and_atomic_replacement(tmp_path: Path) -> None:
    checkpoint = CheckpointFile(tmp_path / "state" / "bridge-checkpoint-files")
    assert checkpoint.load() is None
    checkpoint.save(NOW)
    assert checkpoint.load() == NOW
    checkpoint.save(NOW + 5)
    assert checkpoint.load() == NOW + 5
    # no temporary files left beside it
    assert [p.name for p in checkpoint.path.parent.iterdir()] == ["bridge-checkpoint-files"]


@pytest.mark.parametrize("text", ["", "abc", "-5", "12.5"])
def test_corrupt_checkpoint_is_refused(text: str, tmp_path: Path) -> None:
    with pytest.raises(CorruptCheckpoint):
        parse_checkpoint(text)
    path = tmp_path / "cp"
    path.write_text(text)
    with pytest.raises(CorruptCheckpoint):
        CheckpointFile(path).load()
