"""Editor accounts: an address and an argon2 hash of the password (never the password)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from .schema import editors


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
