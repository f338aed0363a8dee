"""One pepper per installation: the server and the CLI must digest keys with the same secret.

The database remembers a fingerprint of the pepper (an HMAC of a constant, which reveals nothing
about the pepper) the first time the server or the CLI uses it. A process that brings another
pepper is refused before it can create a key the server would answer NOT_FOUND for, or start a
server for which every existing key is unknown.
"""

from __future__ import annotations

import hashlib
import hmac

import sqlalchemy as sa
from sqlmodel import Session

from rxapp.models import AppMeta
from rxapp.services.errors import ServiceError

PEPPER_FINGERPRINT = "pepper_fingerprint"


class PepperMismatchError(ServiceError):
    default_code = "PEPPER_MISMATCH"


def pepper_fingerprint(pepper: bytes) -> str:
    return hmac.new(pepper, b"apikeys pepper fingerprint v1", hashlib.sha256).hexdigest()[:32]


def check_pepper(session: Session, pepper: bytes) -> None:
    """Record this pepper's fingerprint on first use; refuse a different one afterwards."""
    mine = pepper_fingerprint(pepper)
    stored = session.get(AppMeta, PEPPER_FINGERPRINT)
    if stored is None:
        session.add(AppMeta(name=PEPPER_FINGERPRINT, value=mine))
        try:
            session.flush()
        except sa.exc.IntegrityError:  # another process recorded it at the same moment
            session.rollback()
            stored = session.get(AppMeta, PEPPER_FINGERPRINT)
        else:
            return
    if stored is not None and not hmac.compare_digest(stored.value, mine):
        raise PepperMismatchError(
            "This database's keys were made with a different pepper: use the server's "
            "APIKEYS_PEPPER (or its data/pepper file) here too."
        )


# Any fixed 64-bit number: the PostgreSQL advisory lock that serialises sign-up decisions.
SIGN_UP_LOCK_ID = 0x61706B5F7369676E  # "apk_sign"


def hold_sign_up_lock(session: Session) -> None:
    """Serialise account creation until this transaction ends.

    "Is the instance empty / is this invitation still pending" and the insert must be one decision:
    otherwise simultaneous sign-ups on an empty invite-only instance all see it empty. PostgreSQL:
    a transaction-level advisory lock. SQLite: the database write lock, taken before the first read
    (BEGIN IMMEDIATE), so the reads that follow see every account committed before it. Idempotent
    within a transaction.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": SIGN_UP_LOCK_ID})
    elif connection.dialect.name == "sqlite":
        driver = connection.connection.driver_connection
        if driver is not None and not driver.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def recorded_fingerprint(session: Session) -> str | None:
    """The fingerprint this database recorded (None before first use); read-only, unlike
    check_pepper, so the doctor can report a mismatch without recording anything."""
    stored = session.get(AppMeta, PEPPER_FINGERPRINT)
    return stored.value if stored is not None else None
