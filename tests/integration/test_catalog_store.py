"""PgCatalog against a real PostgreSQL: records, visibility, owners, pagination, filters, tags,
settings, and the remembered deletions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from devstack.database import Database
from services.gateway.catalog.migrate import apply_migrations, migrate
from services.gateway.catalog.model import (
    FileChanges,
    ListFilter,
    ListRequest,
    NewFile,
    PreferenceChanges,
    Preferences,
    TagCount,
)
from services.gateway.catalog.store import PgCatalog
from shared.errors import NotFound, Unavailable, ValidationFailed

DEFAULTS = Preferences(
    upload_min_file_size=1,
    upload_max_file_size=1024,
    src_prefix="http://127.0.0.1:8001/files/",
    allowed_types=("*/*",),
)


@pytest.fixture
async def catalog(database_url: str) -> AsyncIterator[PgCatalog]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        yield PgCatalog(pool, DEFAULTS)
    finally:
        await pool.close()


def new_file(
    name: str = "photo.jpg",
    *,
    type: str = "image/jpeg",
    owner: str | None = "alice",
    tags: tuple[str, ...] = (),
    size: int = 100,
) -> NewFile:
    file_id = uuid.uuid4().hex
    return NewFile(id=file_id, key=f"{file_id}/{name}", name=name, type=type, size=size, created_by=owner, tags=tags)


async def ready_file(catalog: PgCatalog, name: str = "photo.jpg", **kwargs: object) -> NewFile:
    new = new_file(name, **kwargs)  # type: ignore[arg-type]
    await catalog.register_uploaded(new, size=new.size, etag="etag-" + new.id[:6])
    return new


async def test_a_pending_record_is_invisible_until_the_upload_is_confirmed(catalog: PgCatalog) -> None:
    new = new_file(tags=("holiday",))
    pending = await catalog.register_pending(new)
    assert pending.status == "pending"
    assert await catalog.get(new.id) is None
    assert (await catalog.list(ListRequest(ListFilter(), limit=10))).total_count == 0

    confirmed = await catalog.confirm(new.key, size=42, etag="abc")
    assert confirmed is not None
    got = await catalog.get(new.id)
    assert got is not None
    assert (got.status, got.size, got.etag, got.tags) == ("ready", 42, "abc", ("holiday",))


async def test_create_file_after_the_event_keeps_what_s3_reported(catalog: PgCatalog) -> None:
    new = new_file()
    await catalog.register_pending(new)
    await catalog.confirm(new.key, size=42, etag="from-s3")
    described = NewFile(
        id=new.id, key=new.key, name="renamed.jpg", type=new.type, size=999, created_by="alice", tags=("a", "b")
    )
    record = await catalog.register_uploaded(described, size=999, etag="other")
    assert (record.name, record.size, record.etag, record.tags) == ("renamed.jpg", 42, "from-s3", ("a", "b"))


async def test_create_file_before_the_event_makes_the_record_ready(catalog: PgCatalog) -> None:
    new = new_file()
    await catalog.register_pending(new)
    record = await catalog.register_uploaded(new, size=77, etag="e1")
    assert (record.status, record.size, record.etag) == ("ready", 77, "e1")
    # the event arriving afterwards is harmless
    again = await catalog.confirm(new.key, size=77, etag="e1")
    assert again is not None and again.status == "ready"


async def test_concurrent_registrations_of_one_key_make_one_record(catalog: PgCatalog) -> None:
    new = new_file()
    records = await asyncio.gather(*(catalog.register_uploaded(new, size=10, etag="e") for _ in range(4)))
    assert {r.id for r in records} == {new.id}
    page = await catalog.list(ListRequest(ListFilter(), limit=10))
    assert page.total_count == 1


async def test_a_deleted_key_never_comes_back(catalog: PgCatalog) -> None:
    new = await ready_file(catalog)
    deleted = await catalog.delete(new.id)
    assert deleted is not None and deleted.key == new.key
    assert await catalog.get(new.id) is None
    assert await catalog.confirm(new.key, size=1, etag="late") is None  # a late object.created
    assert await catalog.find_by_key(new.key) is None
    assert await catalog.rejection(new.id) is None  # deleted, not rejected
    with pytest.raises(NotFound):
        await catalog.register_uploaded(new, size=1, etag=None)
    assert await catalog.delete(new.id) is None


async def test_delete_file_and_the_removal_event_at_once_never_deadlock(catalog: PgCatalog) -> None:
    made = [await ready_file(catalog, f"f{i}.txt") for i in range(40)]
    await asyncio.gather(*(op for new in made for op in (catalog.delete(new.id), catalog.remove(new.key))))
    assert (await catalog.list(ListRequest(ListFilter(), limit=10))).total_count == 0
    for new in made:
        assert await catalog.confirm(new.key, size=1, etag="late") is None


async def test_a_removal_before_the_record_exists_wins(catalog: PgCatalog) -> None:
    new = new_file()
    assert await catalog.remove(new.key) is False
    await catalog.register_pending(new)  # say the payload was issued on a replica that lagged
    assert await catalog.confirm(new.key, size=5, etag="x") is None
    assert await catalog.get(new.id) is None


async def test_a_rejected_record_keeps_its_reason_and_is_not_listed(catalog: PgCatalog) -> None:
    new = new_file()
    await catalog.register_pending(new)
    rejected = await catalog.reject(new.key, "declared image/jpeg but the content is text/html")
    assert rejected is not None and rejected.status == "rejected"
    assert await catalog.remove(new.key) is False  # the removal of the rejected object
    assert await catalog.get(new.id) is None
    kept = await catalog.rejection(new.id)
    assert kept is not None and kept.reason == "declared image/jpeg but the content is text/html"
    assert await catalog.rejection(new.id, owner="bob") is None
    assert await catalog.confirm(new.key, size=1, etag="dup") is None  # a duplicated object.created
    with pytest.raises(ValidationFailed, match="text/html"):
        await catalog.register_uploaded(new, size=1, etag=None)


async def test_owner_sees_changes_and_deletes_only_its_own(catalog: PgCatalog) -> None:
    mine = await ready_file(catalog, owner="alice")
    theirs = await ready_file(catalog, owner="bob")
    assert await catalog.get(theirs.id, owner="alice") is None
    assert await catalog.get(mine.id, owner="alice") is not None
    assert await catalog.update(theirs.id, FileChanges(name="x"), owner="alice") is None
    assert await catalog.delete(theirs.id, owner="alice") is None
    assert await catalog.get(theirs.id) is not None  # untouched
    page = await catalog.list(ListRequest(ListFilter(owner="alice"), limit=10))
    assert [r.id for r in page.items] == [mine.id] and page.total_count == 1


async def test_update_changes_only_what_is_given(catalog: PgCatalog) -> None:
    new = await ready_file(catalog, tags=("one",))
    updated = await catalog.update(new.id, FileChanges(meta={"alt": "a cat"}))
    assert updated is not None
    assert (updated.name, updated.tags, updated.meta) == (new.name, ("one",), {"alt": "a cat"})
    renamed = await catalog.update(new.id, FileChanges(name="cat.jpg", tags=()))
    assert renamed is not None and (renamed.name, renamed.tags, renamed.meta) == ("cat.jpg", (), {"alt": "a cat"})


async def test_keyset_pages_are_newest_first_without_gaps_or_repeats(catalog: PgCatalog) -> None:
    made = [await ready_file(catalog, f"f{i}.txt", type="text/plain") for i in range(7)]
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = await catalog.list(ListRequest(ListFilter(), limit=3, after=after))
        pages += 1
        assert page.total_count == 7
        seen += [r.id for r in page.items]
        assert page.has_more == (page.cursor is not None)
        if page.cursor is None:
            break
        after = page.cursor
    assert pages == 3
    assert seen == [f.id for f in reversed(made)]
    # a record added meanwhile does not shift the pages of a listing in progress
    first = await catalog.list(ListRequest(ListFilter(), limit=3))
    await ready_file(catalog, "newer.txt")
    second = await catalog.list(ListRequest(ListFilter(), limit=3, after=first.cursor))
    assert [r.id for r in second.items] == [f.id for f in reversed(made)][3:6]


async def test_the_total_count_stops_at_the_count_limit(catalog: PgCatalog, database_url: str) -> None:
    for i in range(5):
        await ready_file(catalog, f"f{i}.txt", tags=("x",))
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        capped = PgCatalog(pool, DEFAULTS, count_limit=3)
        page = await capped.list(ListRequest(ListFilter(tags_all=("x",)), limit=4))
        assert (page.total_count, len(page.items), page.has_more) == (3, 4, True)
        small = await capped.list(ListRequest(ListFilter(tags_all=("x",), ids=(page.items[0].id,)), limit=4))
        assert (small.total_count, small.has_more) == (1, False)
    finally:
        await pool.close()


async def test_a_bad_cursor_is_a_validation_error(catalog: PgCatalog) -> None:
    for cursor in ("nonsense", "eyJhIjoxfQ", "W10", "x" * 2000):
        with pytest.raises(ValidationFailed):
            await catalog.list(ListRequest(ListFilter(), limit=3, after=cursor))


async def test_every_filter(catalog: PgCatalog) -> None:
    cat = await ready_file(catalog, "Black_Cat.JPG", type="image/jpeg", tags=("animals", "scope:pets"), owner="a")
    dog = await ready_file(catalog, "dog.png", type="image/png", tags=("animals", "dogs"), owner="b")
    doc = await ready_file(catalog, "report 100%.pdf", type="application/pdf", tags=("work",), owner="a")
    svg = await ready_file(catalog, "logo.svg", type="image/svg+xml", tags=(), owner="b")

    async def ids(**kwargs: object) -> set[str]:
        result = await catalog.list(ListRequest(ListFilter(**kwargs), limit=100))  # type: ignore[arg-type]
        assert result.total_count == len(result.items)
        return {r.id for r in result.items}

    assert await ids(search="cat") == {cat.id}
    assert await ids(search="CAT") == {cat.id}
    assert await ids(search="_") == {cat.id}  # LIKE wildcards are literal
    assert await ids(search="100%") == {doc.id}
    assert await ids(types=("image/*",)) == {cat.id, dog.id, svg.id}
    assert await ids(types=("image/png", "application/pdf")) == {dog.id, doc.id}
    assert await ids(types=("IMAGE/JPEG",)) == {cat.id}
    assert await ids(types=("*/*",)) == {cat.id, dog.id, doc.id, svg.id}
    assert await ids(tags_all=("animals", "dogs")) == {dog.id}
    assert await ids(tags_any=("dogs", "work")) == {dog.id, doc.id}
    assert await ids(tag_starts_with="scope:") == {cat.id}
    assert await ids(tag_not_starts_with="scope:") == {dog.id, doc.id, svg.id}
    assert await ids(tag_starts_with="pets") == set()  # a prefix of the tag, not of any substring
    assert await ids(tag_starts_with="do") == {dog.id}
    assert await ids(ids=(cat.id, svg.id, "missing")) == {cat.id, svg.id}
    assert await ids(ids=()) == set()
    assert await ids(created_by="a") == {cat.id, doc.id}
    assert await ids(owner="b", types=("image/*",), tag_not_starts_with="scope:") == {dog.id, svg.id}
    assert await ids(search="o", tags_all=("animals",), types=("image/png",)) == {dog.id}


async def test_list_tags_counts_ready_records(catalog: PgCatalog) -> None:
    await ready_file(catalog, tags=("animals", "scope:pets"), owner="a")
    await ready_file(catalog, tags=("animals", "dogs"), owner="b")
    pending = new_file(tags=("secret",))
    await catalog.register_pending(pending)
    assert await catalog.list_tags() == [
        TagCount("animals", 2),
        TagCount("dogs", 1),
        TagCount("scope:pets", 1),
    ]
    assert await catalog.list_tags(not_starts_with="scope:") == [TagCount("animals", 2), TagCount("dogs", 1)]
    assert await catalog.list_tags(starts_with="scope:") == [TagCount("scope:pets", 1)]
    assert await catalog.list_tags(owner="b") == [TagCount("animals", 1), TagCount("dogs", 1)]


async def test_settings_start_from_the_defaults_and_keep_changes(catalog: PgCatalog) -> None:
    assert await catalog.get_preferences() == DEFAULTS
    changed = await catalog.update_preferences(PreferenceChanges(upload_max_file_size=5000))
    assert changed.upload_max_file_size == 5000 and changed.upload_min_file_size == 1
    changed = await catalog.update_preferences(PreferenceChanges(allowed_types=("image/*",), src_prefix="https://cdn/"))
    assert await catalog.get_preferences() == Preferences(1, 5000, "https://cdn/", ("image/*",))


async def test_version_and_ping(catalog: PgCatalog) -> None:
    assert await catalog.version() == "0002"
    await catalog.ping()


async def test_migrations_apply_once(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        assert await apply_migrations(conn) == []  # the template was migrated already
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == 2
    finally:
        await conn.close()


async def test_a_database_that_does_not_answer_is_unavailable(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    catalog = PgCatalog(pool, DEFAULTS, timeout=1.0)
    await pool.close()
    with pytest.raises(Unavailable):
        await catalog.ping()


async def test_two_gateways_migrating_a_new_database_at_once_apply_each_file_once(database: Database) -> None:
    url = database.url(f"{database.prefix}_{uuid.uuid4().hex[:8]}")
    try:
        results = await asyncio.gather(*(migrate(url) for _ in range(3)))
        assert sorted(v for applied in results for v in applied) == ["0001", "0002"]
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == 2
            assert await conn.fetchval("SELECT count(*) FROM files") == 0
        finally:
            await conn.close()
    finally:
        await database.drop(url)
