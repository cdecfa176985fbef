"""``python -m services.resize``: the resize worker, until SIGTERM."""

from __future__ import annotations

from services.resize.app import build
from services.resize.settings import ResizeSettings
from shared.runtime import serve


def main() -> None:
    serve("resize", ResizeSettings, build)


if __name__ == "__main__":
    main()
