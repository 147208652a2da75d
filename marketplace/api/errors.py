"""Maps domain errors to the contract's error shape through drf-standardized-errors.

Every DRF view's exceptions pass through this handler (settings DRF_STANDARDIZED_ERRORS), so a
`DomainError` raised by a service answers `{"type", "errors": [{"code", "detail", "attr"}]}`
with the error's own status and stable code.
"""

from drf_standardized_errors.handler import ExceptionHandler as BaseExceptionHandler
from rest_framework import exceptions

from marketplace.errors import DomainError


class DomainAPIException(exceptions.APIException):
    """A DomainError carried into DRF's exception machinery with its status and code."""

    def __init__(self, error: DomainError) -> None:
        self.status_code = error.status_code
        super().__init__(detail=str(error.detail), code=error.code)


def to_api_exception(error: DomainError) -> exceptions.APIException:
    if error.attr and error.status_code == 400:
        # A field-scoped input error: formatted as a validation error whose `attr` is the field.
        return exceptions.ValidationError({error.attr: [exceptions.ErrorDetail(str(error.detail), code=error.code)]})
    return DomainAPIException(error)


class ExceptionHandler(BaseExceptionHandler):
    def convert_known_exceptions(self, exc: Exception) -> Exception:
        if isinstance(exc, DomainError):
            return to_api_exception(exc)
        return super().convert_known_exceptions(exc)
