"""``python -m services.download``: serve ``/files/{key}`` until SIGTERM."""

from __future__ import annotations

from services.download.app import build
from services.download.settings import DownloadSettings
from shared.runtime import serve


def main() -> None:
    serve("download", DownloadSettings, build)


if __name__ == "__main__":
    main()
