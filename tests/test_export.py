"""The static export: every public path as a file under one folder, written atomically,
unchanged files left alone, what is no longer public removed, nothing else touched, and
no path from data written outside the folder."""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from pathlib import Path

import pytest

from pipeline.publish.export import MANIFEST, export, file_for

from .publish_fakes import DictPages

ISSUE = "/archive/2026-W48/"


def site() -> DictPages:
    return DictPages({"/": b"<html>home", "/archive/": b"<html>archive", ISSUE: b"<html>W48",
                      "/archive/2026-W49/": b"<html>W49", "/archive/feed.xml": b"<feed/>",
                      "/robots.txt": b"User-agent: *\n"})


def tree(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != MANIFEST}


@pytest.mark.parametrize(("path", "file"), [
    ("/", "index.html"), ("/archive/", "archive/index.html"),
    ("/archive/page/2/", "archive/page/2/index.html"),
    ("/archive/feed.xml", "archive/feed.xml"), ("/robots.txt", "robots.txt"),
    ("/archive/2026-W48/", "archive/2026-W48/index.html"),
    ("/archive/..", None), ("/archive/../../etc/passwd", None), ("/../x", None),
    ("../x", None), ("archive/", None), ("", None), ("//etc/passwd", None),
    ("/a//b", None), ("/./x", None), ("/x\\..\\..\\y", None), ("/x\x00.html", None),
    ("/x\n.html", None), ("/feed.xml?x=1", None), ("/#top", None),
    (f"/{MANIFEST}", None), ("/.insights-tmp-abc", None),
])
def test_each_site_path_has_one_file_inside_the_folder_or_none(path, file):
    assert (str(file_for(path)) if file_for(path) else None) == file


def test_every_path_is_written_and_a_second_export_changes_nothing(tmp_path):
    out = tmp_path / "site"
    first = export(site(), out)
    assert (first.written, first.unchanged, first.removed, first.problems) == (6, 0, 0, ())
    assert tree(out) == {
        "index.html": b"<html>home", "archive/index.html": b"<html>archive",
        "archive/2026-W48/index.html": b"<html>W48", "archive/2026-W49/index.html": b"<html>W49",
        "archive/feed.xml": b"<feed/>", "robots.txt": b"User-agent: *\n"}
    assert (out / "robots.txt").stat().st_mode & 0o777 == 0o644  # the web server reads it
    listed = (out / MANIFEST).read_text().splitlines()
    assert [line for line in listed if not line.startswith("#")] == sorted(tree(out))

    again = export(site(), out)
    assert (again.written, again.unchanged, again.removed, again.problems) == (0, 6, 0, ())
    assert not [p for p in out.rglob("*") if p.name.startswith(".insights-tmp")]


def test_unchanged_files_keep_their_mtime_and_changed_ones_are_replaced(tmp_path):
    out = tmp_path / "site"
    export(site(), out)
    old = 1_700_000_000
    for p in out.rglob("*"):
        os.utime(p, (old, old))
    changed = site()
    changed.bodies["/archive/feed.xml"] = b"<feed>new</feed>"
    report = export(changed, out)
    assert (report.written, report.unchanged) == (1, 5)
    mtimes = {str(p.relative_to(out)): p.stat().st_mtime for p in out.rglob("*") if p.is_file()}
    assert mtimes.pop("archive/feed.xml") > old
    assert set(mtimes.values()) == {old}  # the manifest too: it lists the same files
    assert (out / "archive/feed.xml").read_bytes() == b"<feed>new</feed>"


def test_a_hidden_issue_disappears_and_foreign_files_stay(tmp_path):
    out = tmp_path / "site"
    (out / "archive" / "2026-W48").mkdir(parents=True)
    foreign = {"CNAME": b"news.example.org", "archive/2026-W48/notes.txt": b"mine",
               ".well-known/security.txt": b"Contact: x"}
    for name, body in foreign.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(body)
    export(site(), out)

    hidden = site()
    del hidden.bodies[ISSUE], hidden.bodies["/archive/2026-W49/"]
    report = export(hidden, out)
    assert (report.written, report.removed, report.problems) == (0, 2, ())
    assert not (out / "archive/2026-W48/index.html").exists()
    assert not (out / "archive/2026-W49").exists()  # the folder it left empty goes too
    assert (out / "archive/2026-W48").is_dir()  # still holds someone's file
    for name, body in foreign.items():
        assert (out / name).read_bytes() == body
    assert "archive/2026-W48/index.html" not in (out / MANIFEST).read_text()


def test_a_file_someone_else_wrote_is_never_removed(tmp_path):
    """Only what the manifest lists goes, and a tampered manifest line that points
    outside the folder (or at nothing of ours) removes nothing."""
    out = tmp_path / "site"
    outside = tmp_path / "precious.txt"
    outside.write_bytes(b"keep me")
    (out / "archive").mkdir(parents=True)
    (out / "archive/old.html").write_bytes(b"someone's")
    (out / MANIFEST).write_text("../precious.txt\n/etc/hostname\narchive/../../precious.txt\n")
    report = export(site(), out)
    assert report.removed == 0 and len(report.problems) == 3
    assert all("not a file of this export; left alone" in p for p in report.problems)
    assert outside.read_bytes() == b"keep me"
    assert (out / "archive/old.html").read_bytes() == b"someone's"
    assert export(site(), out).problems == ()  # the manifest is ours again


def test_paths_that_would_land_outside_are_refused_and_the_rest_written(tmp_path):
    out = tmp_path / "site"
    hostile = DictPages({"/../escaped.html": b"x", "/archive/../../escaped.html": b"x",
                         "/a\\..\\..\\escaped.html": b"x", "/nul\x00.html": b"x",
                         f"/{MANIFEST}": b"x", "/ok.html": b"fine"})
    report = export(hostile, out)
    assert report.written == 1 and len(report.problems) == 5
    assert all("not a plain site path" in p for p in report.problems)
    assert not (tmp_path / "escaped.html").exists()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [MANIFEST, "ok.html"]


def test_a_folder_that_is_a_link_elsewhere_is_not_written_through(tmp_path):
    out, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "archive").symlink_to(elsewhere)
    report = export(site(), out)
    assert list(elsewhere.iterdir()) == []
    assert report.written == 2  # index.html and robots.txt
    assert len(report.problems) == 4 and all("leads outside" in p for p in report.problems)


def test_a_file_that_cannot_be_written_is_reported_and_the_rest_written(tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    (out / "archive").write_bytes(b"a file where the archive folder goes")
    report = export(site(), out)
    assert report.written == 2 and len(report.problems) == 4
    assert all("not written to" in p for p in report.problems)
    assert (out / "index.html").read_bytes() == b"<html>home"


NOBODY = 65534


def unprivileged(call):
    """`call()` as a user that file permissions apply to: in a forked child that drops
    root (which writes into read-only folders), else right here."""
    if os.geteuid() != 0:
        return call()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no pytest teardown, only the answer down the pipe
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            answer = pickle.dumps(call())
        except BaseException as e:  # handed to the parent, which raises it
            answer = pickle.dumps(e)
        with os.fdopen(write, "wb") as pipe:
            pipe.write(answer)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = pickle.loads(pipe.read())
    os.waitpid(pid, 0)
    if isinstance(answer, BaseException):
        raise answer
    return answer


@pytest.fixture
def shared_tmp():
    """A folder another user can reach (pytest's tmp_path is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="insights-export-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_a_read_only_folder_is_reported_and_the_rest_written(shared_tmp):
    out = shared_tmp / "site"
    export(site(), out)
    if os.geteuid() == 0:  # the export's files become the unprivileged user's
        for p in [out, *out.rglob("*")]:
            os.chown(p, NOBODY, NOBODY)
    changed = DictPages({path: body + b"!" for path, body in site().bodies.items()})
    (out / "archive").chmod(0o555)
    try:
        report = unprivileged(lambda: export(changed, out))
    finally:
        (out / "archive").chmod(0o755)
    assert report.written == 4  # /, /robots.txt and the two issues in their own folders
    assert [p.split(":")[0] for p in report.problems] == ["/archive/", "/archive/feed.xml"]
    assert "Permission denied" in report.problems[0]
    assert (out / "archive/index.html").read_bytes() == b"<html>archive"  # the old copy
    assert (out / "archive/2026-W48/index.html").read_bytes() == b"<html>W48!"


def test_a_page_that_renders_nothing_is_reported_and_its_old_copy_kept(tmp_path):
    out = tmp_path / "site"
    export(site(), out)
    glitch = site()
    glitch.render = lambda path: None if path == ISSUE else DictPages.render(glitch, path)
    report = export(glitch, out)
    assert report.problems == (f"{ISSUE}: listed but renders nothing; not written",)
    assert report.removed == 0 and (out / "archive/2026-W48/index.html").exists()
