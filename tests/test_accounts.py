"""Editor accounts: one without a password receives notices and cannot sign in."""

from __future__ import annotations

from click.testing import CliRunner

from pipeline.accounts import NO_PASSWORD, add_editor, add_editor_without_password, check_login
from pipeline.cli import cli
from pipeline.config import load_config
from pipeline.store.store import Store

from .helpers import MONDAY

PASSWORD = "correct horse battery"


def open_store(project) -> Store:
    return Store.open(load_config(project / "config.toml").store_url)


def test_an_account_without_a_password_is_listed_but_cannot_sign_in(project):
    store = open_store(project)
    try:
        assert add_editor_without_password(store, "Ed@Example.org", MONDAY)
        assert [email for email, _ in store.list_editors()] == ["ed@example.org"]
        for attempt in ("", NO_PASSWORD, PASSWORD):
            assert not check_login(store, "ed@example.org", attempt, MONDAY)
        # Setting a password later opens it.
        assert not add_editor(store, "ed@example.org", PASSWORD, MONDAY)
        assert check_login(store, "ed@example.org", PASSWORD, MONDAY)
    finally:
        store.close()


def test_without_a_password_leaves_an_existing_account_as_it_is(project):
    store = open_store(project)
    try:
        add_editor(store, "ed@example.org", PASSWORD, MONDAY)
        assert not add_editor_without_password(store, "ed@example.org", MONDAY)
        assert check_login(store, "ed@example.org", PASSWORD, MONDAY)
    finally:
        store.close()


def test_the_editors_command_adds_one_without_a_password_once(project):
    args = ["--config", str(project / "config.toml"), "editors", "add", "ed@example.org",
            "--no-password"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "created without a password" in first.output
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and "exists: left as it is" in again.output
    both = CliRunner().invoke(cli, [*args, "--password-stdin"], input=PASSWORD + "\n")
    assert both.exit_code == 2 and "exclude each other" in both.output
