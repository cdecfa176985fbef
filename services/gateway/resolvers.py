"""The fileManager resolvers: permission check, the operation, and the ``{data, error}`` envelope.

Errors that belong to the caller (a ServiceError) come back in ``error`` with a stable code;
anything else propagates and becomes a GraphQL error without internals (see ``schema.format_error``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

from ariadne import MutationType, ObjectType, QueryType, SchemaBindable
from graphql import GraphQLError, GraphQLResolveInfo

from services.gateway.budget import Cost
from services.gateway.context import RequestContext
from services.gateway.files import record_to_graphql
from services.gateway.permissions import Action, access, require_any_file_scope, require_settings
from services.gateway.preferences import preferences_to_graphql
from services.gateway.upload_service import Uploader
from shared.errors import ServiceError
from shared.logging import get_logger

Payload = dict[str, Any]
Info: TypeAlias = "GraphQLResolveInfo[RequestContext]"


async def respond(info: Info, action: Callable[[RequestContext], Awaitable[Payload]]) -> Payload:
    """Run ``action``; ServiceErrors (permission included) become ``{data: null, error}``."""
    ctx = info.context
    try:
        ctx.budget.spend(Cost.OPERATIONS)
        payload = await action(ctx)
    except ServiceError as exc:
        _refused(info, exc)
        return {"data": None, "error": exc.to_dict()}
    except Exception:
        ctx.metrics.operations.labels(info.field_name, "INTERNAL").inc()
        raise
    ctx.metrics.operations.labels(info.field_name, "ok").inc()
    return {"error": None, **payload}


def _refused(info: Info, exc: ServiceError) -> None:
    ctx = info.context
    ctx.metrics.operations.labels(info.field_name, exc.code).inc()
    log = get_logger(__name__).bind(operation=info.field_name, code=exc.code, subject=ctx.principal.subject)
    if exc.status >= 500:
        log.warning("operation failed", error=exc.message)
    else:
        log.info("operation refused", error=exc.message)


def _uploader(ctx: RequestContext) -> Uploader:
    access(ctx.principal, Action.WRITE)  # files:write or files:write:own
    return Uploader(subject=ctx.principal.subject, display_name=ctx.principal.name)


async def _src_prefix(ctx: RequestContext) -> str:
    return (await ctx.preferences.get()).src_prefix


# --- queries ----------------------------------------------------------------------------------------


async def version(_obj: Any, info: Info) -> str | None:
    """The catalog's schema version (the admin app reads null as 'not installed', so a database
    that does not answer is an error with its code, not null)."""
    try:
        info.context.budget.spend(Cost.OPERATIONS)
        return await info.context.catalog.version()
    except ServiceError as exc:
        _refused(info, exc)
        raise GraphQLError(exc.message, extensions={"code": exc.code, "data": exc.data}) from exc


async def get_pre_signed_post_payload(_obj: Any, info: Info, **args: Any) -> Payload:
    async def action(ctx: RequestContext) -> Payload:
        return {"data": await ctx.uploads.presign(_uploader(ctx), args["data"], ctx.budget)}

    return await respond(info, action)


async def get_pre_signed_post_payloads(_obj: Any, info: Info, **args: Any) -> Payload:
    async def action(ctx: RequestContext) -> Payload:
        return {"data": await ctx.uploads.presign_many(_uploader(ctx), args["data"], ctx.budget)}

    return await respond(info, action)


async def get_file(_obj: Any, info: Info, **args: Any) -> Payload:
    async def action(ctx: RequestContext) -> Payload:
        record = await ctx.files.get(access(ctx.principal, Action.READ), str(args["id"]))
        return {"data": record_to_graphql(record, await _src_prefix(ctx))}

    return await respond(info, action)


async def list_files(_obj: Any, info: Info, **args: Any) -> Payload:
    async def action(ctx: RequestContext) -> Payload:
        reach = access(ctx.principal, Action.READ)
        ctx.budget.spend(Cost.LISTS)
        page = await ctx.files.list_files(reach, args)
        prefix = await _src_prefix(ctx)
        return {
            "data": [record_to_graphql(record, prefix) for record in page.items],
            "meta": {"cursor": page.cursor, "totalCount": page.total_count, "hasMoreItems": page.has_more},
        }

    return await respond(info, action)


async def list_tags(_obj: Any, info: Info, **args: Any) -> list[str]:
    """Plain strings, as the admin app selects them; a refusal is a GraphQL error with its code."""
    result = await list_tags_with_count(_obj, info, **args)
    if result["error"] is not None:
        error = result["error"]
        raise GraphQLError(error["message"], extensions={"code": error["code"], "data": error["data"]})
    return [item["tag"] for item in result["data"]]


async def list_tags_with_count(_obj: Any, info: Info, **args: Any) -> Payload:
    async def action(ctx: RequestContext) -> Payload:
        reach = access(ctx.principal, Action.READ)
        ctx.budget.spend(Cost.LISTS)
        tags = await ctx.files.tags(reach, args.get("where"))
        return {"data": [{"tag": t.tag, "count": t.count} for t in tags]}

    return await respond(info, action)


async def get_settings(_obj: Any, info: Info) -> Payload:
    async def action(ctx: RequestContext) -> Payload:
        require_any_file_scope(ctx.principal)
        return {"data": preferences_to_graphql(await ctx.preferences.get())}

    return await respond(info, action)


# --- mutations --------------------------------------------------------------------------------------


async def create_file(_obj: Any, info: Info, **args: Any) -> Payload:
    async def action(ctx: RequestContext) -> Payload:
        record = await ctx.files.create(
            access(ctx.principal, Action.WRITE), args.get("data") or {}, display=ctx.principal.name
        )
        return {"data": record_to_graphql(record, await _src_prefix(ctx))}

    return await respond(info, action)


async def update_file(_obj: Any, info: Info, **args: Any) -> Payload:
    async def action(ctx: RequestContext) -> Payload:
        record = await ctx.files.update(access(ctx.principal, Action.WRITE), str(args["id"]), args.get("data") or {})
        return {"data": record_to_graphql(record, await _src_prefix(ctx))}

    return await respond(info, action)


async def delete_file(_obj: Any, info: Info, **args: Any) -> Payload:
    async def action(ctx: RequestContext) -> Payload:
        await ctx.files.delete(access(ctx.principal, Action.DELETE), str(args["id"]))
        return {"data": True}

    return await respond(info, action)


async def update_settings(_obj: Any, info: Info, **args: Any) -> Payload:
    async def action(ctx: RequestContext) -> Payload:
        require_settings(ctx.principal)
        return {"data": preferences_to_graphql(await ctx.preferences.update(args.get("data")))}

    return await respond(info, action)


async def create_multi_part_upload(_obj: Any, info: Info, **args: Any) -> Payload:
    async def action(ctx: RequestContext) -> Payload:
        uploader = _uploader(ctx)
        return {"data": await ctx.uploads.create_multipart(uploader, args["data"], args["numberOfParts"], ctx.budget)}

    return await respond(info, action)


async def complete_multi_part_upload(_obj: Any, info: Info, **args: Any) -> Payload:
    async def action(ctx: RequestContext) -> Payload:
        record = await ctx.uploads.complete_multipart(
            access(ctx.principal, Action.WRITE), args["fileKey"], args["uploadId"]
        )
        return {"data": True, "file": record_to_graphql(record, await _src_prefix(ctx))}

    return await respond(info, action)


def _namespace(_obj: Any, _info: Info) -> dict[str, Any]:
    return {}


def bindables() -> list[SchemaBindable]:
    query = QueryType()
    query.set_field("fileManager", _namespace)
    mutation = MutationType()
    mutation.set_field("fileManager", _namespace)

    fm_query = ObjectType("FmQuery")
    fm_query.set_field("version", version)
    fm_query.set_field("getPreSignedPostPayload", get_pre_signed_post_payload)
    fm_query.set_field("getPreSignedPostPayloads", get_pre_signed_post_payloads)
    fm_query.set_field("getFile", get_file)
    fm_query.set_field("listFiles", list_files)
    fm_query.set_field("listTags", list_tags)
    fm_query.set_field("listTagsWithCount", list_tags_with_count)
    fm_query.set_field("getSettings", get_settings)

    fm_mutation = ObjectType("FmMutation")
    fm_mutation.set_field("createFile", create_file)
    fm_mutation.set_field("updateFile", update_file)
    fm_mutation.set_field("deleteFile", delete_file)
    fm_mutation.set_field("updateSettings", update_settings)
    fm_mutation.set_field("createMultiPartUpload", create_multi_part_upload)
    fm_mutation.set_field("completeMultiPartUpload", complete_multi_part_upload)
    return [query, mutation, fm_query, fm_mutation]
