"""What every email's masthead and footer say about the newsletter (templates/_brand.mjml.j2
draws it): the same for the weekly issue and the one-off emails. Pure."""

from __future__ import annotations

from typing import Any

from ..config import Newsletter


def newsletter_view(nl: Newsletter) -> dict[str, Any]:
    return {
        "name": nl.name, "society": nl.society or nl.name,
        "postal_address": nl.postal_address, "base_url": nl.base_url,
        # The alt text is what the masthead shows with images blocked: never empty.
        "logo_url": nl.logo_url, "logo_alt": nl.logo_alt or nl.society or nl.name,
        "language": nl.language, "from_email": nl.from_email,
    }
