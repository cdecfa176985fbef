"""Every service is built and run the same way: ``services/<name>/__main__.py`` hands its settings
class and ``app.build`` to ``shared.runtime.serve``, and invalid settings stop it with one line."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from shared.runtime import load_settings
from shared.settings import ServiceSettings

SERVICES = {
    "gateway": "GatewaySettings",
    "download": "DownloadSettings",
    "resize": "ResizeSettings",
    "cleanup": "CleanupSettings",
    "bridge": "BridgeSettings",
}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_each_entry_point_serves_its_settings_and_build(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = importlib.import_module(f"services.{name}.__main__")
    app = importlib.import_module(f"services.{name}.app")
    settings_class = getattr(importlib.import_module(f"services.{name}.settings"), SERVICES[name])
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(entry, "serve", lambda *args: calls.append(args))

    entry.main()

    assert calls == [(name, settings_class, app.build)]
    assert issubclass(settings_class, ServiceSettings)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_invalid_settings_stop_a_service_with_one_readable_line(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings_class = getattr(importlib.import_module(f"services.{name}.settings"), SERVICES[name])
    monkeypatch.setenv("PORT", "not-a-port")

    with pytest.raises(SystemExit) as stopped:
        load_settings(name, settings_class)

    message = str(stopped.value.code)
    assert message.startswith(f"{name}: refusing to start: port: ")
    assert "\n" not in message
