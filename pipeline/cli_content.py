"""`insights items ...` and `insights issue-headers`: editors' own content from the
command line, through the same library functions as /admin (pipeline.content_edits)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from .cli import State, console, parse_now, pass_state, print_changes_since_approval

_AS = click.option("--as", "actor", default="cli", show_default=True,
                   help="Who makes the change (an editor's address): in the audit log.")


def _done(state: State, issue_id: str, what: str, status: str) -> None:
    console.print(f"{what} (now {status}); {len(state.config.variant_names)} variants "
                  "re-rendered.", highlight=False, soft_wrap=True)
    print_changes_since_approval(state, issue_id)


@click.group()
def items() -> None:
    """Editors' items in an issue: add one by hand, edit a headline or teaser, remove,
    choose the lead story. Each re-renders every variant; an approved issue goes back
    to draft."""


@items.command("add")
@click.argument("issue_id")
@click.option("--section", required=True, type=click.Choice(["news", "research", "events"]),
              help="The section it goes in (first in it).")
@click.option("--title", required=True, help="The headline (one line).")
@click.option("--link", required=True, help="Where it leads (https:// or http://).")
@click.option("--teaser", default="", help="A few lines of Markdown under the headline.")
@click.option("--image", "image_url", default="", help="An image (https://), shown at "
              "552x276 (2:1) above the headline.")
@click.option("--alt", "image_alt", default="", help="The image's alt text (with --image).")
@click.option("--lead", is_flag=True, help="Make it the lead story, on top of every variant.")
@click.option("--sponsored", is_flag=True, help='A sponsor\'s block: labelled "Sponsored", '
              "left out of segments with sponsors = false.")
@click.option("--starts", help="Events: when it starts (ISO; newsletter time zone if no "
                               "offset).")
@click.option("--where", default="", help="Events: where (empty: online).")
@_AS
@pass_state
def items_add(state: State, issue_id: str, section: str, title: str, link: str, teaser: str,
              image_url: str, image_alt: str, lead: bool, sponsored: bool,
              starts: str | None, where: str, actor: str) -> None:
    """Add an item written by hand to ISSUE."""
    from .content_edits import NewItem, add_item

    config = state.config
    new = NewItem(section=section, title=title, link=link, teaser=teaser,
                  image_url=image_url, image_alt=image_alt, lead=lead, sponsored=sponsored,
                  starts=parse_now(starts, config) if starts else None, where=where)
    with state.store() as store:
        issue, item_id = add_item(config, store, issue_id, new, actor, datetime.now(UTC))
    _done(state, issue_id, f"Item {item_id} added to {issue_id} ({section})", issue.status)


@items.command("edit")
@click.argument("issue_id")
@click.argument("item_id", type=int)
@click.option("--title", help="This issue's headline ('' for the item's own).")
@click.option("--teaser", help="This issue's teaser, Markdown ('' for the item's own).")
@click.option("--no-teaser", is_flag=True, help="Show no teaser for it in this issue.")
@_AS
@pass_state
def items_edit(state: State, issue_id: str, item_id: int, title: str | None,
               teaser: str | None, no_teaser: bool, actor: str) -> None:
    """Edit ITEM's headline and teaser for ISSUE (the feed's original is kept)."""
    from .content_edits import edit_item_text

    if title is None and teaser is None and not no_teaser:
        raise click.UsageError("give --title, --teaser or --no-teaser")
    if no_teaser and teaser is not None:
        raise click.UsageError("give --teaser or --no-teaser, not both")
    with state.store() as store:
        current = store.issue_edits(issue_id).get(item_id)
        # What is not given stays as it is; '' returns to the item's own.
        new_title = (title or None) if title is not None else (
            current.title if current else None)
        new_teaser = "" if no_teaser else (teaser or None) if teaser is not None else (
            current.teaser if current else None)
        issue = edit_item_text(state.config, store, issue_id, item_id, new_title,
                               new_teaser, actor, datetime.now(UTC))
    _done(state, issue_id, f"Item {item_id} edited in {issue_id}", issue.status)


@items.command("remove")
@click.argument("issue_id")
@click.argument("item_id", type=int)
@_AS
@pass_state
def items_remove(state: State, issue_id: str, item_id: int, actor: str) -> None:
    """Remove an item an editor added to ISSUE (a feed's item is dropped in /admin)."""
    from .content_edits import remove_item

    with state.store() as store:
        issue = remove_item(state.config, store, issue_id, item_id, actor, datetime.now(UTC))
    _done(state, issue_id, f"Item {item_id} removed from {issue_id}", issue.status)


@items.command("lead")
@click.argument("issue_id")
@click.argument("item_id", type=int, required=False)
@click.option("--none", "no_lead", is_flag=True, help="No lead story.")
@_AS
@pass_state
def items_lead(state: State, issue_id: str, item_id: int | None, no_lead: bool,
               actor: str) -> None:
    """Make ITEM the lead story of ISSUE, on top of every variant."""
    from .content_edits import set_lead

    if (item_id is None) == (not no_lead):
        raise click.UsageError("give ITEM or --none")
    with state.store() as store:
        issue = set_lead(state.config, store, issue_id, item_id, actor, datetime.now(UTC))
    _done(state, issue_id, f"Lead story of {issue_id}: {item_id if item_id else 'none'}",
          issue.status)


@click.command("issue-headers")
@click.argument("issue_id")
@click.option("--subject", help="This issue's subject ('' for the configured one).")
@click.option("--preheader", help="The line inboxes show after the subject ('' for the "
                                  "configured one).")
@click.option("--sections", help="This issue's order of sections, e.g. "
                                 "'events,news,research'.")
@_AS
@pass_state
def issue_headers(state: State, issue_id: str, subject: str | None, preheader: str | None,
                  sections: str | None, actor: str) -> None:
    """Set ISSUE's subject, preheader or order of sections."""
    from .content_edits import set_headers, set_section_order

    if subject is None and preheader is None and sections is None:
        raise click.UsageError("give --subject, --preheader or --sections")
    now = datetime.now(UTC)
    with state.store() as store:
        issue = store.get_issue(issue_id)
        if issue is None:
            raise click.ClickException(f"no issue {issue_id!r}")
        if subject is not None or preheader is not None:
            issue = set_headers(state.config, store, issue_id,
                                issue.subject if subject is None else subject,
                                issue.preheader if preheader is None else preheader, actor, now)
        if sections is not None:
            order = [s.strip() for s in sections.split(",") if s.strip()]
            issue = set_section_order(state.config, store, issue_id, order, actor, now)
    _done(state, issue_id, f"Issue {issue_id} updated", issue.status)
