"""The download service's in-process cache: bounded, LRU, expiring, evicted per file."""

from __future__ import annotations

from datetime import UTC, datetime

from services.download.cache import ENTRY_OVERHEAD, ObjectCache
from shared.keys import VariantKey
from shared.s3 import ObjectInfo

FILE_A = "a" * 32
FILE_B = "b" * 32


def info(key: str, size: int, etag: str = "e1") -> ObjectInfo:
    return ObjectInfo(key=key, size=size, etag=etag, content_type="image/jpeg", last_modified=datetime.now(UTC))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bodies_and_metadata_are_kept_within_the_budget_least_recent_out() -> None:
    cache = ObjectCache(max_bytes=3 * (ENTRY_OVERHEAD + 100), max_item_bytes=100, ttl=60)
    for name in ("one", "two", "three"):
        cache.put_body(info(f"{FILE_A}/{name}", 100), b"x" * 100)
    assert cache.get(f"{FILE_A}/one") is not None  # now the most recent
    cache.put_body(info(f"{FILE_A}/four", 100), b"y" * 100)
    assert cache.get(f"{FILE_A}/two") is None  # the least recently used went
    assert cache.get(f"{FILE_A}/one") is not None and cache.get(f"{FILE_A}/four") is not None
    assert cache.used_bytes <= 3 * (ENTRY_OVERHEAD + 100)


def test_big_bodies_are_not_kept_but_their_metadata_is() -> None:
    cache = ObjectCache(max_bytes=10_000, max_item_bytes=100, ttl=60)
    cache.put_body(info(f"{FILE_A}/big", 101), b"x" * 101)
    assert cache.get(f"{FILE_A}/big") is None
    cache.put_info(info(f"{FILE_A}/big", 101))
    entry = cache.get(f"{FILE_A}/big")
    assert entry is not None and entry.body is None and entry.info.size == 101


def test_a_body_of_the_wrong_length_is_refused() -> None:
    cache = ObjectCache(max_bytes=10_000, max_item_bytes=100, ttl=60)
    cache.put_body(info(f"{FILE_A}/x", 50), b"short")
    assert cache.get(f"{FILE_A}/x") is None


def test_entries_expire() -> None:
    clock = Clock()
    cache = ObjectCache(max_bytes=10_000, max_item_bytes=100, ttl=5, clock=clock)
    cache.put_body(info(f"{FILE_A}/x", 3), b"abc")
    clock.now += 4.9
    assert cache.get(f"{FILE_A}/x") is not None
    clock.now += 0.2
    assert cache.get(f"{FILE_A}/x") is None
    assert cache.used_bytes == 0 and len(cache) == 0


def test_evicting_a_file_forgets_its_original_and_every_variant_only() -> None:
    cache = ObjectCache(max_bytes=100_000, max_item_bytes=100, ttl=60)
    keys_a = [
        f"{FILE_A}/photo.jpg",
        str(VariantKey(FILE_A, "photo.jpg", 300, "jpg")),
        str(VariantKey(FILE_A, "photo.jpg", 300, "webp")),
    ]
    keys_b = [f"{FILE_B}/photo.jpg", str(VariantKey(FILE_B, "photo.jpg", 300, "jpg"))]
    for key in keys_a + keys_b:
        cache.put_body(info(key, 1), b"x")
    assert cache.evict_file(FILE_A) == 3
    assert all(cache.get(key) is None for key in keys_a)
    assert all(cache.get(key) is not None for key in keys_b)


def test_new_metadata_with_another_etag_drops_the_old_body() -> None:
    cache = ObjectCache(max_bytes=10_000, max_item_bytes=100, ttl=60)
    cache.put_body(info(f"{FILE_A}/x", 3, etag="old"), b"abc")
    cache.put_info(info(f"{FILE_A}/x", 3, etag="old"))
    entry = cache.get(f"{FILE_A}/x")
    assert entry is not None and entry.body == b"abc"
    cache.put_info(info(f"{FILE_A}/x", 4, etag="new"))
    entry = cache.get(f"{FILE_A}/x")
    assert entry is not None and entry.body is None and entry.info.etag == "new"


def test_a_zero_budget_caches_nothing() -> None:
    cache = ObjectCache(max_bytes=0, max_item_bytes=100, ttl=60)
    cache.put_body(info(f"{FILE_A}/x", 1), b"x")
    cache.put_info(info(f"{FILE_A}/y", 1))
    assert len(cache) == 0 and cache.max_item_bytes == 0


def test_evicting_a_file_counts_only_what_is_still_cached() -> None:
    cache = ObjectCache(max_bytes=3 * 512 + 30, max_item_bytes=100, ttl=60)
    cache.put_body(info(f"{FILE_A}/photo.jpg", 10), b"x" * 10)
    cache.put_body(info(str(VariantKey(FILE_A, "photo.jpg", 300, "jpg")), 10), b"x" * 10)
    cache.put_body(info(f"{FILE_B}/photo.jpg", 10), b"x" * 10)
    # this one pushes out FILE_A's original
    cache.put_body(info(str(VariantKey(FILE_B, "photo.jpg", 300, "jpg")), 10), b"x" * 10)
    assert cache.get(f"{FILE_A}/photo.jpg") is None
    assert cache.evict_file(FILE_A) == 1
    assert cache.evict_file(FILE_A) == 0
    assert cache.evict_file(FILE_B) == 2
    assert len(cache) == 0 and cache.used_bytes == 0
