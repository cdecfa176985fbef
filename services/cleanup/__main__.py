"""``python -m services.cleanup``: deletes the variants of removed originals."""

from __future__ import annotations

from services.cleanup.app import build
from services.cleanup.settings import CleanupSettings
from shared.runtime import serve


def main() -> None:
    serve("cleanup", CleanupSettings, build)


if __name__ == "__main__":
    main()
