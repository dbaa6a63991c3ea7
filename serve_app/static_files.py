"""The pages' files (``serve_app/static/``): read once from the package, served only by name from a list,
never by path, so a request cannot reach any other file; ``add_page`` routes a page and its files."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response


@lru_cache(maxsize=8)
def static_text(name: str) -> str:
    return (resources.files("serve_app") / "static" / name).read_text(encoding="utf-8")


def static_file(name: str, types: dict[str, str]) -> Response:
    """The file ``name`` when ``types`` lists it (with its media type), else 404."""
    if name not in types:
        raise HTTPException(status_code=404, detail="no such file")
    return Response(static_text(name), media_type=types[name])


def add_page(router: APIRouter, paths: Sequence[str], page: str, files_at: str, types: dict[str, str]) -> None:
    """GET ``paths``: the HTML ``page``; GET ``files_at``/{name}: the files ``types`` lists (none in the schema)."""

    async def page_route() -> HTMLResponse:
        return HTMLResponse(static_text(page))

    async def file_route(name: str) -> Response:
        return static_file(name, types)

    for path in paths:
        router.add_api_route(path, page_route, methods=["GET"], response_class=HTMLResponse, include_in_schema=False)
    router.add_api_route(f"{files_at}/{{name}}", file_route, methods=["GET"], include_in_schema=False)
