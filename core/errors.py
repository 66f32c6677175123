"""Domain and operator errors. Callers turn these into clear messages; nobody swallows them."""

from __future__ import annotations


class GridBotError(Exception):
    """Base of every error gridbot raises on purpose."""


class OperatorError(GridBotError):
    """A mistake an operator can fix (bad file, unreachable service); printed as one line, no traceback."""


class ConfigError(OperatorError):
    """Settings are missing or invalid."""


class ServiceUnavailable(OperatorError):
    """The database or the state store cannot be reached."""


class ImportValidationError(OperatorError):
    """An import found bad rows; ``problems`` lists each as ``file/sheet:line:column: what is wrong``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n".join(problems[:200])
        more = f"\n… and {len(problems) - 200} more" if len(problems) > 200 else ""
        super().__init__(f"{len(problems)} problem(s), nothing was imported:\n{shown}{more}")


class DomainError(GridBotError):
    """A rule of the domain refused an action."""


class NotFound(DomainError):
    """A record does not exist."""


class CaseNotFound(NotFound):
    """No case with that number (or not one the asker may see)."""


class IllegalTransition(DomainError):
    """A case cannot move from its current status to the requested one."""

    def __init__(self, case_no: str, status: str, action: str) -> None:
        self.case_no = case_no
        self.status = status
        self.action = action
        super().__init__(f"case {case_no}: action {action!r} is not allowed while {status}")


class NoGridForAddress(DomainError):
    """Routing could not place an address or point in any grid."""


class PermissionDenied(DomainError):
    """The actor may not see or do this."""
