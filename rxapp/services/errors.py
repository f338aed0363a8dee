"""Errors the service layer raises; their messages are written for the person who caused them."""


class ServiceError(Exception):
    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationError(ServiceError):
    """Input that breaks a rule; `field` names the form field to blame."""


class NotFoundError(ServiceError):
    """Missing, or owned by somebody else: the two are deliberately indistinguishable.

    `target_type`/`target_id` name what was asked for, so callers can audit the denial.
    """

    def __init__(self, message: str, field: str = "", target_type: str = "", target_id: str = "") -> None:
        super().__init__(message, field)
        self.target_type = target_type
        self.target_id = target_id


class ConflictError(ServiceError):
    """The change clashes with current data (duplicate name, profile in use, stale version)."""


class ThrottledError(ServiceError):
    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
