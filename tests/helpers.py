"""Small helpers shared by tests."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pipeline.config import Config, load_config
from pipeline.job import run_weekly
from pipeline.models import RunReport
from pipeline.store.store import Store
from subscribers.formats import read_file
from subscribers.store import Audience

ROOT = Path(__file__).resolve().parent.parent
CHICAGO = ZoneInfo("America/Chicago")
MONDAY = datetime(2026, 11, 23, 8, 0, tzinfo=CHICAGO)  # first issue of the examples
NEXT_MONDAY = datetime(2026, 11, 30, 8, 0, tzinfo=CHICAGO)


SHIPPED_APPROVAL = 'approval = "required"'
TESTS_APPROVAL = 'approval = "optional"'


def copy_project(dest: Path) -> Path:
    """config.toml, templates/ and examples/ copied to `dest` (paths in the config are
    relative, so the copy is a complete, independent installation). The copy's issues go
    without approval (`run` sends what it composed) unless a test turns it on with
    `require_approval(project)`: the shipped config requires it."""
    text = (ROOT / "config.toml").read_text()
    assert SHIPPED_APPROVAL in text
    (dest / "config.toml").write_text(text.replace(SHIPPED_APPROVAL, TESTS_APPROVAL, 1))
    shutil.copytree(ROOT / "templates", dest / "templates")
    shutil.copytree(ROOT / "examples", dest / "examples")
    return dest


def edit_config(project: Path, old: str, new: str) -> None:
    path = project / "config.toml"
    text = path.read_text()
    assert old in text, f"{old!r} not in config.toml"
    path.write_text(text.replace(old, new, 1))


def require_approval(project: Path) -> None:
    """Editors approve each issue before it goes, as in the shipped config."""
    edit_config(project, TESTS_APPROVAL, SHIPPED_APPROVAL)


def one_step_cron(project: Path) -> None:
    """The old `[schedule] cron`: draft and send in one step (deprecated)."""
    path = project / "config.toml"
    text = path.read_text()
    start, end = text.index("[schedule]"), text.index("[store]")
    path.write_text(text[:start] + '[schedule]\ncron = "0 7 * * mon"\n\n' + text[end:])


def use_store(project: Path, url: str) -> None:
    edit_config(project, 'url = "sqlite:///var/insights.db"', f'url = "{url}"')


def seed(config: Config) -> None:
    store = Store.open(config.store_url)
    try:
        Audience(store.engine).import_rows(
            read_file(config.resolve("examples/subscribers.csv")).rows, "members",
            status="confirmed", source="test", now=MONDAY)
    finally:
        store.close()


def first_run(project: Path, now: datetime = MONDAY) -> tuple[Config, RunReport]:
    config = load_config(project / "config.toml")
    seed(config)
    return config, run_weekly(config, now)


def manifest(project: Path, issue_id: str) -> list[list[str]]:
    lines = (project / "outbox" / issue_id / "manifest.csv").read_text().splitlines()
    return [line.split(",") for line in lines[1:]]


def add_rss_item(feed: Path, guid: str, title: str, pubdate: str, body: str = "") -> None:
    text = feed.read_text(encoding="utf-8")
    item = (f"<item><title>{title}</title><link>https://www.example.org/news/{guid}</link>"
            f"<guid isPermaLink=\"false\">{guid}</guid><pubDate>{pubdate}</pubDate>"
            f"<description>{body}</description></item>")
    feed.write_text(text.replace("<item>", item + "<item>", 1), encoding="utf-8")
