"""JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/) as a JSON Schema (Draft 2020-12),
written from the spec's text, for checking the feeds we publish.

Stricter than the spec in two places, both on purpose: a URL must be absolute (the
spec's examples all are, and readers resolve relative ones differently) and an `id`
must be a string (the spec lets readers coerce other types; we never rely on that).
Dates carry a pattern besides `format: date-time`: jsonschema checks that format only
when rfc3339-validator is installed, and it is not here."""

from __future__ import annotations

from typing import Any

RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"

# "Publishers can use custom objects in JSON Feeds. Names must start with an _ character
# followed by a letter." Allowed on the feed, items, authors, hubs and attachments.
EXTENSIONS: dict[str, Any] = {"^_[A-Za-z]": {"type": "object"}}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://jsonfeed.org/version/1.1",
    "$defs": {
        "text": {"type": "string"},
        "url": {"type": "string", "format": "uri", "pattern": r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$"},
        "date": {"type": "string", "format": "date-time", "pattern": RFC3339},
        "author": {
            "type": "object",
            "properties": {
                "name": {"$ref": "#/$defs/text"},
                "url": {"$ref": "#/$defs/url"},
                "avatar": {"$ref": "#/$defs/url"},
            },
            # "if you provide an author object, then at least one is required"
            "anyOf": [{"required": ["name"]}, {"required": ["url"]}, {"required": ["avatar"]}],
            "patternProperties": EXTENSIONS,
            "additionalProperties": False,
        },
        "authors": {"type": "array", "items": {"$ref": "#/$defs/author"}},
        "hub": {
            "type": "object",
            "required": ["type", "url"],
            "properties": {
                "type": {"type": "string", "minLength": 1},
                "url": {"$ref": "#/$defs/url"},
            },
            "patternProperties": EXTENSIONS,
            "additionalProperties": False,
        },
        "attachment": {
            "type": "object",
            "required": ["url", "mime_type"],
            "properties": {
                "url": {"$ref": "#/$defs/url"},
                "mime_type": {"type": "string", "minLength": 1},
                "title": {"$ref": "#/$defs/text"},
                "size_in_bytes": {"type": "number", "minimum": 0},
                "duration_in_seconds": {"type": "number", "minimum": 0},
            },
            "patternProperties": EXTENSIONS,
            "additionalProperties": False,
        },
        "item": {
            "type": "object",
            "required": ["id"],
            # "content_html and content_text are each optional strings — but one or both
            # must be present."
            "anyOf": [{"required": ["content_html"]}, {"required": ["content_text"]}],
            "properties": {
                "id": {"type": "string", "minLength": 1},
                "url": {"$ref": "#/$defs/url"},
                "external_url": {"$ref": "#/$defs/url"},
                "title": {"$ref": "#/$defs/text"},
                "content_html": {"$ref": "#/$defs/text"},
                "content_text": {"$ref": "#/$defs/text"},
                "summary": {"$ref": "#/$defs/text"},
                "image": {"$ref": "#/$defs/url"},
                "banner_image": {"$ref": "#/$defs/url"},
                "date_published": {"$ref": "#/$defs/date"},
                "date_modified": {"$ref": "#/$defs/date"},
                "authors": {"$ref": "#/$defs/authors"},
                "author": {"$ref": "#/$defs/author"},  # 1.0's, deprecated but valid
                "tags": {"type": "array", "items": {"type": "string"}},
                "language": {"type": "string", "minLength": 1},
                "attachments": {"type": "array", "items": {"$ref": "#/$defs/attachment"}},
            },
            "patternProperties": EXTENSIONS,
            "additionalProperties": False,
        },
    },
    "type": "object",
    "required": ["version", "title", "items"],
    "properties": {
        "version": {"const": "https://jsonfeed.org/version/1.1"},
        "title": {"$ref": "#/$defs/text"},
        "home_page_url": {"$ref": "#/$defs/url"},
        "feed_url": {"$ref": "#/$defs/url"},
        "description": {"$ref": "#/$defs/text"},
        "user_comment": {"$ref": "#/$defs/text"},
        "next_url": {"$ref": "#/$defs/url"},
        "icon": {"$ref": "#/$defs/url"},
        "favicon": {"$ref": "#/$defs/url"},
        "authors": {"$ref": "#/$defs/authors"},
        "author": {"$ref": "#/$defs/author"},
        "language": {"type": "string", "minLength": 1},
        "expired": {"type": "boolean"},
        "hubs": {"type": "array", "items": {"$ref": "#/$defs/hub"}},
        "items": {"type": "array", "items": {"$ref": "#/$defs/item"}},
    },
    "patternProperties": EXTENSIONS,
    "additionalProperties": False,
}
