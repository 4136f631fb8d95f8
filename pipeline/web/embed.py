"""Which pages other sites may frame: only the embeddable sign-up form
(/subscribe/embed) and the answer to its POST, and only by the origins in
`[syndication] embed_origins`. Every other response keeps `frame-ancestors 'self'`
(SecurityHeaders in app.py), so no other page of ours can be clickjacked."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from starlette.responses import Response

from ..config import Config

log = logging.getLogger(__name__)
EMBED_FIELD = "embed"  # "1" in the embed form's POST (and its query): answer compactly
FRAME_SELF = "'self'"


def content_security_policy(frame_ancestors: Sequence[str] = (FRAME_SELF,)) -> str:
    """Every page's policy: no script anywhere, forms post only to us, and framed only
    by `frame-ancestors` (ourselves: email previews in the admin are our own frames).
    Remote images are allowed because email previews show them (the logo)."""
    return ("default-src 'self'; img-src 'self' https: data:; style-src 'self' "
            "'unsafe-inline'; script-src 'none'; frame-ancestors "
            f"{' '.join(frame_ancestors)}; form-action 'self'; base-uri 'none'")


def embed_origins(config: Config) -> tuple[str, ...]:
    """The origins that may frame the sign-up form, `[syndication] embed_origins`
    (checked by the config's validator with publish.http.embed_origin), each once."""
    return tuple(dict.fromkeys(config.syndication.embed_origins))


def framed_by(response: Response, origins: Sequence[str]) -> Response:
    """`response`, frameable by us and `origins` only. SecurityHeaders keeps a policy a
    response sets itself, so this is the response's one CSP header."""
    response.headers["content-security-policy"] = content_security_policy(
        (FRAME_SELF, *origins))
    return response
