"""config.toml validation: one clear line per mistake, naming file, key path, expectation."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline.config import load_config
from pipeline.errors import ConfigError

from .helpers import edit_config


def error_for(project, old, new) -> str:
    edit_config(project, old, new)
    with pytest.raises(ConfigError) as info:
        load_config(project / "config.toml")
    return str(info.value)


def test_bundled_config_loads_and_resolves_paths(project):
    config = load_config(project / "config.toml")
    assert config.store_url == f"sqlite:///{project / 'var/insights.db'}"
    assert config.source_location(config.sources[0]) == str(project / "examples/feeds/society-news.rss")
    assert config.variant_names[-1] == "general"


def test_without_syndication_the_archive_shows_the_first_variant_and_exports_nowhere(project):
    edit_config(project, "[syndication]\n", "")
    config = load_config(project / "config.toml")
    assert config.public_variant == "trainees" and config.publish_dir is None
    assert (config.syndication.websub_hub, config.syndication.embed_origins) == ("", [])


def test_syndication_keys_as_set(project):
    edit_config(project, "[syndication]\n", '[syndication]\npublic_variant = "general"\n'
                'publish_dir = "public"\nwebsub_hub = "https://hub.example.org/"\n'
                'embed_origins = ["https://Society.Example.org/", "https://partner.example:8443"]\n'
                'description = "Interventional oncology, weekly"\n')
    config = load_config(project / "config.toml")
    assert config.public_variant == "general"
    assert config.publish_dir == project / "public"  # relative to the config file
    assert config.syndication.websub_hub == "https://hub.example.org/"
    assert config.syndication.embed_origins == ["https://society.example.org",
                                                "https://partner.example:8443"]
    assert config.syndication.description == "Interventional oncology, weekly"


def test_link_checks_at_draft_are_off_unless_set(project):
    """Off in the code without [checks], and off in the shipped config (its example
    links are not to be asked: see the comment there)."""
    assert not load_config(project / "config.toml").checks.at_draft
    edit_config(project, "[checks]\n", "")
    edit_config(project, "at_draft = false\n", "")
    assert not load_config(project / "config.toml").checks.at_draft


@pytest.mark.parametrize("old,new,expected", [
    ('kind = "ics"', 'kind = "atom"', "sources[3].kind: expected 'rss' or 'ics' (got 'atom')"),
    ('backend = "outbox"', 'backnd = "outbox"', "delivery.backnd: unknown key"),
    ('max_age_days = 30', 'max_age_days = "thirty"', "compose.max_age_days: expected a valid integer"),
    ('timezone = "America/Chicago"', 'timezone = "Mars/Olympus"', "newsletter.timezone: expected an IANA time zone"),
    ('send = "0 7 * * mon"', 'send = "every monday"', "schedule.send: expected a 5-field crontab"),
    ('draft = "0 9 * * thu"', 'draft = "0 9 * * thursday"', "schedule.draft: expected a 5-field crontab"),
    ('approval = "optional"', 'approval = "maybe"', "schedule.approval: expected 'required' or 'optional'"),
    ('late_by = "24h"', 'late_by = "a day"', "schedule.late_by: expected a duration such as '24h'"),
    ('late_by = "24h"', 'late_by = "7d"', "late_by: at most 6 days"),
    ('late_by = "24h"', 'late_by = "0h"', "late_by: at least 10 minutes"),
    ('send = "0 7 * * mon"', 'send = "0 7 30 2 *"', "schedule.send: '0 7 30 2 *' never fires"),
    ('remind = "12h"', 'remind = 12', "schedule.remind: expected a valid string"),
    ('send = "0 7 * * mon"', 'send = "0 7 * * *"', "schedule.send: '0 7 * * *' fires more than once a week"),
    ('send = "0 7 * * mon"', 'cron = "0 7 * * mon"\nsend = "0 7 * * mon"', "set draft and send (the timeline) or the old cron, not both"),
    ('base_url = "https://news.example.org"', 'base_url = "news.example.org"', "newsletter.base_url: expected an absolute http(s) URL"),
    ('from_email = "insights@news.example.org"', 'from_email = "not an address"', "newsletter.from_email:"),
    ('where = { role = "industry" }', 'where = { role = { like = "ind" } }', "segments[2].where: where.role.like: unknown operator 'like'"),
    ('name = "lung"', 'name = "liver"', "segments: the name 'liver' is used twice"),
    ('backend = "outbox"', 'backend = "outbox"\nrequire_approval = "yes"', "delivery.require_approval: expected a valid boolean (got 'yes')"),
    ('backend = "outbox"', 'backend = "outbox"\nrequire_approval = true', 'schedule.approval: "optional" contradicts delivery.require_approval = true'),
    ("at_draft = false", 'at_draft = "yes"', "checks.at_draft: expected a valid boolean (got 'yes')"),
    ("at_draft = false", "at_draft = false\nat_send = true", "checks.at_send: unknown key"),
    ("batch_size = 1000", 'batch_size = "500"', "delivery.batch_size: expected a valid integer (got '500')"),
    ("batch_size = 1000", "batch_size = 5000", "delivery.batch_size: expected less than or equal to 1000 (got 5000)"),
    ('processes = "auto"', 'processes = "many"', 'delivery.processes: expected "auto" or a whole number from 1 to 16 (got \'many\')'),
    ('processes = "auto"', "processes = 0", 'delivery.processes: expected "auto" or a whole number from 1 to 16 (got 0)'),
    ('subject = "{name} no. {number}', 'subject = "{name} no. {nmber}', "newsletter.subject: unknown or malformed placeholder 'nmber'"),
    ('subject = "{name} no. {number}', 'subject = "{name.x} no. {number}', "newsletter.subject: unknown or malformed placeholder 'str' object has no attribute 'x'; use {name}, {number} and {date}"),
    ('url = "sqlite:///var/insights.db"', 'url = "mysql://x"', "store.url: expected sqlite:///PATH or postgresql://USER@HOST/DB, got 'mysql'"),
    # Values that become mail headers: a CR or LF would inject headers of its own.
    ('from_name = "IO Insights"', 'from_name = "IO Insights\\r\\nBcc: all@example.org"', "newsletter.from_name: contains a line break (CR or LF)"),
    ('subject = "{name} no. {number}', 'subject = "{name}\\nBcc: all@example.org no. {number}', "newsletter.subject: contains a line break (CR or LF)"),
    ('name = "IO Insights"', 'name = "IO\\rInsights"', "newsletter.name: contains a line break (CR or LF)"),
    ('title = "IO Insights (society members)"', 'title = "Members\\nBcc: x@example.org"', "lists[0].title: contains a line break (CR or LF)"),
    # The API key goes in every request: plain http only to this machine.
    ('host = "https://api.sendgrid.com"', 'host = "http://api.sendgrid.com"', "delivery.sendgrid.host: expected an https:// URL (http:// only for a loopback host"),
    # [syndication]: the public archive.
    ("[syndication]\n", '[syndication]\npublic_varient = "general"\n', "syndication.public_varient: unknown key"),
    ("[syndication]\n", '[syndication]\npublic_variant = "nurses"\n', "syndication.public_variant: 'nurses' is not a variant (known: trainees, nurses-techs, industry, liver, lung, general)"),
    ("[syndication]\n", '[syndication]\nwebsub_hub = "http://hub.example.org/"\n', "syndication.websub_hub: expected an https:// URL (http:// only for a loopback host"),
    ("[syndication]\n", '[syndication]\nembed_origins = ["https://society.example.org/join"]\n', "syndication.embed_origins: [0] 'https://society.example.org/join' has a path, query or fragment: an origin is only https://host[:port]"),
    ("[syndication]\n", '[syndication]\nembed_origins = ["https://ok.example.org", "http://society.example.org"]\n', "syndication.embed_origins: [1] 'http://society.example.org' is not an https origin"),
    ("[syndication]\n", '[syndication]\nembed_origins = ["https://ok.example.org; script-src *"]\n', "syndication.embed_origins: [0] 'https://ok.example.org; script-src *' is not an origin"),
    ("[syndication]\n", "[syndication]\ndescription = 42\n", "syndication.description: expected a valid string"),
])
def test_mistakes_name_the_key_and_what_is_expected(project, old, new, expected):
    message = error_for(project, old, new)
    assert message.startswith(str(project / "config.toml") + ": ")
    assert expected in message, message
    assert "(top level)" not in message
    assert "\n" not in message


@pytest.mark.parametrize("host", ["http://127.0.0.1:8025", "http://localhost:8025",
                                  "http://[::1]:8025", "https://api.sendgrid.com"])
def test_sendgrid_over_http_is_allowed_to_loopback_only(project, host):
    edit_config(project, 'host = "https://api.sendgrid.com"', f'host = "{host}"')
    assert load_config(project / "config.toml").delivery.sendgrid.host == host


def test_a_line_break_in_a_header_value_exits_2(project):
    edit_config(project, 'from_name = "IO Insights"', 'from_name = "IO\\r\\nBcc: all@example.org"')
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "--config", str(project / "config.toml"), "run"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"config error: {project / 'config.toml'}: newsletter.from_name: contains a line "
        "break (CR or LF): this value goes into a mail header and must be one line"]


def test_missing_required_key(project):
    message = error_for(project, 'postal_address = "', 'x_postal_address = "')
    assert "newsletter.postal_address: required key is missing" in message


def test_invalid_toml_names_line(project):
    message = error_for(project, "[schedule]", "[schedule")
    assert "invalid TOML" in message and "line" in message


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_cli_exits_2_with_one_line_and_no_traceback(project):
    edit_config(project, 'kind = "ics"', 'kind = "atom"')
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "--config", str(project / "config.toml"), "run"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [f"config error: {project / 'config.toml'}: sources[3].kind: "
                     "expected 'rss' or 'ics' (got 'atom')"]


def test_the_older_require_approval_with_the_timeline_is_said_deprecated(project):
    path = project / "config.toml"
    assert load_config(path).deprecated is None  # the timeline as shipped (tests' copy)
    text = path.read_text().replace('approval = "optional"', 'approval = "required"', 1)
    path.write_text(text.replace('backend = "outbox"',
                                 'backend = "outbox"\nrequire_approval = true', 1))
    deprecated = load_config(path).deprecated
    assert deprecated is not None
    assert deprecated.startswith("[delivery] require_approval is deprecated")
