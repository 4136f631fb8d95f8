"""Read subscriber files: generic CSV, Mailchimp audience exports, listmonk exports.

Each reader yields Row or Invalid per data line, streaming, so a file of any size
imports in bounded memory. Nothing here touches the database.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from pipeline.errors import AudienceError

from .model import KNOWN_ATTRIBUTES, LIST_ATTRIBUTES, normalise_email
from .worker import next_message, stop

FORMATS = ("auto", "csv", "mailchimp", "listmonk")
# Status a file may carry for a person; None means "subscribe as the list says".
FILE_STATUSES = (None, "unsubscribed", "bounced", "blocklisted")


class Row(NamedTuple):
    """One valid person from a file. (A NamedTuple: a million of them are made.)"""

    line: int
    email: str
    name: str
    attributes: dict[str, Any]
    status: str | None = None
    consent_at: datetime | None = None
    consent_ip: str | None = None


class Invalid(NamedTuple):
    line: int
    reason: str


@dataclass
class Reader:
    format: str
    rows: Iterator[Row | Invalid]


def open_text(path: Path) -> io.TextIOWrapper:
    """UTF-8 (a BOM is dropped); Latin-1 when the start of the file is not UTF-8."""
    try:
        with path.open("rb") as fh:
            head = fh.read(1 << 20)
    except OSError as e:
        raise AudienceError(f"{path}: cannot read: {e.strerror}") from None
    encoding = "utf-8-sig"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        # A multibyte character cut at the 1 MiB boundary is still UTF-8.
        if e.start < len(head) - 3:
            encoding = "latin-1"
    return path.open("r", encoding=encoding, newline="")


def detect_format(header: list[str]) -> str:
    names = {h.strip().lower() for h in header}
    if "email address" in names:
        return "mailchimp"
    if {"uuid", "email", "attributes"} <= names:
        return "listmonk"
    if "email" in names:
        return "csv"
    raise AudienceError(
        f"cannot tell the format from the header {header[:8]}: expected an 'email' column "
        "(generic CSV), 'Email Address' (Mailchimp) or uuid/email/attributes (listmonk)")


def read_file(path: Path, fmt: str = "auto") -> Reader:
    """A Reader over `path`; the header is checked now, the rows are read lazily."""
    if fmt not in FORMATS:
        raise AudienceError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    fh = open_text(path)
    reader = csv.reader(fh)
    try:
        header = next(reader)
    except StopIteration:
        fh.close()
        raise AudienceError(f"{path}: empty file, expected a header row") from None
    except (csv.Error, UnicodeDecodeError) as e:
        fh.close()
        raise AudienceError(f"{path}: unreadable header: {e}") from None
    detected = detect_format(header)
    if fmt == "auto":
        fmt = detected
    keys = [h.strip() for h in header]
    if fmt == "mailchimp":  # detected case-insensitively, so read the same way
        keys = [MAILCHIMP_NAMES.get(k.lower(), k) for k in keys]
    else:
        keys = [k.lower() for k in keys]
    if fmt == "csv" and "email" not in keys or fmt == "listmonk" and "email" not in keys:
        fh.close()
        raise AudienceError(f"{path}: no 'email' column in the header {header[:8]}")
    if fmt == "mailchimp" and "Email Address" not in keys:
        fh.close()
        raise AudienceError(f"{path}: no 'Email Address' column: not a Mailchimp export")
    if fmt == "csv":
        parse = _generic_parser(keys)
    else:
        by_name = _mailchimp if fmt == "mailchimp" else _listmonk
        parse = lambda line, values: by_name(line, dict(zip(keys, values, strict=False)))  # noqa: E731
    return Reader(fmt, _rows(path, fh, reader, keys, parse))


def _rows(path: Path, fh: io.TextIOWrapper, reader: Any, keys: list[str],
          parse: Callable[[int, list[str]], Row | Invalid]) -> Iterator[Row | Invalid]:
    with fh:
        line = 1
        try:
            for values in reader:
                line = reader.line_num
                if not "".join(values).strip():
                    continue  # blank lines are not rows
                if len(values) > len(keys):
                    yield Invalid(line, f"{len(values) - len(keys)} more fields than the header")
                    continue
                if len(values) < len(keys):
                    values = values + [""] * (len(keys) - len(values))
                yield parse(line, values)
        except UnicodeDecodeError as e:
            # The decoder reads ahead, so the reader's line count lags: find the line.
            raise AudienceError(f"{path}: line {_first_undecodable_line(path, fh.encoding)}: "
                                f"not valid text in this encoding ({e.reason}); save the "
                                "file as UTF-8") from None
        except csv.Error as e:
            raise AudienceError(f"{path}: line {reader.line_num}: malformed CSV: {e}") from None


def _first_undecodable_line(path: Path, encoding: str) -> int:
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError:
                return number
    return 0


def _email(line: int, raw: str | None) -> str | Invalid:
    raw = (raw or "").strip()
    if not raw:
        return Invalid(line, "email is empty")
    try:
        return normalise_email(raw)
    except ValueError as e:
        return Invalid(line, str(e))


def split_values(value: str) -> list[str]:
    sep = ";" if ";" in value else ","
    return [v.strip() for v in value.split(sep) if v.strip()]


def _json_attributes(line: int, raw: str) -> dict[str, Any] | Invalid:
    """Attributes carried as a JSON object (our export's `attributes` column, listmonk's):
    the several-valued ones become lists of strings, the known single ones strings, so a
    person imported this way segments and exports like one imported from columns."""
    try:
        attributes = json.loads(raw)
    except json.JSONDecodeError as e:
        return Invalid(line, f"attributes is not JSON: {e.msg} at character {e.pos}")
    if not isinstance(attributes, dict):
        return Invalid(line, "attributes must be a JSON object")
    for key in (*LIST_ATTRIBUTES, *KNOWN_ATTRIBUTES):
        value = attributes.get(key)
        if value is None:
            continue
        if key in LIST_ATTRIBUTES:
            if isinstance(value, str):
                attributes[key] = split_values(value)
            elif isinstance(value, list) and all(
                    isinstance(v, str | int | float) and not isinstance(v, bool)
                    for v in value):
                attributes[key] = [str(v).strip() for v in value if str(v).strip()]
            else:
                return Invalid(line, f"attributes: {key} must be a list of values or a "
                                     f"';'-separated string, not {json.dumps(value)[:60]}")
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            attributes[key] = str(value).strip()
        else:
            return Invalid(line, f"attributes: {key} must be a single value, not "
                                 f"{json.dumps(value)[:60]}")
    return attributes


# -- generic CSV: email, name, status (optional), any attribute columns -------------------

RESERVED_COLUMNS = ("email", "name", "status", "attributes", "lists")


def _generic_parser(keys: list[str]) -> Callable[[int, list[str]], Row | Invalid]:
    """A row parser for this header; column positions are worked out once per file."""
    email_at = keys.index("email")
    name_at = keys.index("name") if "name" in keys else None
    status_at = keys.index("status") if "status" in keys else None
    json_at = keys.index("attributes") if "attributes" in keys else None
    columns = [(i, k, k in LIST_ATTRIBUTES) for i, k in enumerate(keys)
               if k and k not in RESERVED_COLUMNS]

    def parse(line: int, values: list[str]) -> Row | Invalid:
        email = _email(line, values[email_at])
        if isinstance(email, Invalid):
            return email
        status = values[status_at].strip().lower() or None if status_at is not None else None
        if status in ("subscribed", "confirmed", "unconfirmed"):
            status = None
        if status not in FILE_STATUSES:
            return Invalid(line, f"unknown status {status!r}")
        attributes: dict[str, Any] = {}
        if json_at is not None and values[json_at].strip():
            # Our own export keeps attributes without a column of their own as JSON.
            attributes = _json_attributes(line, values[json_at])
            if isinstance(attributes, Invalid):
                return attributes
        for i, key, many in columns:
            value = values[i].strip()
            if value:
                attributes[key] = split_values(value) if many else value
        name = values[name_at].strip() if name_at is not None else ""
        return Row(line, email, name, attributes, status)

    return parse


# -- Mailchimp audience export --------------------------------------------------------------

MAILCHIMP_STANDARD = {
    "Email Address", "First Name", "Last Name", "Address", "Phone Number", "Birthday",
    "MEMBER_RATING", "OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP", "LATITUDE",
    "LONGITUDE", "GMTOFF", "DSTOFF", "TIMEZONE", "CC", "REGION", "LAST_CHANGED", "LEID",
    "EUID", "NOTES", "TAGS", "UNSUB_TIME", "UNSUB_CAMPAIGN_TITLE", "UNSUB_CAMPAIGN_ID",
    "UNSUB_REASON", "UNSUB_REASON_OTHER", "CLEAN_TIME", "CLEAN_CAMPAIGN_TITLE",
    "CLEAN_CAMPAIGN_ID", "SSL_OPTIN",
}
# The columns read below, found whatever their case (a re-saved export may change it).
# Not every standard name: Mailchimp's own REGION (geo-located) would swallow a merge
# field called "Region".
MAILCHIMP_NAMES = {name.lower(): name for name in (
    "Email Address", "First Name", "Last Name", "OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME",
    "CONFIRM_IP", "TAGS", "UNSUB_TIME", "CLEAN_TIME")}
# Merge fields and interest groups whose names say which of our attributes they fill.
MAILCHIMP_ATTRIBUTES = {"role": "role", "profession": "role", "interests": "interests",
                        "interest": "interests", "topics": "interests", "region": "region",
                        "organisation": "organisation", "organization": "organisation",
                        "company": "organisation", "institution": "organisation"}


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _mailchimp_time(value: str | None) -> datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _tags(value: str) -> list[str]:
    """Mailchimp's TAGS cell ("tag one","tag two"); a cell edited by hand (a line break,
    a stray quote) is split on commas rather than failing the whole file."""
    try:
        parts = next(csv.reader([" ".join(value.splitlines())], strict=True))
    except csv.Error:
        parts = value.replace('"', "").split(",")
    return sorted({" ".join(t.split()) for t in parts if t.strip()})


def _mailchimp(line: int, record: dict[str, str]) -> Row | Invalid:
    email = _email(line, record.get("Email Address"))
    if isinstance(email, Invalid):
        return email
    name = " ".join(p for p in ((record.get("First Name") or "").strip(),
                                (record.get("Last Name") or "").strip()) if p)
    attributes: dict[str, Any] = {}
    for key, value in record.items():
        value = (value or "").strip()
        if not value or key in MAILCHIMP_STANDARD:
            continue
        target = MAILCHIMP_ATTRIBUTES.get(key.strip().lower(), _snake(key))
        if not target:
            continue
        if target == "interests":
            attributes[target] = [v.lower() for v in split_values(value)]
        elif target in ("role", "region"):
            attributes[target] = _snake(value).replace("_", "-")
        else:
            attributes[target] = value
    tags = (record.get("TAGS") or "").strip()
    if tags:  # exported as "tag one","tag two"
        attributes["tags"] = _tags(tags)
    if (record.get("CC") or "").strip():
        attributes.setdefault("country", record["CC"].strip().upper())
    status = None
    if (record.get("UNSUB_TIME") or "").strip():
        status = "unsubscribed"
    elif (record.get("CLEAN_TIME") or "").strip():
        status = "bounced"  # Mailchimp "cleans" addresses that hard-bounce
    consent_at = _mailchimp_time(record.get("CONFIRM_TIME")) or _mailchimp_time(
        record.get("OPTIN_TIME"))
    ip = (record.get("CONFIRM_IP") or record.get("OPTIN_IP") or "").strip() or None
    return Row(line, email, name, attributes, status, consent_at, ip)


# -- listmonk export: uuid, email, name, attributes (JSON), status -------------------------

def _listmonk(line: int, record: dict[str, str]) -> Row | Invalid:
    email = _email(line, record.get("email"))
    if isinstance(email, Invalid):
        return email
    attributes = _json_attributes(line, (record.get("attributes") or "").strip() or "{}")
    if isinstance(attributes, Invalid):
        return attributes
    status = "blocklisted" if (record.get("status") or "").strip() == "blocklisted" else None
    return Row(line, email, (record.get("name") or "").strip(), attributes, status)


# -- parsing on another core ---------------------------------------------------------------

def _produce(path: str, fmt: str, size: int, queue: Any) -> None:
    """Child process: parse the file and hand over chunks of rows (or the error)."""
    try:
        chunk: list[Row | Invalid] = []
        for row in read_file(Path(path), fmt).rows:
            chunk.append(row)
            if len(chunk) >= size:
                queue.put(("chunk", chunk))
                chunk = []
        if chunk:
            queue.put(("chunk", chunk))
        queue.put(("end", None))
    except AudienceError as e:
        queue.put(("error", str(e)))
    except Exception as e:  # report, never hang the parent  # noqa: BLE001
        queue.put(("error", f"{path}: {type(e).__name__}: {e}"))


def parsed_chunks(path: Path, fmt: str, size: int = 2000) -> tuple[str, Iterator[list[Any]]]:
    """(format, chunks of rows) with the parsing done by a child process, so one core
    reads the file while this one writes the database. The queue is bounded: memory
    stays a few chunks whatever the file's size. The header is checked here first, so a
    wrong file fails at once with the same message as `read_file`."""
    reader = read_file(path, fmt)  # validates the header; its lazy rows are not read
    reader.rows.close()
    context = multiprocessing.get_context("spawn")
    queue = context.Queue(maxsize=4)
    process = context.Process(target=_produce, args=(str(path), reader.format, size, queue),
                              daemon=True)

    def chunks() -> Iterator[list[Any]]:
        process.start()
        last_line = 0
        try:
            while True:
                kind, payload = next_message(queue, process, lambda code, n=last_line: (
                    AudienceError(f"{path}: the process reading the file stopped (exit code "
                                  f"{code}) after line {n}; the rows up to there are "
                                  "imported, and importing the file again finishes the job "
                                  "without changing them")))
                if kind == "end":
                    return
                if kind == "error":
                    raise AudienceError(payload)
                last_line = payload[-1].line
                yield payload
        finally:
            stop(process)

    return reader.format, chunks()
