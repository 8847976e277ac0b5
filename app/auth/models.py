"""Users, API tokens and login attempts."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, true
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow
from app.types import UTCDateTime

ADMIN = "admin"
INSPECTOR = "inspector"
STOREKEEPER = "storekeeper"
HOUSEHOLD = "household"
ROLES = (ADMIN, INSPECTOR, STOREKEEPER, HOUSEHOLD)
# A township's staff: reads its villages' figures, never writes (app/scope.py); not a
# village's role, so a village admin never makes one.
TOWNSHIP = "township"
STAFF = (ADMIN, INSPECTOR, STOREKEEPER)


class User(Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'inspector', 'storekeeper', 'household', 'township')", name="role"
        ),
        CheckConstraint("role <> 'household' OR household_id IS NOT NULL", name="household"),
        # A township user belongs to a township and no village; everyone else to a village.
        CheckConstraint(
            "(role = 'township' AND township_id IS NOT NULL AND village_id IS NULL)"
            " OR (role <> 'township' AND township_id IS NULL AND village_id IS NOT NULL)",
            name="scope",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for a township user (township_id names its township instead).
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"), index=True)
    township_id: Mapped[int | None] = mapped_column(ForeignKey("townships.id"), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    # The household a resident logs in for; for staff, the household they live in
    # (an inspector may not grade their own household).
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Each page session carries the version it was opened under; raising it (logout,
    # a new password, disabling) ends every older session, even a copied cookie.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF


class ApiToken(Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # SHA-256 of the bearer token: a stolen database holds no usable token.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A token a logged-in page asked for (POST /inspect/token) carries the version of that
    # page session and ends with it (logout anywhere, a new password, disabling); None
    # for a token from a login with the password, which lasts until revoked or expired.
    session_version: Mapped[int | None]


class LoginAttempt(Model):
    """A failed login, kept in the database so limits hold across app servers."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_created_at", "username", "created_at"),
        Index("ix_login_attempts_address_created_at", "address", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserGrid(Model):
    """A grid an inspector works; an inspector with none works the whole village."""

    __tablename__ = "user_grids"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"), primary_key=True, index=True)
