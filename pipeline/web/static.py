"""/static/: the files emails link to (the logo), from [render] static.

Starlette's StaticFiles answers the path (no file outside the folder, symbolic links
included), the content type, ETag, Last-Modified and 304s; this adds how long caches
and mail clients' image proxies may keep a file."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# A day, then a revalidation (ETag): a logo keeps its URL in every email already sent,
# so a new logo under the same name must reach readers, only not on every open.
CACHE_CONTROL = "public, max-age=86400"


class BrandFiles(StaticFiles):
    async def check_config(self) -> None:
        # Without the folder there is nothing to serve: 404s, not a 500 on every request.
        if self.directory is not None and Path(self.directory).is_dir():
            await super().check_config()

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["cache-control"] = CACHE_CONTROL
        return response


def static_mount(directory: Path) -> Mount:
    # check_dir=False: a deployment without the folder still starts (and answers 404).
    return Mount("/static", app=BrandFiles(directory=directory, check_dir=False), name="static")
