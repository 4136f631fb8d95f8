"""Render: context -> Jinja2 (autoescaped) -> MJML -> mjml-python -> css-inline -> HTML,
and context -> text template -> plain text. One rendering per variant, not per person."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import css_inline
import jinja2
import jinja2.ext
from markupsafe import Markup
from mjml import mjml2html

from ..errors import RenderError
from ..models import RenderedVariant
from .placeholders import LEGACY, PLACEHOLDERS, Placeholder, inert
from .plain import wordwrap

HTML_TEMPLATE = "issue.mjml.j2"
TEXT_TEMPLATE = "issue.txt.j2"


# Characters XML 1.0 does not allow (MJML parses the rendered template as XML): a feed
# carrying one would stop the whole issue from compiling.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _only_template_markers(value: Any) -> Any:
    """Jinja's finalize: every value a template outputs passes here. Only the template's
    own placeholders (`links.*`) keep their markers; in anything else (feed text, ICS
    fields, the note, editors' input, sanitised HTML marked safe) they are made inert."""
    if isinstance(value, Placeholder):
        return value
    if isinstance(value, Markup):
        return Markup(inert(str(value)))
    if isinstance(value, str):
        return inert(value)
    return value


def _html_markers(value: Any) -> Any:
    """The same for the HTML part, where the raw name never appears (its placeholder
    means the escaped one) and no value carries a character XML refuses."""
    if isinstance(value, Placeholder) and value == PLACEHOLDERS["first_name"]:
        return PLACEHOLDERS["first_name_html"]
    value = _only_template_markers(value)
    if isinstance(value, str) and _NOT_XML.search(value):
        cleaned = _NOT_XML.sub("", value)
        return Markup(cleaned) if isinstance(value, Markup) else cleaned
    return value


class LegacyPlaceholders(jinja2.ext.Extension):
    """Template source saying `%first_name%` (as templates did before the markers
    changed) means the placeholder. The source is ours; the data it renders is not, and
    that never passes here."""

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        html = not (name or "").endswith(".txt.j2")
        for old, new in LEGACY.items():
            source = source.replace(old, new)
        if html:  # the raw name never reaches HTML, whatever the template says
            source = source.replace(PLACEHOLDERS["first_name"], PLACEHOLDERS["first_name_html"])
        return source


@lru_cache(maxsize=8)
def environment(templates: Path, text: bool = False) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        extensions=[LegacyPlaceholders],
        finalize=_only_template_markers if text else _html_markers,
        # Autoescape everything in the HTML/MJML templates: feed text is untrusted.
        autoescape=not text,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    if text:  # no line break inside a URL, whatever a text template wraps
        env.filters["wordwrap"] = wordwrap
    return env


def _render_template(templates: Path, name: str, context: dict[str, Any], text: bool) -> str:
    try:
        return environment(templates, text).get_template(name).render(context)
    except jinja2.TemplateSyntaxError as e:
        where = f"{e.filename or name}:{e.lineno}"
        raise RenderError(f"{where}: template syntax error: {e.message}") from e
    except jinja2.TemplateNotFound as e:
        raise RenderError(f"template {e.name!r} not found in {templates}") from e
    except jinja2.UndefinedError as e:
        raise RenderError(f"{templates / name}:{_template_line(e, name)}: {e.message}") from e


def _template_line(error: BaseException, name: str) -> str:
    # Jinja rewrites tracebacks so template frames carry the template's own line numbers.
    tb = error.__traceback__
    line = "?"
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(name):
            line = str(tb.tb_lineno)
        tb = tb.tb_next
    return line


def mjml_to_html(mjml: str) -> str:
    try:
        html = mjml2html(mjml, disable_comments=True)
    except Exception as e:  # mjml-python raises a bare Exception carrying MRML's message
        raise RenderError(f"MJML compile failed: {e}") from e
    # MRML keeps <mj-style inline="inline"> rules in <head>; Outlook and Gmail's app
    # need them on the elements themselves.
    return css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False).inline(html)


def render_variant(templates: Path, segment: str, context: dict[str, Any]) -> RenderedVariant:
    mjml = _render_template(templates, HTML_TEMPLATE, context, text=False)
    html = mjml_to_html(mjml)
    text = _render_template(templates, TEXT_TEMPLATE, context, text=True)
    # The subject is filled per recipient too (SendGrid substitutes in it): no markers.
    return RenderedVariant(segment=segment, subject=inert(context["subject"]), html=html,
                           text=text)
