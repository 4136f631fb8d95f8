"""The audience: imports in every format, consent, suppression, privacy, segments."""

from __future__ import annotations

import codecs
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.errors import AudienceError
from pipeline.store.store import Store
from subscribers.cli import write_export
from subscribers.formats import read_file
from subscribers.store import Audience

DATA = Path(__file__).parent / "data"
NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


@pytest.fixture
def audience(store_url):
    store = Store.open(store_url)
    yield Audience(store.engine)
    store.close()


def load(audience, path, list_name="members", fmt="auto", now=NOW):
    reader = read_file(path, fmt)
    return audience.import_rows(reader.rows, list_name, status="confirmed",
                                source=f"import:{path.name}", now=now)


def test_messy_mailchimp_export_imports_with_the_exact_summary(audience):
    summary = load(audience, DATA / "mailchimp_messy.csv")
    assert summary.counts() == (5, 0, 0, 1, 3)
    assert [line for line, _ in summary.errors] == [5, 6, 9]
    assert "email is empty" in summary.errors[0][1]
    assert "not-an-email" in summary.errors[1][1]
    assert summary.notes == [(3, "ANA.SILVA@example.org: duplicate of line 2, skipped")]
    ana = audience.get("Ana.Silva@example.org")
    assert ana.name == "Ana Silva" and ana.lists == {"members": "confirmed"}
    assert ana.attributes == {"role": "physician", "interests": ["liver", "lung"],
                              "region": "europe", "organisation": "Hospital Santa Maria",
                              "tags": ["speaker", "vip"], "country": "PT"}
    assert audience.get("zoe.muller@example.com").name == "Zoë Müller"
    assert audience.get("lan.nguyen@example.net").attributes["interests"] == [
        "liver", "immuno-oncology"]
    assert audience.get("kim.park@example.org") is not None  # padding spaces trimmed
    consent = audience.show("ana.silva@example.org")["memberships"][0]
    assert consent["consent_ip"] == "203.0.113.5"
    assert consent["consent_at"] == datetime(2026, 1, 5, 10, 5, tzinfo=UTC)


def test_importing_the_same_file_twice_changes_nothing(audience):
    load(audience, DATA / "mailchimp_messy.csv")
    again = load(audience, DATA / "mailchimp_messy.csv", now=LATER)
    assert again.counts() == (0, 0, 5, 1, 3)


def test_an_unsubscribed_export_is_honoured_and_never_undone(audience):
    load(audience, DATA / "mailchimp_messy.csv")
    summary = load(audience, DATA / "mailchimp_unsubscribed.csv", now=LATER)
    assert summary.counts() == (0, 0, 0, 2, 0)
    assert audience.get("kim.park@example.org").lists == {"members": "unsubscribed"}
    assert audience.get("new.leaver@example.org").lists == {"members": "unsubscribed"}
    # A later import of the subscribed export does not bring them back.
    again = load(audience, DATA / "mailchimp_messy.csv", now=LATER)
    assert again.skip_reasons["previously unsubscribed from this list"] == 1
    eligible = {r.email for r in audience.resolve(["members"], [], "general")}
    assert "kim.park@example.org" not in eligible and "new.leaver@example.org" not in eligible
    assert len(eligible) == 4


def test_listmonk_export(audience, tmp_path):
    path = tmp_path / "listmonk.csv"
    path.write_text(
        'uuid,email,name,attributes,status,created_at,updated_at\n'
        '5e1a,sam@example.org,Sam Lee,"{""role"": ""nurse"", ""interests"": [""kidney""]}",enabled,2026-01-01,2026-01-01\n'
        '5e1b,blocked@example.org,Blocked,{},blocklisted,2026-01-01,2026-01-01\n'
        '5e1c,broken@example.org,Broken,{not json,enabled,2026-01-01,2026-01-01\n')
    summary = load(audience, path)
    assert summary.counts() == (1, 0, 0, 1, 1)
    assert summary.errors[0][0] == 4 and "not JSON" in summary.errors[0][1]
    assert audience.get("sam@example.org").attributes == {"role": "nurse", "interests": ["kidney"]}
    assert audience.is_suppressed("BLOCKED@example.org")


def test_json_attributes_are_normalised_and_export_like_column_ones(audience, tmp_path):
    # Our own export's `attributes` column (and listmonk's) carry JSON written by hand or
    # by other tools: interests as a string, numbers in lists, a role that is a number.
    path = tmp_path / "people.csv"
    path.write_text(
        'email,name,attributes\n'
        'a@example.org,A,"{""interests"": ""liver; lung"", ""role"": 7}"\n'
        'b@example.org,B,"{""tags"": [2026, ""vip""], ""grade"": [1, 2]}"\n'
        'c@example.org,C,"{""interests"": {""liver"": true}}"\n'
        'd@example.org,D,"{""region"": [""europe""]}"\n')
    summary = load(audience, path)
    assert summary.counts() == (2, 0, 0, 0, 2)
    assert [line for line, _ in summary.errors] == [4, 5]
    assert "interests must be a list of values" in summary.errors[0][1]
    assert "region must be a single value" in summary.errors[1][1]
    assert audience.get("a@example.org").attributes == {"interests": ["liver", "lung"],
                                                        "role": "7"}
    assert audience.get("b@example.org").attributes == {"tags": ["2026", "vip"],
                                                        "grade": [1, 2]}
    exported = io.StringIO()
    write_export(audience, "members", "csv", exported)
    assert "liver;lung" in exported.getvalue()
    again = tmp_path / "again.csv"
    again.write_text(exported.getvalue(), encoding="utf-8")
    assert load(audience, again, now=LATER).counts() == (0, 0, 2, 0, 0)


def test_mailchimp_headers_in_any_case_and_hand_edited_tags(audience, tmp_path):
    path = tmp_path / "mc.csv"
    path.write_text(
        'EMAIL ADDRESS,first name,Last Name,TAGS\n'
        'one@example.org,One,Person,"""speaker"",""vip"""\n'
        'two@example.org,Two,Person,"""broken\ntag"",vip"\n'
        'three@example.org,Three,Person,"a ""quoted"" tag, other"\n')
    reader = read_file(path)
    assert reader.format == "mailchimp"
    summary = load(audience, path)
    assert summary.counts() == (3, 0, 0, 0, 0)
    assert audience.get("one@example.org").name == "One Person"
    assert audience.get("one@example.org").attributes["tags"] == ["speaker", "vip"]
    assert audience.get("two@example.org").attributes["tags"] == ["broken tag", "vip"]
    assert audience.get("three@example.org").attributes["tags"] == ['a "quoted" tag', "other"]


def test_latin1_file_and_malformed_rows(audience, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("email,name,role\njose@example.org,José Núñez,fellow\n"
                     "x@example.org,Too,Many,Fields\n".encode("latin-1"))
    summary = load(audience, path)
    assert summary.counts() == (1, 0, 0, 0, 1)
    assert summary.errors == [(3, "1 more fields than the header")]
    assert audience.get("jose@example.org").name == "José Núñez"


def test_header_without_email_fails_clearly(audience, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("mail,name\na@example.org,A\n")
    with pytest.raises(AudienceError, match="expected an 'email' column"):
        read_file(path)


def test_suppressed_people_are_never_imported_or_resolved(audience, tmp_path):
    audience.suppress("zoe.muller@example.com", "complaint", "test", NOW)
    summary = load(audience, DATA / "mailchimp_messy.csv")
    assert summary.skip_reasons["suppressed (unsubscribed, bounced or complained)"] == 1
    assert "zoe.muller@example.com" not in {r.email for r in audience.resolve(["members"], [], "g")}


def test_the_check_before_each_batch_names_exactly_who_left(audience):
    load(audience, DATA / "mailchimp_messy.csv")
    emails = ["ana.silva@example.org", "zoe.muller@example.com", "lan.nguyen@example.net",
              "kim.park@example.org"]
    ids = {e: audience.get(e).id for e in emails}
    digest_only, _ = audience.add("dee@example.org", "digest", status="confirmed",
                                  source="test", now=NOW)
    unconfirmed, _ = audience.add("una@example.org", "members", status="unconfirmed",
                                  source="test", now=NOW)
    audience.unsubscribe("zoe.muller@example.com", "members", source="test", now=LATER)
    audience.suppress("lan.nguyen@example.net", "bounce", "hard bounce", LATER)
    audience.forget("kim.park@example.org", LATER)
    asked = [*ids.values(), digest_only.id, unconfirmed.id, 999_999]
    left = {ids["zoe.muller@example.com"], ids["lan.nguyen@example.net"],
            ids["kim.park@example.org"], unconfirmed.id, 999_999}
    assert audience.no_longer_eligible(asked, ["members"]) == left | {digest_only.id}
    assert audience.no_longer_eligible(asked, ["members", "digest"]) == left
    assert audience.no_longer_eligible([ids["ana.silva@example.org"]], ["members"]) == set()
    assert audience.no_longer_eligible([], ["members"]) == set()


def test_forget_erases_everything_but_a_hashed_suppression(audience):
    load(audience, DATA / "mailchimp_messy.csv")
    assert audience.forget("Ana.Silva@example.org", LATER)
    shown = audience.show("ana.silva@example.org")
    assert shown["subscriber"] is None and shown["memberships"] == []
    assert shown["suppression"]["reason"] == "forgotten"
    assert "ana" not in json.dumps(shown["suppression"], default=str)
    again = load(audience, DATA / "mailchimp_messy.csv", now=LATER)
    assert again.added == 0 and audience.get("ana.silva@example.org") is None


def test_double_opt_in_add_and_confirm(audience):
    person, outcome = audience.add("New.Person@example.org", "digest", status="unconfirmed",
                                   source="web", now=NOW, ip="192.0.2.1")
    assert outcome == "added" and person.lists == {"digest": "unconfirmed"}
    assert list(audience.resolve(["digest"], [], "general")) == []
    assert audience.confirm("new.person@example.org", "digest", source="link", now=LATER)
    assert [r.email for r in audience.resolve(["digest"], [], "general")] == [
        "New.Person@example.org"]
    assert audience.add("new.person@example.org", "digest", status="unconfirmed",
                        source="web", now=LATER)[1] == "already"
    audience.unsubscribe("new.person@example.org", None, source="test", now=LATER)
    assert audience.add("new.person@example.org", "digest", status="unconfirmed",
                        source="web", now=LATER)[1] == "refused"


def test_export_round_trips(audience, tmp_path):
    load(audience, DATA / "mailchimp_messy.csv")
    load(audience, DATA / "mailchimp_unsubscribed.csv", now=LATER)
    before = io.StringIO()
    write_export(audience, "members", "csv", before)
    path = tmp_path / "export.csv"
    path.write_text(before.getvalue(), encoding="utf-8")
    summary = load(audience, path, now=LATER)
    assert summary.added == summary.updated == summary.invalid == 0
    after = io.StringIO()
    write_export(audience, "members", "csv", after)
    assert after.getvalue() == before.getvalue()
    assert len(before.getvalue().splitlines()) == 1 + 6


def test_import_file_parses_on_another_core_with_the_same_result(audience):
    fmt, summary = audience.import_file(DATA / "mailchimp_messy.csv", "auto", "members",
                                        status="confirmed", now=NOW, parallel_from=0)
    assert fmt == "mailchimp" and summary.counts() == (5, 0, 0, 1, 3)
    assert [line for line, _ in summary.errors] == [5, 6, 9]
    assert audience.get("zoe.muller@example.com").name == "Zoë Müller"


def test_import_file_reports_an_undecodable_byte_from_the_parsing_process(audience, tmp_path):
    path = tmp_path / "broken.csv"
    # UTF-8 for the first megabyte (so it is read as UTF-8), then a Latin-1 byte: that
    # row is reported with its line, the others import (it used to abort the file).
    rows = b"".join(b"member%d@example.org,Member %d\n" % (i, i) for i in range(40000))
    path.write_bytes(b"email,name\n" + rows + b"late@example.org,Jos\xe9\nlast@example.org,L\n")
    _fmt, summary = audience.import_file(path, "auto", "members", status="confirmed",
                                         now=NOW, parallel_from=0)
    assert summary.counts() == (40001, 0, 0, 0, 1)
    assert summary.errors == [(40002, "not valid UTF-8 text (byte 0xE9 in the 'name' "
                                      "column); the row is skipped: save the file as UTF-8")]
    assert audience.get("late@example.org") is None
    assert audience.get("last@example.org").name == "L"


def test_a_parsing_process_that_dies_is_an_error_not_a_hang(tmp_path):
    import multiprocessing
    import os
    import signal

    from subscribers.formats import parsed_chunks

    path = tmp_path / "big.csv"
    rows = b"".join(b"member%d@example.org,Member %d\n" % (i, i) for i in range(200_000))
    path.write_bytes(b"email,name\n" + rows)
    _fmt, chunks = parsed_chunks(path, "csv", size=100)
    first = next(chunks)
    assert first[0].email == "member0@example.org"
    (child,) = multiprocessing.active_children()
    os.kill(child.pid, signal.SIGKILL)  # as the kernel's OOM killer would
    seen = [first]
    with pytest.raises(AudienceError) as info:
        seen.extend(chunks)
    last = seen[-1][-1].line
    assert last < 200_001  # it did not get to the end
    assert f"big.csv: the process reading the file stopped (exit code -9) after line {last}" \
        in str(info.value)


def test_resolving_on_two_cores_gives_everyone_once_with_the_same_segment(audience):
    """From PARALLEL_FROM subscribers on, a child process resolves the upper ids."""
    from subscribers.segments import compile_rule

    load(audience, DATA.parent.parent / "examples" / "subscribers.csv")
    audience.suppress("ethan.thompson@example.org", "bounce", "test", NOW)
    audience.unsubscribe("zoe.muller@example.com", "members", source="test", now=NOW)
    segments = [("trainees", compile_rule({"role": ["resident", "fellow"]})),
                ("liver", compile_rule({"interests": {"contains": "liver"}}))]
    alone = [(r.email, r.segment) for r in audience.resolve(["members"], segments, "general",
                                                            parallel_from=None)]
    for share in (0.56, 0.0):  # 0.0: the child resolves them all (as in a send)
        people = list(audience.resolve(["members"], segments, "general", parallel_from=0,
                                       share=share, prepare=email_and_name))
        shared = [(r.email, r.segment) for r in people]
        assert len(shared) == len({email for email, _ in shared}) == 319
        assert sorted(shared) == sorted(alone)
        assert "ethan.thompson@example.org" not in dict(shared)
        # What the send works out per recipient, in the child: for those it resolved
        # (the upper ids), not for this process's share.
        prepared = {r.subscriber_id for r in people if r.prepared is not None}
        assert all(r.prepared == email_and_name(r.email, r.first_name)
                   for r in people if r.prepared is not None)
        here = {r.subscriber_id for r in people} - prepared
        assert len(prepared) == 319 if share == 0.0 else (
            prepared and here and min(prepared) > max(here))


def email_and_name(email, first_name):
    return f"{email}|{first_name}".encode()


def test_a_resolving_process_that_dies_is_an_error_not_a_hang(audience, monkeypatch):
    import multiprocessing
    import os
    import signal

    from subscribers import resolve

    load(audience, DATA.parent.parent / "examples" / "subscribers.csv")
    monkeypatch.setattr(resolve, "STREAM_ROWS", 10)  # this side checks the child often
    got = audience.resolve(["members"], [], "general", parallel_from=0)
    next(got)
    (child,) = multiprocessing.active_children()
    os.kill(child.pid, signal.SIGKILL)
    with pytest.raises(AudienceError, match=r"the process resolving the upper half of the "
                                            r"audience stopped \(exit code -9\)"):
        list(got)


def test_true_or_false_in_a_json_list_attribute_is_an_invalid_row(audience, tmp_path):
    path = tmp_path / "flags.csv"
    path.write_text('email,attributes\n'
                    'f@example.org,"{""interests"": [true, ""liver""]}"\n')
    summary = load(audience, path)
    assert summary.counts() == (0, 0, 0, 0, 1)
    assert "interests must be a list of values" in summary.errors[0][1]


# -- CSV that cannot harm ----------------------------------------------------------------

def fresh(tmp_path, name="fresh"):
    store = Store.open(f"sqlite:///{tmp_path / (name + '.db')}")
    return Audience(store.engine)


def exported(audience, list_name="members"):
    out = io.StringIO()
    write_export(audience, list_name, "csv", out)
    return out.getvalue()


def test_formula_cells_are_neutralised_on_export_and_restored_on_import(audience, tmp_path):
    import csv

    people = {
        "=cmd@example.org": ('=HYPERLINK("http://evil.example/","Click")',
                             {"role": "+1+1", "organisation": "@SUM(A1:A9)",
                              "region": "-2+3", "interests": ["=liver", "lung"],
                              "note": "\t=tab", "other": "\r=cr", "tags": ["@vip"]}),
        "-minus@example.org": ("'=Already quoted", {"role": "'-kept as it is",
                                                    "organisation": "St\rMary's"}),
        "plain@example.org": ("O'Brien", {"role": "nurse", "interests": ["liver, lung"]}),
    }
    for address, (name, attributes) in people.items():
        audience.add(address, "members", status="confirmed", source="t", now=NOW, name=name,
                     attributes=attributes)
    text = exported(audience)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert all(cell[:1] not in "=+-@\t\r" for row in rows for cell in row if cell)
    assert rows[1][:4] == ["'=cmd@example.org", "'=HYPERLINK(\"http://evil.example/\",\"Click\")",
                           "confirmed", "'+1+1"]
    assert rows[2][:4] == ["'-minus@example.org", "''=Already quoted", "confirmed",
                           "''-kept as it is"]
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8", newline="")
    again = fresh(tmp_path)
    summary = load(again, path)
    assert summary.counts() == (3, 0, 0, 0, 0)
    for address, (name, attributes) in people.items():
        person = again.get(address)
        assert (person.name, person.attributes) == (name, attributes)
    assert exported(again) == text


def test_a_field_over_the_limit_is_an_invalid_row_and_the_others_import(audience, tmp_path):
    big = "x" * 200_000
    path = tmp_path / "big.csv"
    path.write_text(
        "email,name,notes\n"
        "a@example.org,A,\n"
        f'b@example.org,B,"{big}\nstill, the same ""field""\n{big}"\n'  # lines 3-5
        "c@example.org,C,\n"
        f"d@example.org,D,{big}\n"  # line 7
        "not-an-email,E,\n"
        'f@example.org,F,"two\nlines"\n', encoding="utf-8")
    for parallel_from in (1 << 30, 0):  # read here, and on another core
        target = fresh(tmp_path, f"p{parallel_from}")
        _fmt, summary = target.import_file(path, "auto", "members", status="confirmed",
                                           now=NOW, parallel_from=parallel_from)
        assert summary.counts() == (3, 0, 0, 0, 3)
        too_long = "a field is longer than the limit of 131,072 characters; the row is skipped"
        assert summary.errors[:2] == [(3, too_long), (7, too_long)]
        assert summary.errors[2][0] == 8 and "not-an-email" in summary.errors[2][1]
        assert {p["email"] for p in target.export(None)} == {
            "a@example.org", "c@example.org", "f@example.org"}
        assert target.get("f@example.org").attributes == {"notes": "two\nlines"}


def test_nobody_is_imported_whose_export_would_not_import_again(audience, tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("email,name,notes\n"
                    f"fits@example.org,Fits,{'n' * 131_000}\n"
                    f"over@example.org,Over,{'n' * 131_070}\n", encoding="utf-8")
    summary = load(audience, path)
    assert summary.counts() == (1, 0, 0, 0, 1)
    assert summary.errors == [(3, "too large: its 'attributes' would export as 131,083 "
                                  "characters, over the limit of 131,072 for a CSV field")]
    # Another file's attributes on top of what a person has: refused in the same way.
    more = tmp_path / "more.csv"
    more.write_text(f"email,bio\nfits@example.org,{'b' * 500}\n", encoding="utf-8")
    assert load(audience, more, now=LATER).counts() == (0, 0, 0, 0, 1)
    again = tmp_path / "export.csv"
    again.write_text(exported(audience), encoding="utf-8", newline="")
    assert load(fresh(tmp_path), again).counts() == (1, 0, 0, 0, 0)


UNICODE_ROWS = "email,name,role\nzoe@example.org,Zoë Müller,fellow\nlan@example.org,Nguyễn Lan,nurse\n"


@pytest.mark.parametrize("encoded", [
    UNICODE_ROWS.encode("utf-8"),
    codecs.BOM_UTF8 + UNICODE_ROWS.encode("utf-8"),
    codecs.BOM_UTF16_LE + UNICODE_ROWS.encode("utf-16-le"),
    codecs.BOM_UTF16_BE + UNICODE_ROWS.encode("utf-16-be"),
    codecs.BOM_UTF16_LE + UNICODE_ROWS.replace("\n", "\r\n").encode("utf-16-le"),
    codecs.BOM_UTF32_LE + UNICODE_ROWS.encode("utf-32-le"),
    UNICODE_ROWS.encode("utf-16-le"),
], ids=["utf-8", "utf-8-bom", "utf-16-le", "utf-16-be", "utf-16-crlf", "utf-32",
        "utf-16-le-no-bom"])
def test_unicode_files_import_with_or_without_a_bom(audience, tmp_path, encoded):
    path = tmp_path / "people.csv"
    path.write_bytes(encoded)
    assert load(audience, path).counts() == (2, 0, 0, 0, 0)
    assert audience.get("zoe@example.org").name == "Zoë Müller"
    assert audience.get("lan@example.org").attributes == {"role": "nurse"}
    assert audience.get("lan@example.org").name == "Nguyễn Lan"


def test_a_bad_byte_in_a_utf8_file_is_reported_on_its_line_not_read_as_latin1(audience, tmp_path):
    path = tmp_path / "mostly-utf8.csv"
    path.write_bytes("email,name\nzoe@example.org,Zoë Müller\n".encode()
                     + b"jose@example.org,Jos\xe9\n"
                     + "lan@example.org,Nguyễn Lan\n".encode()
                     + b'two@example.org,"two\nlines \xff"\n')
    summary = load(audience, path)
    assert summary.counts() == (2, 0, 0, 0, 2)
    assert summary.errors == [
        (3, "not valid UTF-8 text (byte 0xE9 in the 'name' column); the row is skipped: "
            "save the file as UTF-8"),
        (6, "not valid UTF-8 text (byte 0xFF in the 'name' column); the row is skipped: "
            "save the file as UTF-8")]
    assert audience.get("zoe@example.org").name == "Zoë Müller"  # not "ZoÃ« MÃ¼ller"
    assert audience.get("jose@example.org") is None


def test_a_windows_latin1_file_keeps_its_curly_quotes(audience, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("email,name,organisation\nsean@example.org,Seán O’Brien,St Mary’s – Dublin\n"
                     .encode("cp1252"))
    assert load(audience, path).counts() == (1, 0, 0, 0, 0)
    sean = audience.get("sean@example.org")
    assert (sean.name, sean.attributes) == ("Seán O’Brien", {"organisation": "St Mary’s – Dublin"})


@pytest.mark.parametrize(("head", "whole", "encoding"), [
    (b"email,name\na@example.org,A\n", True, "utf-8"),
    ("Zoë Müller\n".encode(), True, "utf-8"),
    ("José Núñez\n".encode("latin-1"), True, "cp1252"),
    ("Zoë Müller Nguyễn\n".encode() + b"Jos\xe9\n", True, "utf-8"),  # 3 characters, 1 bad byte
    ("é ü ö\n".encode("latin-1") + "ß".encode(), True, "cp1252"),  # 3 bad bytes, 1 character
    (b"a\n" + "é".encode()[:1], False, "utf-8"),  # a character cut at the end of the sample
    (codecs.BOM_UTF8 + b"email", True, "utf-8-sig"),
    (codecs.BOM_UTF16_LE + "email".encode("utf-16-le"), True, "utf-16"),
    (codecs.BOM_UTF16_BE + "email".encode("utf-16-be"), True, "utf-16"),
    (codecs.BOM_UTF32_LE + "email".encode("utf-32-le"), True, "utf-32"),
    ("email,name\nzoe@example.org,Zoë\n".encode("utf-16-le"), True, "utf-16-le"),
    ("email,name\nzoe@example.org,Zoë\n".encode("utf-16-be"), True, "utf-16-be"),
    (b"email,name\na@example.org,A\x00\n", True, "utf-8"),  # a stray NUL is not UTF-16
])
def test_the_encoding_rule(head, whole, encoding):
    from subscribers.formats import choose_encoding

    assert choose_encoding(head, whole) == encoding


@pytest.mark.parametrize("raw", [
    '{"big": 18446744073709551616}', '{"small": -9223372036854775809}',
    '{"n": NaN}', '{"n": 1e999}', '{"digits": ' + "1" * 5000 + "}", '{"half": "\\ud800"}',
    '{"x": ' + "[" * 254 + "]" * 254 + "}",  # past orjson's depth, at insert time
    '{"x": ' + "[" * 50_000 + "]" * 50_000 + "}"])  # past Python's recursion limit
def test_json_attributes_the_store_cannot_keep_are_an_invalid_row(audience, tmp_path, raw):
    # Each of these used to abort the whole import (orjson refuses integers beyond 64
    # bits, int() more than 4,300 digits) or store something else (NaN as null).
    path = tmp_path / "odd.csv"
    path.write_text("email,attributes\nok@example.org,{}\n"
                    f'odd@example.org,"{raw.replace(chr(34), chr(34) * 2)}"\n', encoding="utf-8")
    summary = load(audience, path)
    assert summary.counts() == (1, 0, 0, 0, 1)
    assert summary.errors[0][0] == 3 and summary.errors[0][1].startswith("attributes: ")


# -- names: cleaned wherever they are stored ---------------------------------------------

@pytest.mark.parametrize(("raw", "clean"), [
    ("Ada Lovelace", "Ada Lovelace"),
    ("  Ada \t Lovelace\r\n", "Ada Lovelace"),
    ("Ada\nLovelace", "Ada Lovelace"),
    ("Ad\x00a", "Ada"),
    ("\x1b[31mRed\x07", "[31mRed"),
    ("Evil\x85Line\x9bC1", "Evil LineC1"),
    ("\u202eevil\u202c.exe", "evil.exe"),
    ("Ali\u200f \u2066x\u2069\u061c\u200e", "Ali x"),
    ("zero\u200bwidth\ufeff soft\u00adhyphen \u2060joiner", "zerowidth softhyphen joiner"),
    ("\u00a0Zoë\u3000Müller\u2028\u2029", "Zoë Müller"),
    ("Zoe\u0308 Mu\u0308ller", "Zoë Müller"),  # NFC
    ("\u3164", ""),  # a Hangul filler shows as nothing
    ("\u200d \u200c", ""),
    ("👩\u200d🔬 Kim", "👩\u200d🔬 Kim"),  # a joiner inside an emoji stays
    ("\U000e0041\U000e0042hidden tags", "hidden tags"),
    ("x" * 150, "x" * 100),
    ("a" * 99 + "🇫🇷", "a" * 99),  # a flag is two characters: not cut in half
    ("a" * 99 + "👍🏽", "a" * 99),  # nor a thumb from its skin tone
    ("a" * 98 + " e\u0301x", "a" * 98 + " é"),
    ("क" * 99 + "्ष", "क" * 98),  # nor a conjunct (consonant, virama, consonant)
    ("", ""),
])
def test_clean_name(raw, clean):
    from subscribers.model import clean_name

    assert clean_name(raw) == clean


def test_a_plain_name_takes_the_fast_path():
    from subscribers.model import clean_name

    for name in ("Member 12345", "Zoë Müller", "Nguyễn Lan", "O'Brien-Smith"):
        assert clean_name(name) is name


HOSTILE_NAME = "\u202eAda\x00 \r\nLove\u200blace\t" + "x" * 200


def test_names_are_cleaned_by_every_import_format(audience, tmp_path):
    quoted = HOSTILE_NAME.replace('"', '""')
    generic = tmp_path / "generic.csv"
    generic.write_text(f'email,name\ng@example.org,"{quoted}"\n', encoding="utf-8")
    mailchimp = tmp_path / "mailchimp.csv"
    mailchimp.write_text('Email Address,First Name,Last Name\nm@example.org,"\u2066Ada\t",'
                         '"Love\u202elace\n"\n', encoding="utf-8")
    listmonk = tmp_path / "listmonk.csv"
    listmonk.write_text(f'uuid,email,name,attributes,status\n1,l@example.org,"{quoted}",{{}},'
                        f'enabled\n', encoding="utf-8")
    for path in (generic, mailchimp, listmonk):
        assert load(audience, path).counts() == (1, 0, 0, 0, 0)
    expected = ("Ada Lovelace " + "x" * 200)[:100]
    assert audience.get("g@example.org").name == expected
    assert audience.get("m@example.org").name == "Ada Lovelace"
    assert audience.get("l@example.org").name == expected
    # A file that renames someone stores the clean name too.
    again = tmp_path / "again.csv"
    again.write_text('email,name\nm@example.org,"Ada\u202e\nKing"\n', encoding="utf-8")
    assert load(audience, again, now=LATER).counts() == (0, 1, 0, 0, 0)
    assert audience.get("m@example.org").name == "Ada King"


def test_names_are_cleaned_by_add_sign_up_and_profile_edits(audience):
    expected = ("Ada Lovelace " + "x" * 200)[:100]
    person, outcome = audience.add("a@example.org", "members", status="confirmed",
                                   source="t", now=NOW, name=HOSTILE_NAME)
    assert outcome == "added" and person.name == expected
    assert audience.get("a@example.org").name == expected
    assert audience.sign_up("s@example.org", "members", source="t", now=NOW,
                            name=HOSTILE_NAME) == "confirm"
    assert audience.get("s@example.org").name == expected
    assert audience.update_profile("s@example.org", name="Grace\u2067 \x00Hopper\n",
                                   attributes={}, now=LATER)
    assert audience.get("s@example.org").name == "Grace Hopper"
