"""Read subscriber files: generic CSV, Mailchimp audience exports, listmonk exports.

Each reader yields Row or Invalid per data line, streaming, so a file of any size
imports in bounded memory; a Row's name comes cleaned (model.clean_name). Nothing here
touches the database.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import multiprocessing
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from pipeline.children import die_with_parent, next_message, put_in_chunks, stop
from pipeline.errors import AudienceError

from .model import (
    KNOWN_ATTRIBUTES,
    LIST_ATTRIBUTES,
    clean_name,
    neutralise,
    normalise_email,
    restore,
)

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
    rows: Generator[Row | Invalid, None, None]


# -- reading text: the encoding, undecodable bytes, cells neutralised by our export ---------

# Byte order marks, longest first (UTF-32 LE's begins like UTF-16 LE's).
BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"))
# What "Latin-1" files really are: Windows-1252 is Latin-1 with printable characters
# (curly quotes, dashes, the euro) where Latin-1 has unused control codes. Its five
# unassigned bytes are read as Latin-1 reads them, so every byte still decodes.
LATIN_1 = "cp1252"
ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16",
                  "utf-16-le": "UTF-16", "utf-16-be": "UTF-16", "utf-32": "UTF-32",
                  LATIN_1: "Latin-1 (Windows-1252)"}
SAMPLE_BYTES = 1 << 20
_UTF8_CHAR = re.compile(  # one valid multi-byte UTF-8 sequence (RFC 3629)
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}")
_ASCII = bytes(range(128))
# A byte the file's encoding cannot decode is read as a lone surrogate (U+DC00 + the
# byte), which no decoded text contains, so the row holding it is found and reported.
UNDECODABLE = "subscribers.undecodable"
_MARK = re.compile("[\ud800-\udfff]")


def _mark_undecodable(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    return "".join(chr(0xDC00 + b) for b in error.object[error.start:error.end]), error.end


def _as_latin_1(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start:error.end].decode("latin-1"), error.end


codecs.register_error(UNDECODABLE, _mark_undecodable)
codecs.register_error("subscribers.latin-1", _as_latin_1)


def choose_encoding(head: bytes, whole: bool) -> str:
    """The encoding of a file that starts with `head` (all of it when `whole`).

    A byte order mark decides (UTF-8, UTF-16 or UTF-32), and so does UTF-16's pattern of
    NUL bytes (text in Latin script without a BOM). Otherwise the file is UTF-8
    unless its undecodable bytes outnumber its valid multi-byte UTF-8 characters: a
    UTF-8 file with a few bad bytes stays UTF-8 (those rows are reported), while a
    Latin-1 file, whose accented letters are lone high bytes, almost never contains a
    valid UTF-8 sequence at all."""
    for bom, encoding in BOMS:
        if head.startswith(bom):
            return encoding
    if head.count(0) > len(head) // 4:  # UTF-16 without a BOM: every other byte is NUL
        odd, even = head[1::2].count(0), head[0::2].count(0)
        if odd > 9 * even:
            return "utf-16-le"
        if even > 9 * odd:
            return "utf-16-be"
    if not whole:  # a character cut at the end of the sample is not an error
        head = head[:head.rfind(b"\n") + 1] or head
    high = len(head.translate(None, _ASCII))
    if not high:
        return "utf-8"
    chars = _UTF8_CHAR.findall(head)
    undecodable = high - sum(map(len, chars))
    return "utf-8" if len(chars) >= undecodable else LATIN_1


def open_text(path: Path) -> io.TextIOWrapper:
    """The file as text in the encoding `choose_encoding` finds from its first MiB (a
    BOM is dropped). Nothing fails to decode: an undecodable byte reads as a marker the
    row reader reports (see UNDECODABLE)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(SAMPLE_BYTES + 1)
    except OSError as e:
        raise AudienceError(f"{path}: cannot read: {e.strerror}") from None
    encoding = choose_encoding(head[:SAMPLE_BYTES], whole=len(head) <= SAMPLE_BYTES)
    errors = "subscribers.latin-1" if encoding == LATIN_1 else UNDECODABLE
    return path.open("r", encoding=encoding, errors=errors, newline="")


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


def _held(fh: io.TextIOWrapper, held: list[str]) -> Iterator[str]:
    """The file's lines for the csv reader, keeping those of the record being read (the
    caller clears `held` after each one), so a record the reader gives up on can be
    skipped to its real end."""
    for line in fh:
        held.append(line)
        yield line


def read_file(path: Path, fmt: str = "auto") -> Reader:
    """A Reader over `path`; the header is checked now, the rows are read lazily."""
    if fmt not in FORMATS:
        raise AudienceError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    fh = open_text(path)
    held: list[str] = []
    reader = csv.reader(_held(fh, held))
    try:
        header = next(reader)
    except StopIteration:
        fh.close()
        raise AudienceError(f"{path}: empty file, expected a header row") from None
    except csv.Error as e:
        fh.close()
        raise AudienceError(f"{path}: unreadable header: {e}") from None
    held.clear()
    if any(_MARK.search(h) for h in header):
        fh.close()
        raise AudienceError(f"{path}: line 1: the header is not valid "
                            f"{ENCODING_NAMES.get(fh.encoding, fh.encoding)} text; save the "
                            "file as UTF-8")
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
    return Reader(fmt, _rows(fh, reader, held, keys, parse))


def _rows(fh: io.TextIOWrapper, reader: Any, held: list[str], keys: list[str],
          parse: Callable[[int, list[str]], Row | Invalid]
          ) -> Generator[Row | Invalid, None, None]:
    """Row or Invalid per record. A record the csv reader cannot read (a field over
    csv.field_size_limit()) is an Invalid row and reading goes on after its end; so does
    a row with a byte the encoding cannot decode."""
    marks = fh.encoding != LATIN_1  # only then can text hold undecodable markers
    width = len(keys)
    # Rows shorter than this cannot export to a cell over the field limit; longer ones
    # are checked (JSON escapes a character in at most 6, plus the column names).
    unchecked = (FIELD_LIMIT - sum(len(k) + 8 for k in keys)) // 6
    with fh:
        end = 1  # the line the last record ended on
        skipped = 0  # lines read past the csv reader, when skipping a broken record
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                start = end + 1
                skipped += _skip_to_record_end(fh, held)
                held.clear()
                end = reader.line_num + skipped
                reason = str(e)
                if reason.startswith("field larger than field limit"):
                    reason = (f"a field is longer than the limit of "
                              f"{csv.field_size_limit():,} characters")
                yield Invalid(start, f"{reason}; the row is skipped")
                continue
            held.clear()
            start, end = end + 1, reader.line_num + skipped
            joined = "".join(values)
            if not joined.strip():
                continue  # blank lines are not rows
            if len(values) > width:
                yield Invalid(end, f"{len(values) - width} more fields than the header")
                continue
            if marks and not joined.isascii() and _MARK.search(joined):
                yield _undecodable(start, keys, values, fh.encoding)
                continue
            if "'" in joined:  # cells our export neutralised (see `neutralise`)
                values = [restore(v) if v[:1] == "'" else v for v in values]
            if len(values) < width:
                values = values + [""] * (width - len(values))
            row = parse(end, values)
            if isinstance(row, Row):
                if len(joined) > unchecked and (
                        too_large := export_too_large(row.email, row.name, row.attributes)):
                    row = Invalid(end, too_large)
                elif (name := clean_name(row.name)) is not row.name:
                    # Cleaned here, on the parsing core, so the importer's core only writes.
                    row = row._replace(name=name)
            yield row


def _undecodable(start: int, keys: list[str], values: list[str], encoding: str) -> Invalid:
    """The row with an undecodable byte, reported on the line that holds the byte."""
    line = start
    for key, value in zip(keys, values, strict=False):
        found = _MARK.search(value)
        if found is None:
            line += _line_breaks(value)
            continue
        line += _line_breaks(value[:found.start()])
        byte = ord(found.group()) - 0xDC00
        where = f"the {key!r} column" if key else "a column"
        name = ENCODING_NAMES.get(encoding, encoding)
        return Invalid(line, f"not valid {name} text (byte 0x{byte:02X} in {where}); the "
                             "row is skipped: save the file as UTF-8")
    return Invalid(line, "not valid text")  # not reached: a value held the marker


def _line_breaks(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


# States of the csv reader's default dialect, as far as finding a record's end needs.
_FIELD_START, _IN_FIELD, _IN_QUOTES, _QUOTE_IN_QUOTES = range(4)


def _csv_state(text: str, state: int = _FIELD_START) -> int:
    """The csv reader's state (excel dialect, not strict) after `text`."""
    for c in text:
        if state == _IN_QUOTES:
            if c == '"':
                state = _QUOTE_IN_QUOTES
        elif state == _QUOTE_IN_QUOTES:
            state = _IN_QUOTES if c == '"' else _FIELD_START if c in ",\r\n" else _IN_FIELD
        elif state == _FIELD_START:
            if c == '"':
                state = _IN_QUOTES
            elif c not in ",\r\n":
                state = _IN_FIELD
        elif c in ",\r\n":
            state = _FIELD_START
    return state


def _skip_to_record_end(fh: io.TextIOWrapper, held: list[str]) -> int:
    """After the csv reader gave up on a record (whose lines so far are `held`), read on
    to the record's real end: the rest of a quoted field is not rows. Returns how many
    lines were read past the reader."""
    text = "".join(held)
    state = _csv_state(text) if '"' in text else _FIELD_START  # no quote: not in one
    skipped = 0
    while state == _IN_QUOTES:
        line = next(fh, None)
        if line is None:
            break
        skipped += 1
        if '"' in line:
            state = _csv_state(line, state)
    return skipped


# -- our export: the inverse of the generic CSV reader ----------------------------------

EXPORT_COLUMNS = ("email", "name", "status", *KNOWN_ATTRIBUTES, "attributes", "lists")
# csv's default field_size_limit, the largest cell our reader takes: an import never
# stores a person whose export would have a larger one, so every export re-imports.
FIELD_LIMIT = 131_072


def _column_value(key: str, value: Any) -> str | None:
    """The cell for a known attribute in its own column, or None when the column would
    not read back as the same value (the JSON `attributes` column keeps it then)."""
    if key in LIST_ATTRIBUTES:
        if isinstance(value, list) and value and all(
                isinstance(v, str) and v and v == v.strip() and ";" not in v and "," not in v
                for v in value):
            return ";".join(value)
        return None
    return value if isinstance(value, str) and value and value == value.strip() else None


def export_row(email: str, name: str, attributes: dict[str, Any], status: str = "",
               lists: str = "") -> list[str]:
    """The cells of one person in our CSV export (EXPORT_COLUMNS), each neutralised.
    The generic CSV reader reads them back as exactly these values: a known attribute
    has its own column only when that column reads back the same (interests without
    ';' or ',' in a value, say); the rest go into the JSON `attributes` column."""
    rest = dict(attributes)
    cells = [email, name, status]
    for key in KNOWN_ATTRIBUTES:
        if key not in rest:
            cells.append("")
            continue
        cell = _column_value(key, rest[key])
        if cell is None:
            cells.append("")
        else:
            cells.append(cell)
            del rest[key]
    cells.append(json.dumps(rest, ensure_ascii=False, sort_keys=True) if rest else "")
    cells.append(lists)
    return [neutralise(c) for c in cells]


def export_too_large(email: str, name: str, attributes: dict[str, Any]) -> str | None:
    """Why this person's export would not re-import (a cell over FIELD_LIMIT), or None."""
    for column, cell in zip(EXPORT_COLUMNS, export_row(email, name, attributes),
                            strict=True):
        if len(cell) > FIELD_LIMIT:
            return (f"too large: its {column!r} would export as {len(cell):,} characters, "
                    f"over the limit of {FIELD_LIMIT:,} for a CSV field")
    return None


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


def _json_int(text: str) -> int:
    """The store's JSON (orjson) holds 64-bit integers, signed or not."""
    value = int(text) if len(text) <= 21 else None
    if value is None or not -(1 << 63) <= value < 1 << 64:
        raise ValueError(f"the number {text[:24]}{'...' if len(text) > 24 else ''} "
                         "is too large to keep")
    return value


def _json_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:24]} is too large to keep")
    return value


def _json_constant(text: str) -> Any:
    raise ValueError(f"{text} is not a number we can keep")


MAX_JSON_DEPTH = 32  # attributes are flat in practice; deep nesting is only an attack


def _depth(value: Any) -> int:
    """How deeply `value` nests lists and objects (iterative: no recursion to exhaust)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(
            node, list) else ()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            if deepest > MAX_JSON_DEPTH:
                return deepest
            stack.extend((child, level + 1) for child in children)
    return deepest


def _json_attributes(line: int, raw: str) -> dict[str, Any] | Invalid:
    """Attributes carried as a JSON object (our export's `attributes` column, listmonk's):
    the several-valued ones become lists of strings, the known single ones strings, so a
    person imported this way segments and exports like one imported from columns."""
    try:
        attributes = json.loads(raw, parse_int=_json_int, parse_float=_json_float,
                                parse_constant=_json_constant)
    except json.JSONDecodeError as e:
        return Invalid(line, f"attributes is not JSON: {e.msg} at character {e.pos}")
    except ValueError as e:  # a number the store cannot keep as it is
        return Invalid(line, f"attributes: {e}")
    except RecursionError:
        return Invalid(line, f"attributes: nested deeper than {MAX_JSON_DEPTH} levels")
    if not isinstance(attributes, dict):
        return Invalid(line, "attributes must be a JSON object")
    if _depth(attributes) > MAX_JSON_DEPTH:
        # The store's JSON encoder (orjson) stops at 254 levels: one such row would
        # abort the whole chunk it is written with.
        return Invalid(line, f"attributes: nested deeper than {MAX_JSON_DEPTH} levels")
    if "\\u" in raw and _MARK.search(json.dumps(attributes, ensure_ascii=False)):
        # "\ud800" alone is valid JSON but not text: it could never be exported.
        return Invalid(line, "attributes: a \\u escape is half of a surrogate pair")
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
            parsed = _json_attributes(line, values[json_at])
            if isinstance(parsed, Invalid):
                return parsed
            attributes = parsed
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
    die_with_parent()
    try:
        put_in_chunks(read_file(Path(path), fmt).rows, queue, size)
    except AudienceError as e:
        queue.put(("error", str(e)))
    except Exception as e:  # report, never hang the parent  # noqa: BLE001
        queue.put(("error", f"{path}: {type(e).__name__}: {e}"))


def _reader_died(path: Path, line: int, code: int | None) -> AudienceError:
    return AudienceError(f"{path}: the process reading the file stopped (exit code {code}) "
                         f"after line {line}; the rows up to there are imported, and "
                         "importing the file again finishes the job without changing them")


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
                kind, payload = next_message(queue, process, partial(_reader_died, path,
                                                                     last_line))
                if kind == "end":
                    return
                if kind == "error":
                    raise AudienceError(payload)
                last_line = payload[-1].line
                yield payload
        finally:
            stop(process)

    return reader.format, chunks()
