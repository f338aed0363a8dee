"""Errors the service layer raises; their messages are written for the person who caused them."""


class ServiceError(Exception):
    """`code` is for machines (pages and APIs map it); `message` is for the person."""

    default_code = "INVALID"

    def __init__(self, message: str, field: str = "", code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code or self.default_code


class ValidationError(ServiceError):
    """Input that breaks a rule; `field` names the form field to blame."""

    default_code = "INVALID"


class NotFoundError(ServiceError):
    """Missing, or owned by somebody else: the two are deliberately indistinguishable.

    `target_type`/`target_id` name what was asked for, so callers can audit the denial.
    """

    default_code = "NOT_FOUND"

    def __init__(
        self, message: str, field: str = "", target_type: str = "", target_id: str = "", code: str = ""
    ) -> None:
        super().__init__(message, field, code)
        self.target_type = target_type
        self.target_id = target_id


class ConflictError(ServiceError):
    """The change clashes with current data (duplicate name, profile in use, stale version)."""

    default_code = "CONFLICT"


class ThrottledError(ServiceError):
    default_code = "THROTTLED"

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class ForbiddenError(ServiceError):
    """The workspace is the user's, but their role does not allow this action."""

    default_code = "FORBIDDEN"
