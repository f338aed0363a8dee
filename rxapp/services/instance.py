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


def recorded_fingerprint(session: Session) -> str | None:
    """The fingerprint this database recorded (None before first use); read-only, unlike
    check_pepper, so the doctor can report a mismatch without recording anything."""
    stored = session.get(AppMeta, PEPPER_FINGERPRINT)
    return stored.value if stored is not None else None
