"""Golden emails (after rss2email): render each example variant and compare the complete
message with tests/golden/<segment>.eml.txt after normalising what changes per run
(Message-ID, Date, MIME boundaries, signed tokens).

Regenerate after an intended change: INSIGHTS_UPDATE_GOLDEN=1 make test
"""

from __future__ import annotations

import email
import os
import re
from pathlib import Path

import pytest

from .helpers import first_run

GOLDEN = Path(__file__).parent / "golden"
SEGMENTS = ["trainees", "nurses-techs", "industry", "liver", "lung", "general"]


def normalise(raw: bytes) -> str:
    msg = email.message_from_bytes(raw)
    out = []
    for name in ("Subject", "From", "To", "Reply-To", "List-Id", "List-Unsubscribe",
                 "List-Unsubscribe-Post", "Content-Type"):
        value = re.sub(r'boundary="[^"]+"', "boundary=BOUNDARY", str(msg.get(name, "")))
        out.append(f"{name}: {value}")
    out.append(f"Message-ID present: {bool(msg['Message-ID'])}; Date present: {bool(msg['Date'])}")
    for part in msg.walk():
        if part.get_content_maintype() == "multipart":
            continue
        out.append(f"\n----- {part.get_content_type()} -----")
        out.append(part.get_payload(decode=True).decode(part.get_content_charset()))
    text = "\n".join(out).replace("\r\n", "\n")
    return re.sub(r"(/[up]/)[A-Za-z0-9_\-.]+", r"\1TOKEN", text)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    from .helpers import copy_project

    project = copy_project(tmp_path_factory.mktemp("golden"))
    os.environ.setdefault("INSIGHTS_SECRET_KEY", "golden-test-key-not-secret-0123456789")
    _config, report = first_run(project)
    assert report.status == "sent", report.message
    return project / "outbox" / report.issue_id


@pytest.mark.parametrize("segment", SEGMENTS)
def test_rendered_email_matches_golden(rendered, segment):
    actual = normalise((rendered / f"{segment}.eml").read_bytes())
    golden = GOLDEN / f"{segment}.eml.txt"
    if os.environ.get("INSIGHTS_UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}; run with INSIGHTS_UPDATE_GOLDEN=1"
    assert actual == golden.read_text(encoding="utf-8"), (
        f"{segment} variant changed; if intended, regenerate with INSIGHTS_UPDATE_GOLDEN=1")


def test_golden_html_has_no_active_content(rendered):
    for segment in SEGMENTS:
        html = (rendered / f"{segment}.html").read_text()
        assert "<script" not in html.lower()
        assert not re.search(r"\son\w+\s*=", html, re.IGNORECASE)
        assert "javascript:" not in html.lower()
        assert len(html.encode()) < 80 * 1024
