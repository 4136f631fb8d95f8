"""Editor accounts: an address and an argon2 hash of the password (never the password)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select, update

from .schema import editor_sessions, editors


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class EditorsMixin:
    engine: Engine

    def save_editor(self, email: str, password_hash: str, now: datetime) -> bool:
        """Create an editor or set a new password; True when the account is new."""
        email = email.strip().lower()
        with self.engine.begin() as conn:
            changed = conn.execute(update(editors).where(editors.c.email == email)
                                   .values(password_hash=password_hash)).rowcount
            if not changed:
                conn.execute(insert(editors).values(email=email, password_hash=password_hash,
                                                    created_at=now))
        return not changed

    def editor_password_hash(self, email: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(editors.c.password_hash).where(
                editors.c.email == email.strip().lower())).scalar()

    def record_login(self, email: str, now: datetime, password_hash: str | None = None) -> None:
        """Note a successful login (and store a re-hashed password when the hashing
        parameters were raised since it was set)."""
        values: dict[str, object] = {"last_login_at": now}
        if password_hash:
            values["password_hash"] = password_hash
        with self.engine.begin() as conn:
            conn.execute(update(editors).where(editors.c.email == email.strip().lower())
                         .values(**values))

    def list_editors(self) -> list[tuple[str, datetime | None]]:
        with self.engine.connect() as conn:
            return [(r.email, r.last_login_at) for r in conn.execute(
                select(editors.c.email, editors.c.last_login_at).order_by(editors.c.email))]

    # -- sessions ----------------------------------------------------------------------------

    def start_session(self, email: str, now: datetime, lifetime: timedelta) -> str:
        """A new session for a signed-in editor; returns its id (for the cookie only).
        Sessions that expired by now, anyone's, are deleted on the way."""
        session_id = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(delete(editor_sessions).where(editor_sessions.c.expires_at <= now))
            conn.execute(insert(editor_sessions).values(
                id_hash=_id_hash(session_id), editor=email.strip().lower(), created_at=now,
                expires_at=now + lifetime))
        return session_id

    def session_editor(self, session_id: str, now: datetime) -> str | None:
        """The editor a live session belongs to; None once it ended or expired."""
        with self.engine.connect() as conn:
            return conn.execute(select(editor_sessions.c.editor).where(
                editor_sessions.c.id_hash == _id_hash(session_id),
                editor_sessions.c.expires_at > now)).scalar()

    def end_session(self, session_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(editor_sessions).where(
                editor_sessions.c.id_hash == _id_hash(session_id)))
