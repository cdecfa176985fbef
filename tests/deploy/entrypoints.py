"""What a container command may run: ``python -m <module>`` where the module is a real entry point
of this project, and which settings classes that entry point reads."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("gateway", "download", "resize", "cleanup", "bridge")


def module_of(command: list[str]) -> str:
    """The module of ``python -m <module> [args]``; AssertionError for any other command shape."""
    assert len(command) >= 3 and command[0] == "python" and command[1] == "-m", f"not python -m: {command}"
    return command[2]


def is_entry_point(module: str) -> bool:
    """A module that ``python -m`` runs: a package with ``__main__`` or a module with a main guard."""
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        return False
    if spec is None or spec.origin is None:
        return False
    if spec.submodule_search_locations is not None:  # a package: needs __main__.py
        return importlib.util.find_spec(f"{module}.__main__") is not None
    return 'if __name__ == "__main__"' in Path(spec.origin).read_text()


def check_command(command: list[str]) -> str:
    module = module_of(command)
    assert is_entry_point(module), f"{command} names no entry point of this project"
    return module


def settings_classes(module: str) -> list[type[BaseSettings]]:
    """The settings an entry point builds: its service's settings module (shared's for devstack)."""
    parts = module.split(".")
    settings_module = ".".join(parts[:2]) + ".settings" if parts[0] == "services" else "shared.settings"
    loaded = importlib.import_module(settings_module)
    found = [
        value
        for value in vars(loaded).values()
        if isinstance(value, type) and issubclass(value, BaseSettings) and value.__module__ == loaded.__name__
    ]
    if parts[0] != "services":
        found = [cls for cls in found if cls.__name__ == "CommonSettings"]
    # The most derived classes only: a service's class already includes the mixins it extends.
    return [cls for cls in found if not any(other is not cls and issubclass(other, cls) for other in found)]


def env_names(cls: type[BaseSettings]) -> dict[str, str]:
    """Environment variable -> field name, as pydantic-settings reads them (prefix, aliases)."""
    prefix = str(cls.model_config.get("env_prefix") or "")
    names: dict[str, str] = {}
    for name, field in cls.model_fields.items():
        alias = field.validation_alias if isinstance(field.validation_alias, str) else field.alias
        names[(alias or f"{prefix}{name}").upper()] = name
    return names


def build_settings(cls: type[BaseSettings], env: dict[str, str]) -> BaseSettings:
    """The settings from exactly this environment (no other source); raises what a start would."""
    fields = env_names(cls)
    return cls.model_validate({fields[key]: value for key, value in env.items() if key in fields})
