"""The subscriber-facing routes: every link our emails carry, and the sign-up form.

The paths are fixed by the emails already sent (pipeline/deliver/message.py and
pipeline/render/context.py make them): changing one breaks every old email's links.
"""

from __future__ import annotations

from starlette.routing import Route

from .preferences import preferences
from .subscription import confirm, manage_help, subscribe, subscribe_embed, unsubscribe
from .web_version import event_ics, issue_web_version

routes = [
    Route("/u/{token}", unsubscribe, methods=["GET", "POST"]),
    Route("/p/{token}", preferences, methods=["GET", "POST"]),
    Route("/confirm/{token}", confirm, methods=["GET", "POST"]),
    Route("/subscribe", subscribe, methods=["GET", "POST"]),
    Route("/subscribe/embed", subscribe_embed, methods=["GET"]),
    Route("/manage", manage_help, methods=["GET"]),
    Route("/issues/{issue_id}/{segment}", issue_web_version, methods=["GET"]),
    Route("/events/{item_id:int}.ics", event_ics, methods=["GET"]),
]
