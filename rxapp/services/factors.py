"""Which second factors a user has (an authenticator app, passkeys): read by sign-in (a password
alone is not enough once there is one), the workspace two-factor policy and the admin page.
Only reads models, so every service may use it without an import cycle."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from rxapp.models import Passkey, UserTotp


def has_second_factor(session: Session, user_id: int) -> bool:
    """An authenticator app turned on, or at least one passkey."""
    totp = session.exec(
        select(UserTotp.user_id).where(UserTotp.user_id == user_id, col(UserTotp.enabled_at).is_not(None))
    ).first()
    if totp is not None:
        return True
    return session.exec(select(Passkey.id).where(Passkey.user_id == user_id).limit(1)).first() is not None


def describe(session: Session, user_ids: list[int]) -> dict[int, str]:
    """Per user: "none", "code", "1 passkey", "2 passkeys", "code + 1 passkey", ... (two queries)."""
    if not user_ids:
        return {}
    with_code = set(
        session.exec(
            select(UserTotp.user_id).where(
                col(UserTotp.user_id).in_(user_ids), col(UserTotp.enabled_at).is_not(None)
            )
        ).all()
    )
    counts = dict(
        session.exec(
            select(Passkey.user_id, sa.func.count(col(Passkey.id)))
            .where(col(Passkey.user_id).in_(user_ids))
            .group_by(col(Passkey.user_id))
        ).all()
    )
    answer = {}
    for user_id in user_ids:
        parts = ["code"] if user_id in with_code else []
        n = int(counts.get(user_id, 0))
        if n:
            parts.append(f"{n} passkey" + ("s" if n > 1 else ""))
        answer[user_id] = " + ".join(parts) or "none"
    return answer
