"""listFiles arguments as a catalog ListRequest: limits, every filter, and how they combine."""

from __future__ import annotations

import pytest

from services.gateway.listing import DEFAULT_LIMIT, MAX_LIMIT, build_list_request, intersect_types, type_patterns
from shared.errors import ValidationFailed


def test_limits() -> None:
    assert build_list_request({}, owner=None).limit == DEFAULT_LIMIT
    assert build_list_request({"limit": 1000}, owner=None).limit == MAX_LIMIT
    with pytest.raises(ValidationFailed):
        build_list_request({"limit": 0}, owner=None)


def test_what_the_admin_app_sends_for_its_main_view() -> None:
    request = build_list_request(
        {"limit": 50, "tags": [], "types": [], "where": {"tag_not_startsWith": "scope:"}, "after": None}, owner=None
    )
    f = request.filter
    assert request.limit == 50 and request.after is None
    assert f.types == () and f.tags_all == () and f.ids is None and f.search is None
    assert f.tag_not_starts_with == "scope:"


def test_every_filter_is_carried() -> None:
    request = build_list_request(
        {
            "types": ["Image/*"],
            "tags": ["Holiday ", "holiday"],
            "search": "  my   photo ",
            "ids": ["a", "b"],
            "after": "cursor",
            "where": {
                "type_in": ["image/png", "application/pdf"],
                "tag": "Beach",
                "tag_and_in": ["sun"],
                "tag_in": ["x", "Y"],
                "tag_startsWith": "Scope:",
                "id_in": ["b", "c"],
                "createdBy": "alice",
            },
        },
        owner="bob",
    )
    f = request.filter
    assert f.types == ("image/png",)
    assert f.tags_all == ("holiday", "beach", "sun") and f.tags_any == ("x", "y")
    assert f.search == "my photo" and f.tag_starts_with == "scope:"
    assert f.ids == ("b",) and f.created_by == "alice" and f.owner == "bob"
    assert request.after == "cursor"


def test_contradicting_filters_match_nothing() -> None:
    assert build_list_request({"types": ["image/png"], "where": {"type": "video/mp4"}}, owner=None).filter.ids == ()
    assert build_list_request({"ids": ["a"], "where": {"id_in": ["b"]}}, owner=None).filter.ids == ()


def test_type_patterns_and_their_intersection() -> None:
    assert type_patterns(["IMAGE/PNG", "image/*", "*/*", None]) == ("image/png", "image/*", "*/*")
    for bad in ("png", "image/", "image/png; q=1", "*"):
        with pytest.raises(ValidationFailed):
            type_patterns([bad])
    assert intersect_types(("image/*",), ("image/png", "video/mp4")) == ("image/png",)
    assert intersect_types(("*/*",), ("image/*",)) == ("image/*",)
    assert intersect_types(("image/png",), ("video/*",)) == ()


def test_search_is_bounded() -> None:
    with pytest.raises(ValidationFailed):
        build_list_request({"search": "x" * 201}, owner=None)


@pytest.mark.parametrize(
    "args",
    [
        {"types": ["image/png"] * 51},
        {"where": {"type_in": ["image/*"] * 51}},
        {"tags": ["a"] * 51},
        {"where": {"tag_in": ["a"] * 51}},
        {"where": {"tag_and_in": ["a"] * 51}},
        {"ids": ["x"] * 1001},
        {"where": {"id_in": ["x"] * 1001}},
    ],
)
def test_filter_lists_are_bounded(args: dict[str, object]) -> None:
    with pytest.raises(ValidationFailed) as caught:
        build_list_request(args, owner=None)
    (problem,) = (caught.value.data or {})["invalidFields"].values()
    assert problem["code"] == "TOO_MANY"
