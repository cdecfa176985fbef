"""The resize worker's pure rules: when to answer before a dead-lettering failure, which quality, which settings."""

from __future__ import annotations

import pytest

from services.resize.settings import ResizeSettings
from services.resize.worker import Limits, is_last_attempt
from shared.settlement import ATTEMPT_LIMIT


@pytest.mark.parametrize(
    ("headers", "last"),
    [
        (None, False),  # a first attempt
        ({}, False),
        ({"x-attempt": 2}, False),
        ({"x-attempt": ATTEMPT_LIMIT - 1}, False),
        ({"x-attempt": ATTEMPT_LIMIT}, True),  # a failure now is dead-lettered: answer the caller
        ({"x-attempt": ATTEMPT_LIMIT + 1}, True),
        ({"x-attempt": str(ATTEMPT_LIMIT)}, False),  # not a count: a first attempt
        ({"x-delivery-count": ATTEMPT_LIMIT}, False),  # the broker's count of crashes is not ours
    ],
)
def test_is_last_attempt(headers: dict[str, object] | None, last: bool) -> None:
    assert is_last_attempt(headers) is last


def test_quality_per_format() -> None:
    limits = Limits(max_pixels=1, max_source_bytes=1, jpeg_quality=82, webp_quality=75)
    assert (limits.quality("jpeg"), limits.quality("webp"), limits.quality("png")) == (82, 75, 82)


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PORT", "MAX_PIXELS", "MAX_SOURCE_BYTES", "JPEG_QUALITY", "WORKER_THREADS", "JOB_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    settings = ResizeSettings()
    assert settings.port == 8002
    assert settings.max_pixels == 50_000_000
    assert settings.max_source_bytes == 100 * 1024 * 1024
    assert (settings.jpeg_quality, settings.webp_quality) == (82, 80)
    assert settings.job_timeout == 30
    assert settings.pool_size() >= 1


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9102")
    monkeypatch.setenv("MAX_PIXELS", "1000")
    monkeypatch.setenv("WORKER_THREADS", "3")
    monkeypatch.setenv("JOB_TIMEOUT", "2.5")
    settings = ResizeSettings()
    assert (settings.port, settings.max_pixels, settings.pool_size(), settings.job_timeout) == (
        9102,
        1000,
        3,
        2.5,
    )


@pytest.mark.parametrize(("name", "value"), [("JPEG_QUALITY", "0"), ("WORKER_THREADS", "-1"), ("JOB_TIMEOUT", "0")])
def test_settings_refuse_nonsense(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError):
        ResizeSettings()


def test_each_output_format_has_its_own_quality() -> None:
    limits = Limits(max_pixels=1, max_source_bytes=1, jpeg_quality=82, webp_quality=75, avif_quality=55)
    assert [limits.quality(f) for f in ("jpeg", "png", "webp", "avif")] == [82, 82, 75, 55]
