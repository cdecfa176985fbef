"""What an operator reads: one JSON object per line on stderr, our own lines and the standard
library's (uvicorn, aio-pika) alike, with the service, level, logger and correlation id; lines
below the configured level are not written. Each case runs in a fresh interpreter, since the
configuration is process-wide."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

from shared.logging import new_correlation_id


def lines_of(program: str, level: str = "INFO") -> list[dict[str, Any]]:
    setup = f"""
        import logging
        from shared.logging import bind_correlation_id, configure_logging, get_logger
        log = get_logger("services.download.endpoint")  # made at import time, as the services do
        configure_logging("download", {level!r}, "json")
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(setup) + textwrap.dedent(program)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert done.stdout == ""
    return [json.loads(line) for line in done.stderr.splitlines()]


def test_our_lines_and_the_standard_librarys_are_json_with_the_same_fields() -> None:
    records = lines_of(
        """
        bind_correlation_id("abc-123")
        log.info("request", status=200, path="/files/x")
        logging.getLogger("uvicorn.error").warning("from uvicorn")
        """
    )
    ours, theirs = records
    assert ours == {
        "event": "request",
        "status": 200,
        "path": "/files/x",
        "level": "info",
        "service": "download",
        "logger": "services.download.endpoint",
        "correlation_id": "abc-123",
        "timestamp": ours["timestamp"],
    }
    assert ours["timestamp"].endswith("Z")
    assert theirs["event"] == "from uvicorn" and theirs["level"] == "warning"
    assert (theirs["service"], theirs["logger"], theirs["correlation_id"]) == ("download", "uvicorn.error", "abc-123")


def test_lines_below_the_level_are_not_written() -> None:
    records = lines_of(
        """
        log.debug("quiet")
        log.info("also quiet")
        log.warning("loud")
        logging.getLogger("uvicorn.error").info("quiet too")
        """,
        level="WARNING",
    )
    assert [r["event"] for r in records] == ["loud"]


def test_an_exception_is_logged_with_its_traceback() -> None:
    (record,) = lines_of(
        """
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("unexpected error")
        """
    )
    assert record["level"] == "error"
    assert "ValueError: boom" in record["exception"] and "Traceback" in record["exception"]


def test_a_bad_level_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from shared.logging import configure_logging; configure_logging('x', 'LOUD')"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0 and "unknown log level 'LOUD'" in done.stderr


def test_correlation_ids_look_like_uuid_hex_and_do_not_repeat() -> None:
    ids = [new_correlation_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
