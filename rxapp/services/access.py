"""Who acts, in which workspace, with which role: the value every key/profile/usage/audit service
function takes instead of a bare user id.

An `Access` is only made by `rxapp.services.workspaces.resolve` (from a live membership row), and
each service function checks the role it needs with `require`. A workspace the user does not
belong to is NOT_FOUND, exactly like a missing row.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from rxapp.models import Role
from rxapp.services.errors import ForbiddenError


class Need(IntEnum):
    """What an action needs, in rising order."""

    READ = 1  # viewer: see keys, profiles, usage, activity
    WRITE = 2  # member: create, edit, delete keys and profiles
    MANAGE = 3  # owner: members, invitations, the workspace itself


_ROLE_LEVEL = {Role.VIEWER.value: Need.READ, Role.MEMBER.value: Need.WRITE, Role.OWNER.value: Need.MANAGE}


@dataclass(frozen=True)
class Access:
    user_id: int
    email: str
    workspace_id: int
    workspace_public_id: str
    workspace_name: str
    role: str
    personal: bool = False
    # The workspace requires two factors and this user has none yet: its pages ask them to set
    # one up first (components/layout.protected_page).
    needs_two_factor: bool = False

    def can(self, need: Need) -> bool:
        return _ROLE_LEVEL.get(self.role, 0) >= need

    @property
    def can_write(self) -> bool:
        return self.can(Need.WRITE)

    @property
    def can_manage(self) -> bool:
        return self.can(Need.MANAGE)


_MESSAGES = {
    Need.READ: "You are not a member of this workspace.",
    Need.WRITE: "Your role in this workspace is read-only.",
    Need.MANAGE: "Only an owner of this workspace can do that.",
}


TWO_FACTOR_REQUIRED = "two_factor_required"


def require(access: Access, need: Need) -> Access:
    """The role check: raises ForbiddenError (code FORBIDDEN) when the role is not enough, and
    (code two_factor_required) while the workspace's two-factor policy bars this member."""
    if not isinstance(access, Access) or not access.can(need):
        raise ForbiddenError(_MESSAGES[need])
    if access.needs_two_factor:
        raise ForbiddenError(
            "This workspace requires two-factor authentication: set it up on your Account page.",
            code=TWO_FACTOR_REQUIRED,
        )
    return access
