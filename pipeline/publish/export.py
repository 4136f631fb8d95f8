"""The public site as static files: every path the web app serves (SitePages.paths()),
written under one folder for any web server, a CDN or rsync to publish.

- "/archive/" is written as archive/index.html, "/archive/feed.xml" as that file.
- Each file is written atomically (a temp file in the same folder, then os.replace), so
  a web server serving the folder never sends half a page.
- A file whose bytes are already those is not written again: its mtime stays, and so
  rsync and CDNs see only what changed.
- Files our previous export wrote that are no longer public (an issue an editor hid)
  are removed. The manifest `.insights-export` lists what we wrote; nothing else in the
  folder is ever touched, so the export can share it with other files.
- A path is data: one that would land outside the folder (.., an absolute or Windows
  path, a NUL) is refused and reported, and so is a folder that is a link elsewhere.
- A file that cannot be written is reported and the rest are still written."""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .model import SitePages

MANIFEST = ".insights-export"
_MANIFEST_HEAD = ("# Files `insights publish` wrote here; the next export removes those no "
                  "longer public.\n# Edit nothing: files not listed are never touched.\n")
_TMP_PREFIX = ".insights-tmp-"
_FILE_MODE = 0o644  # read by the web server, whoever it runs as


@dataclass(frozen=True)
class ExportReport:
    written: int  # files written (new or changed)
    unchanged: int  # files already holding those bytes (left alone, mtime kept)
    removed: int  # files of the previous export that are no longer public
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def file_for(path: str) -> PurePosixPath | None:
    """Where the site path `path` is written, relative to the export folder ("/" ->
    index.html, "/archive/" -> archive/index.html); None for a path that could land
    elsewhere or is not a plain site path (relative, "..", ".", "//", a backslash, a
    NUL or other control character, a query or fragment, our own manifest)."""
    if not path.startswith("/") or any(c in path for c in "\\?#") or \
            any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        return None
    parts = path[1:].split("/")
    if path.endswith("/"):
        parts[-1] = "index.html"
    if any(part in ("", ".", "..") for part in parts) or parts[0] == MANIFEST or \
            any(part.startswith(_TMP_PREFIX) for part in parts):
        return None
    return PurePosixPath(*parts)


def _inside(out: Path, target: Path) -> bool:
    """Whether `target`'s folder really is within `out`: no link inside `out` leads
    out. Asked before any folder is made, of the deepest one that exists (a folder
    not made yet is no link)."""
    folder = target.parent
    while not folder.exists() and folder != out:
        folder = folder.parent
    return folder.resolve().is_relative_to(out.resolve())


def _write_atomically(target: Path, body: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _holds(target: Path, body: bytes) -> bool:
    try:
        return target.is_file() and not target.is_symlink() and \
            target.stat().st_size == len(body) and target.read_bytes() == body
    except OSError:
        return False


def _previous(out: Path) -> tuple[set[PurePosixPath], list[str]]:
    """What the previous export wrote (its manifest, read as data: a line that is not
    a file of ours is ignored and said), and the problems reading it."""
    manifest = out / MANIFEST
    try:
        text = manifest.read_text(encoding="utf-8")
    except FileNotFoundError:
        return set(), []
    except (OSError, UnicodeDecodeError) as e:
        return set(), [f"{manifest}: cannot be read ({e}); no stale file was removed"]
    files, problems = set(), []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        relative = file_for("/" + line)
        if relative is None or str(relative) != line:
            problems.append(f"{manifest}: {line!r} is not a file of this export; left alone")
        else:
            files.add(relative)
    return files, problems


def _remove(out: Path, relative: PurePosixPath) -> bool:
    """Remove a file we wrote, then the folders it leaves empty, up to `out`; False
    when it is gone already or is no longer ours (a link or folder in its place)."""
    target = out / relative
    if not _inside(out, target) or target.is_symlink() or not target.is_file():
        return False
    target.unlink()
    folder = target.parent
    while folder != out:
        try:
            folder.rmdir()  # only when empty: a folder holding anything else stays
        except OSError:
            break
        folder = folder.parent
    return True


def export(pages: SitePages, out: Path) -> ExportReport:
    """Write every public path of `pages` under `out` and remove what the previous export
    wrote that is no longer public; never raises for a file (see the module's notes)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return ExportReport(0, 0, 0, (f"{out}: cannot create the export folder ({e})",))
    previous, problems = _previous(out)
    ours: set[PurePosixPath] = set()  # the files this export leaves that we wrote
    written = unchanged = removed = 0
    for path in pages.paths():
        relative = file_for(path)
        if relative is None:
            problems.append(f"{path!r}: not written, it is not a plain site path")
            continue
        target = out / relative
        page = pages.render(path)
        if page is None:
            problems.append(f"{path}: listed but renders nothing; not written")
            if relative in previous:
                ours.add(relative)  # not removed on a glitch: the next export decides
            continue
        try:
            if _holds(target, page.body):
                unchanged += 1
            elif not _inside(out, target):
                problems.append(f"{path}: not written, {target.parent} leads outside {out}")
                continue
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                _write_atomically(target, page.body)
                written += 1
            ours.add(relative)
        except OSError as e:
            problems.append(f"{path}: not written to {target} ({e.strerror or e})")
            if relative in previous:
                ours.add(relative)  # the old copy is still there, and still ours
    for relative in sorted(previous - ours):
        try:
            removed += _remove(out, relative)
        except OSError as e:
            problems.append(f"{out / relative}: no longer public but not removed "
                            f"({e.strerror or e})")
            ours.add(relative)
    listing = _MANIFEST_HEAD + "".join(f"{relative}\n" for relative in sorted(ours))
    manifest = out / MANIFEST
    try:
        if not _holds(manifest, listing.encode()):
            _write_atomically(manifest, listing.encode())
    except OSError as e:
        problems.append(f"{manifest}: not written ({e.strerror or e}); the next export "
                        "may not remove what this one wrote")
    return ExportReport(written, unchanged, removed, tuple(problems))
