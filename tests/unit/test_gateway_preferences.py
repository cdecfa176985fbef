"""updateSettings input: ranges, consistency with the current values, srcPrefix, allowed types."""

from __future__ import annotations

from typing import Any

import pytest

from services.gateway.catalog.model import PreferenceChanges, Preferences
from services.gateway.preferences import preference_changes, preferences_to_graphql, upload_policy
from shared.errors import ValidationFailed

CURRENT = Preferences(
    upload_min_file_size=1, upload_max_file_size=1000, src_prefix="http://a/files/", allowed_types=("*/*",)
)


def _invalid(raw: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ValidationFailed) as caught:
        preference_changes(raw, CURRENT)
    fields: dict[str, Any] = (caught.value.data or {})["invalidFields"]
    return {name: problem["code"] for name, problem in fields.items()}


def test_valid_changes() -> None:
    changes = preference_changes(
        {"uploadMaxFileSize": 5 * 1024**3, "srcPrefix": " https://cdn.example/files ", "allowedTypes": ["Image/*"]},
        CURRENT,
    )
    assert changes == PreferenceChanges(
        upload_max_file_size=5 * 1024**3, src_prefix="https://cdn.example/files/", allowed_types=("image/*",)
    )
    assert preference_changes(None, CURRENT) == PreferenceChanges()


def test_invalid_changes_name_every_field() -> None:
    assert _invalid({"uploadMaxFileSize": 0, "srcPrefix": "ftp://x/"}) == {
        "uploadMaxFileSize": "OUT_OF_RANGE",
        "srcPrefix": "INVALID",
    }
    assert _invalid({"uploadMinFileSize": 2000}) == {"uploadMinFileSize": "GREATER_THAN_MAX"}
    assert _invalid({"uploadMinFileSize": 10, "uploadMaxFileSize": 5}) == {"uploadMinFileSize": "GREATER_THAN_MAX"}
    assert _invalid({"allowedTypes": []}) == {"allowedTypes": "INVALID"}
    assert _invalid({"allowedTypes": ["images"]}) == {"allowedTypes": "INVALID"}


def test_the_stored_settings_drive_the_upload_policy_and_the_answer() -> None:
    policy = upload_policy(CURRENT)
    assert (policy.min_size, policy.max_size, policy.allowed_types) == (1, 1000, ("*/*",))
    assert preferences_to_graphql(CURRENT)["allowedTypes"] == ["*/*"]
