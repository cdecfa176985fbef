"""The fileManager resolvers: scope check, the operation, and the ``{data, error}`` envelope.

Errors that belong to the caller (a ServiceError) come back in ``error`` with a stable code;
anything else propagates and becomes a GraphQL error without internals (see ``errors_format``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

from ariadne import MutationType, ObjectType, QueryType, SchemaBindable
from graphql import GraphQLResolveInfo

from services.gateway import auth
from services.gateway.context import RequestContext
from services.gateway.listing import build_list_query
from shared.errors import Forbidden, NotSupported, ServiceError
from shared.logging import get_logger

Payload = dict[str, Any]
Info: TypeAlias = "GraphQLResolveInfo[RequestContext]"
Resolver = Callable[..., Awaitable[Any]]


async def respond(info: Info, needed: str | None, action: Callable[[RequestContext], Awaitable[Payload]]) -> Payload:
    """Run ``action`` for a caller holding ``needed``; ServiceErrors become ``{data: null, error}``."""
    ctx = info.context
    operation = info.field_name
    try:
        if needed is not None and not ctx.principal.can(needed):
            raise Forbidden(f"The token lacks the scope {needed}.", data={"requiredScope": needed})
        payload = await action(ctx)
    except ServiceError as exc:
        ctx.metrics.operations.labels(operation, exc.code).inc()
        log = get_logger(__name__).bind(operation=operation, code=exc.code, subject=ctx.principal.subject)
        if exc.status >= 500:
            log.warning("operation failed", error=exc.message)
        else:
            log.info("operation refused", error=exc.message)
        return {"data": None, "error": exc.to_dict()}
    except Exception:
        ctx.metrics.operations.labels(operation, "INTERNAL").inc()
        raise
    ctx.metrics.operations.labels(operation, "ok").inc()
    return {"error": None, **payload}


async def version(_obj: Any, _info: Info) -> str | None:
    """Null until the catalog exists: the admin app reads this as 'not installed'."""
    return None


async def get_pre_signed_post_payload(_obj: Any, info: Info, **args: Any) -> Payload:
    async def action(ctx: RequestContext) -> Payload:
        request = ctx.policy.check(args["data"])
        return {"data": ctx.files.presign(request)}

    return await respond(info, auth.WRITE, action)


async def get_pre_signed_post_payloads(_obj: Any, info: Info, **args: Any) -> Payload:
    async def action(ctx: RequestContext) -> Payload:
        requests = ctx.policy.check_many(args["data"])
        return {"data": [ctx.files.presign(request) for request in requests]}

    return await respond(info, auth.WRITE, action)


async def get_file(_obj: Any, info: Info, **args: Any) -> Payload:
    async def action(ctx: RequestContext) -> Payload:
        record = await ctx.files.get(str(args["id"]))
        return {"data": record.to_graphql()}

    return await respond(info, auth.READ, action)


async def list_files(_obj: Any, info: Info, **args: Any) -> Payload:
    async def action(ctx: RequestContext) -> Payload:
        page = await ctx.files.list_files(build_list_query(args))
        return {
            "data": [record.to_graphql() for record in page.items],
            "meta": {"cursor": page.cursor, "totalCount": page.total_count, "hasMoreItems": page.has_more},
        }

    return await respond(info, auth.READ, action)


async def list_tags(_obj: Any, _info: Info, **_args: Any) -> list[str]:
    """No file has tags until the catalog exists."""
    return []


async def get_settings(_obj: Any, info: Info) -> Payload:
    async def action(ctx: RequestContext) -> Payload:
        return {
            "data": {
                "uploadMinFileSize": ctx.policy.min_size,
                "uploadMaxFileSize": ctx.policy.max_size,
                "srcPrefix": ctx.files.src_prefix,
            }
        }

    return await respond(info, auth.READ, action)


async def create_file(_obj: Any, info: Info, **args: Any) -> Payload:
    async def action(ctx: RequestContext) -> Payload:
        record = await ctx.files.create((args.get("data") or {}).get("key"))
        return {"data": record.to_graphql()}

    return await respond(info, auth.WRITE, action)


async def update_file(_obj: Any, info: Info, **_args: Any) -> Payload:
    async def action(_ctx: RequestContext) -> Payload:
        raise NotSupported("Updating a file record needs the file catalog, which is not available yet.")

    return await respond(info, auth.WRITE, action)


async def delete_file(_obj: Any, info: Info, **args: Any) -> Payload:
    async def action(ctx: RequestContext) -> Payload:
        await ctx.files.delete(str(args["id"]))
        return {"data": True}

    return await respond(info, auth.DELETE, action)


async def update_settings(_obj: Any, info: Info, **_args: Any) -> Payload:
    async def action(_ctx: RequestContext) -> Payload:
        raise NotSupported("Settings are read from the service configuration until the catalog exists.")

    return await respond(info, auth.SETTINGS, action)


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
    fm_query.set_field("getSettings", get_settings)

    fm_mutation = ObjectType("FmMutation")
    fm_mutation.set_field("createFile", create_file)
    fm_mutation.set_field("updateFile", update_file)
    fm_mutation.set_field("deleteFile", delete_file)
    fm_mutation.set_field("updateSettings", update_settings)
    return [query, mutation, fm_query, fm_mutation]
