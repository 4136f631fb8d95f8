"""Read subscriber rows from CSV files: decoding, header mapping, per-row validation.

Yields (line number, row or error) so the store can import valid rows and report the
rest; nothing here touches the database.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import AudienceError

from .model import LIST_ATTRIBUTES, normalise_email

RESERVED = {"email", "name"}


@dataclass(frozen=True)
class Row:
    line: int
    email: str
    name: str
    attributes: dict[str, Any]


def open_text(path: Path) -> io.TextIOBase:
    """UTF-8 (with or without BOM); Latin-1 when the bytes are not UTF-8."""
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


def _split_values(value: str) -> list[str]:
    sep = ";" if ";" in value else ","
    return [v.strip() for v in value.split(sep) if v.strip()]


def read_generic_csv(path: Path) -> Iterator[Row | tuple[int, str]]:
    with open_text(path) as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames:
            raise AudienceError(f"{path}: empty file, expected a header row with an email column")
        fields = {f: (f or "").strip().lower() for f in reader.fieldnames}
        if "email" not in fields.values():
            raise AudienceError(f"{path}: no 'email' column in header {list(reader.fieldnames)}")
        try:
            for record in reader:
                line = reader.line_num
                yield _row(line, {fields[k]: v for k, v in record.items() if k is not None},
                           record.get(None))  # type: ignore[call-overload]
        except UnicodeDecodeError as e:
            raise AudienceError(
                f"{path}: undecodable bytes near line {reader.line_num}: {e}") from None
        except csv.Error as e:
            raise AudienceError(f"{path}: line {reader.line_num}: malformed CSV: {e}") from None


def _row(line: int, record: dict[str, Any], extra: Any) -> Row | tuple[int, str]:
    if extra:
        return (line, f"{len(extra)} more fields than the header has")
    raw = (record.get("email") or "").strip()
    if not raw:
        return (line, "email is empty")
    try:
        email = normalise_email(raw)
    except ValueError as e:
        return (line, str(e))
    attributes: dict[str, Any] = {}
    for key, value in record.items():
        if key in RESERVED or not key or value is None:
            continue
        value = value.strip()
        if not value:
            continue
        attributes[key] = _split_values(value) if key in LIST_ATTRIBUTES else value
    return Row(line, email, (record.get("name") or "").strip(), attributes)
