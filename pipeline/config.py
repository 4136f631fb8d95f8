"""config.toml: load, validate with pydantic, resolve relative paths.

Every mistake becomes a ConfigError with one line per problem naming the file,
the key path and what is expected. Secrets never live here: see `secrets_from_env`.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
import zoneinfo
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    PrivateAttr,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from subscribers.segments import MATCH_ALL, Rule, RuleError, compile_rule

from .errors import ConfigError, UnknownName
from .publish.http import embed_origin
from .tracking import DEFAULT_STRIP_PARAMS, DEFAULT_STRIP_PARAMS_BY_HOST, StripRules

if TYPE_CHECKING:
    from .timeline import Timeline

Section = Literal["news", "research", "events"]
DEFAULT_SECTIONS: tuple[Section, ...] = ("news", "research", "events")


class _Strict(BaseModel):
    # Unknown keys are almost always typos; refusing them beats silently ignoring them.
    model_config = ConfigDict(extra="forbid", frozen=True)


def _one_line(value: Any) -> Any:
    """Values that become mail headers (Subject, From, Reply-To, List-Id, List-Unsubscribe):
    a CR or LF there would end the header and start one of the value's choosing."""
    if isinstance(value, str) and ("\r" in value or "\n" in value):
        raise ValueError("contains a line break (CR or LF): this value goes into a mail "
                         "header and must be one line")
    return value


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _https_or_loopback(value: str) -> str:
    """An https URL; plain http only to this machine (a test double, a local relay)."""
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return value
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return value
    raise ValueError(f"expected an https:// URL (http:// only for a loopback host such as "
                     f"http://127.0.0.1:8025), got {value!r}")


class Newsletter(_Strict):
    name: str = Field(min_length=1)
    from_email: EmailStr
    from_name: str = Field(min_length=1)
    reply_to: EmailStr | None = None
    # Offered as the mailto: alternative in List-Unsubscribe when set.
    unsubscribe_email: EmailStr | None = None
    postal_address: str = Field(min_length=1)
    base_url: str
    timezone: str = "UTC"
    language: str = "en"
    society: str | None = None  # the publisher, shown in the footer (default: name)
    # An absolute URL, or a path on base_url such as "/static/io-insights-logo.png" (the
    # app serves [render] static there). A PNG: many mail clients do not show SVG.
    logo_url: str | None = None
    logo_alt: str | None = None
    subject: str = "{name} — {date}"

    _header_values = field_validator("name", "from_email", "from_name", "reply_to",
                                     "unsubscribe_email", "base_url", "subject",
                                     mode="before")(_one_line)

    @field_validator("subject")
    @classmethod
    def _subject_fields(cls, value: str) -> str:
        try:
            value.format(name="n", date="d", number=1)
        except (KeyError, IndexError, ValueError, AttributeError, TypeError) as e:
            raise ValueError(f"unknown or malformed placeholder {e}; use {{name}}, "
                             "{number} and {date}") from None
        return value

    @field_validator("base_url", "logo_url")
    @classmethod
    def _absolute_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        base = info.data.get("base_url")
        if info.field_name == "logo_url" and value.startswith("/"):
            if base is None:  # base_url's own error says what to fix
                return value
            value = base + value
        if not value.startswith(("https://", "http://")):
            raise ValueError("expected an absolute http(s) URL such as https://news.example.org"
                             + (" or a path on base_url such as /static/logo.png"
                                if info.field_name == "logo_url" else ""))
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _iana_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"expected an IANA time zone such as Europe/Paris, got {value!r}") from None
        return value

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?")


def parse_duration(value: str) -> timedelta:
    """'24h', '90m', '1d12h' -> a timedelta (days, hours, minutes)."""
    match = _DURATION.fullmatch(value.strip().lower()) if isinstance(value, str) else None
    if not match or not any(match.groups()):
        raise ValueError(f"expected a duration such as '24h', '90m' or '1d12h', got {value!r}")
    days, hours, minutes = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


def _crontab(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        CronTrigger.from_crontab(value)
    except ValueError as e:
        raise ValueError(f"expected a 5-field crontab like '0 7 * * mon' ({e})") from None
    return value


def _weekly(crontab: str | None, tz: zoneinfo.ZoneInfo) -> None:
    """One issue a week: the send slot may fire at most once per ISO week."""
    if crontab is None:
        return
    from datetime import UTC, datetime

    trigger = CronTrigger.from_crontab(crontab, timezone=tz)
    t, weeks = trigger.get_next_fire_time(None, datetime(2026, 1, 5, tzinfo=UTC)), set()
    for _ in range(12):
        if t is None:
            raise ValueError(f"schedule.send: {crontab!r} never fires (no such date?); "
                             "the newsletter is weekly (e.g. '0 7 * * mon')")
        week = t.astimezone(tz).isocalendar()[:2]
        if week in weeks:
            raise ValueError(f"schedule.send: {crontab!r} fires more than once a week; "
                             "the newsletter is weekly (e.g. '0 7 * * mon')")
        weeks.add(week)
        t = trigger.get_next_fire_time(None, t.astimezone(UTC) + timedelta(hours=1))


class Schedule(_Strict):
    """The editorial week (pipeline/timeline.py), in newsletter.timezone: the draft is
    made at `draft`, sent at `send` once approved (or as it stands with approval =
    "optional"), never later than `late_by` after the slot; the editors are reminded
    `remind` before the slot if nobody approved. The old `cron` is both in one step."""

    draft: str | None = None
    send: str | None = None
    approval: Literal["required", "optional"] | None = None
    late_by: str = "24h"
    remind: str = "12h"
    cron: str | None = None  # deprecated: draft and send in one step

    _check_crontabs = field_validator("draft", "send", "cron")(_crontab)

    @field_validator("late_by", "remind")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        if self.cron is not None and (self.draft is not None or self.send is not None):
            raise ValueError("cron: set draft and send (the timeline) or the old cron, "
                             "not both")
        if self.draft is not None and self.send is None:
            raise ValueError("send: a draft slot needs a send slot (send = \"0 7 * * mon\")")
        if parse_duration(self.late_by) > timedelta(days=6):
            raise ValueError("late_by: at most 6 days (the next week's issue comes then)")
        if parse_duration(self.late_by) < timedelta(minutes=10):
            # A tick seconds after the slot would find an approved issue already late.
            raise ValueError("late_by: at least 10 minutes (cron ticks every 5 minutes)")
        return self

    @property
    def deprecated(self) -> str | None:
        if self.cron is None:
            return None
        return (f"[schedule] cron is deprecated: it drafts and sends in one step. Use "
                f"draft = \"0 9 * * thu\" and send = {self.cron!r} with approval = "
                "\"required\" so editors review the issue before it goes.")


class StoreConfig(_Strict):
    """The [store] section: where the database is (not the database: that is
    pipeline.store.store.Store)."""

    url: str = "sqlite:///var/insights.db"

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("expected sqlite:///PATH or postgresql://USER@HOST/DB, got "
                             f"{value.split('://')[0]!r}")
        return value


class SendGridOptions(_Strict):
    # The API key is never here: it comes from SENDGRID_API_KEY.
    host: str = "https://api.sendgrid.com"
    timeout: float = Field(default=30.0, gt=0)
    asm_group_id: StrictInt | None = Field(default=None, ge=1)  # unsubscribe group, if used
    sandbox_mode: StrictBool = False
    click_tracking: StrictBool = False
    open_tracking: StrictBool = False
    ip_pool_name: str | None = None

    # The API key travels in every request's Authorization header: over plain http
    # only to a server on this machine (a test double or a local relay).
    _https_unless_loopback = field_validator("host")(_https_or_loopback)


class SmtpOptions(_Strict):
    # The password is never here: it comes from INSIGHTS_SMTP_PASSWORD.
    host: str = "localhost"
    port: StrictInt = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    timeout: float = Field(default=30.0, gt=0)


class Delivery(_Strict):
    backend: Literal["outbox", "sendgrid", "smtp"] = "outbox"
    outbox_dir: Path = Path("outbox")
    # When true, `run` composes and stops at draft until an editor approves.
    require_approval: StrictBool = False
    batch_size: StrictInt = Field(default=1000, ge=1, le=1000)  # SendGrid's personalization cap
    concurrency: StrictInt = Field(default=4, ge=1, le=32)  # batches in flight at once
    # Sending processes, each with its share of the audience and `concurrency` requests
    # in flight (the sendgrid backend; others send from one process). "auto": two on a
    # host with two cores or more, for an audience large enough to repay the second.
    processes: Literal["auto"] | int = "auto"
    max_retries: StrictInt = Field(default=5, ge=0, le=20)  # for 5xx and connection errors
    backoff: float = Field(default=1.0, ge=0)  # seconds before the first retry
    sendgrid: SendGridOptions = SendGridOptions()
    smtp: SmtpOptions = SmtpOptions()

    @field_validator("processes", mode="before")
    @classmethod
    def _processes(cls, value: Any) -> Any:
        if value == "auto" or (type(value) is int and 1 <= value <= 16):
            return value
        raise ValueError(f'expected "auto" or a whole number from 1 to 16 (got {value!r})')


class Source(_Strict):
    name: str = Field(min_length=1)
    url: str = Field(min_length=1)
    kind: Literal["rss", "ics"] = "rss"
    section: Section
    enabled: StrictBool = True
    # A required source that failed holds the draft for an editor's decision instead of
    # composing a thin issue without it (pipeline/editorial.py).
    required: StrictBool = False
    # The words on an item's link ("Register", "Programme"). Unset: "Register" when the
    # link is a registration (it says register, rsvp, tickets...), else "Details".
    link_label: str | None = Field(default=None, min_length=1, max_length=40)

    _one_line_label = field_validator("link_label", mode="before")(_one_line)

    @field_validator("name")
    @classmethod
    def _not_editors(cls, value: str) -> str:
        if value.startswith("editor:"):  # models.EDITOR_SOURCE: items added by hand
            raise ValueError('"editor:" is reserved for the items editors add by hand')
        return value


class ListDef(_Strict):
    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str = Field(min_length=1)
    double_opt_in: StrictBool = False

    # The title is the confirmation email's Subject.
    _header_values = field_validator("title", mode="before")(_one_line)


class VariantOptions(_Strict):
    """How one segment's variant differs: section order, items per section, topics first."""

    sections: list[Section] = Field(default_factory=lambda: list(DEFAULT_SECTIONS),
                                    min_length=1)
    max_items: StrictInt | None = Field(default=None, ge=1, le=50)
    prefer_topics: list[str] = Field(default_factory=list)
    # false: this segment's variant leaves out the blocks editors marked "Sponsored".
    sponsors: StrictBool = True

    @field_validator("sections")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a section is listed twice")
        return value


class Segment(VariantOptions):
    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = ""
    where: dict[str, Any] | None = None
    _rule: Rule = PrivateAttr(default=MATCH_ALL)

    @field_validator("where")
    @classmethod
    def _valid_rule(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            try:
                compile_rule(value)
            except RuleError as e:
                raise ValueError(str(e)) from None
        return value

    def model_post_init(self, __context: Any) -> None:
        if self.where is not None:
            self._rule = compile_rule(self.where)

    @property
    def rule(self) -> Rule:
        return self._rule


class Compose(_Strict):
    max_age_days: StrictInt = Field(default=30, ge=1)
    horizon_days: StrictInt = Field(default=90, ge=1)
    max_items_per_section: StrictInt = Field(default=10, ge=1, le=50)
    # An issue with no new news or research (only reminders of events) is skipped
    # unless this is true.
    events_only_issues: StrictBool = False


class Gather(_Strict):
    # Requests in flight to one host at a time (politeness) ...
    concurrency: StrictInt = Field(default=8, ge=1, le=64)
    # ... and across all hosts.
    max_workers: StrictInt = Field(default=64, ge=1, le=256)
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=10.0, gt=0)
    total_timeout: float = Field(default=20.0, gt=0)
    max_bytes: StrictInt = Field(default=5 * 1024 * 1024, ge=1024)
    max_redirects: StrictInt = Field(default=5, ge=0, le=20)
    retries: StrictInt = Field(default=2, ge=0, le=10)
    backoff: float = Field(default=0.5, ge=0)
    # A source failing this many runs in a row is flagged in the report.
    flag_after_failures: StrictInt = Field(default=3, ge=1)
    # Host names, addresses or CIDR blocks a feed fetch may reach although they are
    # loopback, private, link-local...: everything else internal is refused (SSRF).
    allow_private_hosts: list[str] = Field(default_factory=list)

    @field_validator("allow_private_hosts")
    @classmethod
    def _hosts_or_networks(cls, value: list[str]) -> list[str]:
        return [_host_or_network(i, entry) for i, entry in enumerate(value)]


_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def _host_or_network(index: int, entry: str) -> str:
    """A host name (lower case, no trailing dot) or an address / CIDR block."""
    text = entry.strip()
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        pass
    name = text.rstrip(".").lower()
    labels = name.split(".")
    # An all-digit last label is a mistyped address ("10.0.0.300"), never a top-level domain.
    if len(name) <= 253 and all(map(_HOST_LABEL.match, labels)) and not labels[-1].isdigit():
        return name
    raise ValueError(f"[{index}] {entry!r} is neither a host name nor an IP address or CIDR "
                     'block (examples: "feeds.intranet.example", "10.0.0.5", "10.20.0.0/16")')


class Render(_Strict):
    templates: Path = Path("templates")
    # Files the app serves under /static/ (the logo the emails show).
    static: Path = Path("static")


def _param_names(value: list[str]) -> list[str]:
    for i, name in enumerate(value):
        if not name.strip() or any(c in name for c in "&=#?/ "):
            raise ValueError(f"[{i}] {name!r}: expected a query parameter name such as "
                             '"fbclid" or a pattern such as "utm_*"')
    return [n.strip().lower() for n in value]


class Links(_Strict):
    """The [links] section: tracking parameters removed from gathered links, and ours
    added to links to other sites when `utm` is on (see pipeline/tracking.py)."""

    # Query parameter names or patterns ("utm_*") removed from links to any site.
    strip_params: list[str] = Field(default_factory=lambda: list(DEFAULT_STRIP_PARAMS))
    # host -> names removed only there (and on its subdomains): "v" is PubMed's tracking
    # but YouTube's video.
    strip_params_by_host: dict[str, list[str]] = Field(
        default_factory=lambda: {h: list(n) for h, n in DEFAULT_STRIP_PARAMS_BY_HOST.items()})
    utm: StrictBool = False
    utm_source: str | None = None  # default: the newsletter's name as a slug ("io-insights")
    utm_medium: str = Field(default="email", min_length=1)

    @field_validator("strip_params")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        return _param_names(value)

    @field_validator("strip_params_by_host")
    @classmethod
    def _hosts(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return {host.strip().lower().rstrip("."): _param_names(names)
                for host, names in value.items()}

    @property
    def strip_rules(self) -> StripRules:
        return StripRules(tuple(self.strip_params),
                          {h: tuple(n) for h, n in self.strip_params_by_host.items()})


class Checks(_Strict):
    """The [checks] section: the checks before approval (pipeline/checks)."""

    # The draft step asks every link of the new issue (as "Check links" does) and the
    # editors' "draft is ready" notice says which did not answer. Off unless set: it
    # reaches every site the issue links to (the demo never does; see pipeline/demo.py).
    at_draft: StrictBool = False


def _origin(index: int, value: str) -> str:
    """An origin that may frame the sign-up form, by the one rule the CSP header is
    written with (publish.http.embed_origin: https only, nothing that could change the
    policy), with its place in the list."""
    try:
        return embed_origin(value)
    except ValueError as e:
        raise ValueError(f"[{index}] {e}") from None


class Syndication(_Strict):
    """The [syndication] section: the public archive of sent issues, its feeds and their
    static export (pipeline/publish). Without it: the archive shows the first variant,
    tells no hub and exports nowhere."""

    # The variant the archive shows: a segment's name (or default_segment); "" the first.
    public_variant: str = ""
    # A WebSub hub told whenever a feed changes (https); "" tells none.
    websub_hub: str = ""
    # Where `insights publish` (and every publish after a send) writes the static site,
    # relative to the config file; "" writes none unless `--out` says where.
    publish_dir: str = ""
    # Sites that may frame /subscribe/embed (https origins); none by default.
    embed_origins: list[str] = Field(default_factory=list)
    # The landing page's and the feeds' subtitle.
    description: str = Field(default="", max_length=1000)

    @field_validator("websub_hub")
    @classmethod
    def _hub(cls, value: str) -> str:
        return _https_or_loopback(value.strip()) if value.strip() else ""

    @field_validator("embed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return [_origin(i, origin) for i, origin in enumerate(value)]


DEFAULT_INTERESTS = ("liver", "lung", "kidney", "bone", "immuno-oncology")
DEFAULT_REGIONS = {
    "north-america": "North America", "latin-america": "Latin America", "europe": "Europe",
    "middle-east-africa": "Middle East and Africa", "asia-pacific": "Asia-Pacific",
}


def choice_label(value: str) -> str:
    """'immuno-oncology' -> 'Immuno-oncology': a label for a choice configured without one."""
    return value[:1].upper() + value[1:]


class Preferences(_Strict):
    """What the preferences centre and the sign-up form offer: value -> label. The
    values are what segment rules read (`interests`, `region`)."""

    # None: one per [topics] key, or DEFAULT_INTERESTS when there are no topics.
    interests: dict[str, str] | None = None
    regions: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_REGIONS))

    @field_validator("interests", "regions")
    @classmethod
    def _plain_values(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for key, label in (value or {}).items():
            if not key.strip() or not label.strip():
                raise ValueError(f"{key!r}: expected a non-empty value and label")
        return value


class Config(_Strict):
    newsletter: Newsletter
    schedule: Schedule = Schedule()
    store: StoreConfig = StoreConfig()
    delivery: Delivery = Delivery()
    compose: Compose = Compose()
    render: Render = Render()
    links: Links = Links()
    gather: Gather = Gather()
    checks: Checks = Checks()
    preferences: Preferences = Preferences()
    syndication: Syndication = Syndication()
    # Topic name -> keywords, matched on title and summary as whole words, any case.
    topics: dict[str, list[str]] = Field(default_factory=dict)
    # Journal name as a feed gives it (an ISO abbreviation, a variant) -> the full title the
    # email shows for it, so a journal has one name in every issue (render/citations.py).
    journals: dict[str, str] = Field(default_factory=dict)
    lists: list[ListDef] = Field(min_length=1)
    sources: list[Source] = Field(default_factory=list)
    segments: list[Segment] = Field(default_factory=list)
    # The segment that takes everyone no rule matched; "" turns the catch-all off.
    default_segment: str = "general"
    default_variant: VariantOptions = VariantOptions()
    path: Path = Path("config.toml")

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        for label, names in (
            ("sources", [s.name for s in self.sources]),
            ("segments", [s.name for s in self.segments]),
            ("lists", [entry.name for entry in self.lists]),
        ):
            seen: set[str] = set()
            for name in names:
                if name in seen:
                    raise ValueError(f"{label}: the name {name!r} is used twice")
                seen.add(name)
        known = set(self.topics)
        for i, seg in enumerate(self.segments):
            unknown = [t for t in seg.prefer_topics if t not in known]
            if unknown:
                raise ValueError(f"segments[{i}].prefer_topics: {unknown[0]!r} is not a topic "
                                 f"in [topics] (known: {', '.join(sorted(known)) or 'none'})")
        if self.schedule.approval == "optional" and self.delivery.require_approval:
            raise ValueError("schedule.approval: \"optional\" contradicts "
                             "delivery.require_approval = true (drop the older key)")
        _weekly(self.schedule.send or self.schedule.cron, self.newsletter.tz)
        if self.default_segment in {s.name for s in self.segments}:
            raise ValueError(
                f"default_segment: {self.default_segment!r} is also a configured segment name"
            )
        public = self.syndication.public_variant
        if public and public not in self.variant_names:
            raise ValueError(f"syndication.public_variant: {public!r} is not a variant "
                             f"(known: {', '.join(self.variant_names) or 'none'})")
        return self

    @field_validator("topics")
    @classmethod
    def _topic_keywords(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for topic, words in value.items():
            if not words or not all(w.strip() for w in words):
                raise ValueError(f"{topic}: expected a non-empty list of non-empty keywords")
        return value

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, p: Path | str) -> Path:
        """A path from the config, relative to the config file's folder."""
        p = Path(p)
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def store_url(self) -> str:
        url = self.store.url
        prefix = "sqlite:///"
        path = url.removeprefix(prefix)
        if url.startswith(prefix) and not path.startswith("/") and path != ":memory:":
            return prefix + str(self.resolve(path))
        return url

    def source_location(self, source: Source) -> str:
        if source.url.startswith(("http://", "https://")):
            return source.url
        return str(self.resolve(source.url))

    @property
    def segment_rules(self) -> list[tuple[str, Rule]]:
        return [(s.name, s.rule) for s in self.segments]

    @property
    def variant_names(self) -> list[str]:
        names = [s.name for s in self.segments]
        return names + ([self.default_segment] if self.default_segment else [])

    @property
    def public_variant(self) -> str:
        """The variant the public archive shows: `[syndication] public_variant`, else
        the first ("" when there is none: the default variant's options)."""
        names = self.variant_names
        return self.syndication.public_variant or (names[0] if names else "")

    @property
    def publish_dir(self) -> Path | None:
        """Where every publish exports the static site, or None."""
        folder = self.syndication.publish_dir.strip()
        return self.resolve(folder) if folder else None

    @property
    def interest_choices(self) -> dict[str, str]:
        if self.preferences.interests is not None:
            return dict(self.preferences.interests)
        return {name: choice_label(name) for name in (self.topics or DEFAULT_INTERESTS)}

    @property
    def region_choices(self) -> dict[str, str]:
        return dict(self.preferences.regions)

    def variant_options(self, segment: str) -> VariantOptions:
        for s in self.segments:
            if s.name == segment:
                return s
        return self.default_variant

    @property
    def approval_required(self) -> bool:
        """Editors approve each issue before it goes: `schedule.approval`, or else the
        older `delivery.require_approval`; a timeline (draft and send slots) without
        either requires it, the old one-step cron does not."""
        if self.schedule.approval is not None:
            return self.schedule.approval == "required"
        return self.delivery.require_approval or self.schedule.send is not None

    @property
    def deprecated(self) -> str | None:
        """The line the scheduler's commands print for an older key still set."""
        if self.schedule.deprecated:
            return self.schedule.deprecated
        if self.schedule.send is not None and "require_approval" in self.delivery.model_fields_set:
            return ("[delivery] require_approval is deprecated: with the [schedule] timeline, "
                    "approval = \"required\" or \"optional\" decides (drop the older key).")
        return None

    @property
    def timeline(self) -> Timeline:
        from .timeline import Timeline

        schedule = self.schedule
        send = schedule.send or schedule.cron or "0 7 * * mon"
        return Timeline(
            draft=schedule.draft or send, send=send, tz=self.newsletter.tz,
            approval="required" if self.approval_required else "optional",
            late_by=parse_duration(schedule.late_by), remind=parse_duration(schedule.remind))

    def list_def(self, name: str) -> ListDef:
        for entry in self.lists:
            if entry.name == name:
                return entry
        known = ", ".join(entry.name for entry in self.lists)
        raise UnknownName(f"no list named {name!r}: {self.path.name} has {known} in [[lists]]")


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    if not loc:
        return ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _describe(error: ErrorDetails) -> str:
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see config.toml in the repository for all keys)"
    if kind == "missing":
        return "required key is missing"
    if kind.startswith("value_error"):
        return msg.removeprefix("Value error, ")
    if msg.startswith("Input should be") and isinstance(error.get("input"),
                                                        str | int | float | bool):
        # Types, literals and ranges: "expected a valid integer (got '500')".
        return msg.replace("Input should be", "expected", 1) + f" (got {error['input']!r})"
    return msg.replace("Input should be", "expected", 1)


def parse_config(data: dict[str, Any], path: Path) -> Config:
    try:
        return Config.model_validate({**data, "path": path})
    except ValidationError as e:
        lines = [f"{path}: " + (f"{_key_path(err['loc'])}: " if err["loc"] else "")
                 + _describe(err) for err in e.errors()]
        raise ConfigError("\n".join(lines)) from None


def load_config(path: str | Path) -> Config:
    path = Path(path).resolve()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (pass --config PATH)") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config file: {e.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    if "path" in data:
        raise ConfigError(f"{path}: path: unknown key")
    return parse_config(data, path)
