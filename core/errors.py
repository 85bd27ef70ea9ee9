"""RFC 9457 problem+json errors with a stable ``code`` for every error the app raises.

Services raise ``AppError`` (or a subclass); the handlers here turn it, litestar's own HTTP
and validation errors, and anything unexpected into one body shape:
``{"type", "title", "status", "code", "detail", "errors"?}``.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import DBAPIError

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("storeplug.errors")


class FieldError(msgspec.Struct, frozen=True):
    field: str
    message: str


class Problem(msgspec.Struct, omit_defaults=True):
    type: str
    title: str
    status: int
    code: str
    detail: str = ""
    errors: list[FieldError] = []


class AppError(Exception):
    """An error meant for the client: HTTP status, stable code, human detail."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        status: int | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.errors = errors or []


class NotFound(AppError):
    status = 404
    code = "not_found"


class Unauthorized(AppError):
    status = 401
    code = "auth.required"


class Forbidden(AppError):
    status = 403
    code = "auth.forbidden"


class Conflict(AppError):
    status = 409
    code = "conflict"


class Invalid(AppError):
    status = 422
    code = "validation.failed"


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_HTTP_CODES = {
    400: "request.invalid",
    401: "auth.required",
    403: "auth.forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request.too_large",
    415: "request.unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}


def problem_response(
    status: int,
    code: str,
    detail: str = "",
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    body = Problem(
        type=f"https://storeplug.dev/problems/{code}",
        title=_TITLES.get(status, "Error"),
        status=status,
        code=code,
        detail=detail,
        errors=errors or [],
    )
    return Response(
        content=msgspec.json.encode(body),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


_NAMED_IN_MESSAGE = ("Object missing required field `", "Object contains unknown field `")


def _qualify(field: str, message: str) -> str:
    """msgspec names a missing or unknown field in the message, not in the path; litestar
    reports the body itself as ``data``. Point at the field."""
    for lead in _NAMED_IN_MESSAGE:
        if message.startswith(lead):
            name = message.removeprefix(lead).rstrip("`")
            return name if field in ("$", "data") else f"{field}.{name}"
    return field


def field_errors_from_msgspec(exc: msgspec.ValidationError, prefix: str = "") -> list[FieldError]:
    """msgspec says ``Expected `int`, got `str` - at `$.settings.limit``; keep the path apart."""
    message = str(exc)
    field = prefix or "$"
    if " - at `" in message:
        message, _, path = message.partition(" - at `")
        path = path.rstrip("`")
        field = path.replace("$.", "", 1) if path.startswith("$.") else path
        if prefix:
            field = f"{prefix}.{field}"
    return [FieldError(field=_qualify(field, message), message=message)]


def _app_error_handler(request: Request[Any, Any, Any], exc: AppError) -> Response[bytes]:
    return problem_response(exc.status, exc.code, exc.detail, exc.errors, exc.headers or None)


def _validation_handler(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[bytes]:
    errors: list[FieldError] = []
    for item in exc.extra or []:
        if isinstance(item, dict):
            key = str(item.get("key") or item.get("source") or "$")
            message = str(item.get("message", ""))
            if message == repr(key):
                # Not a client error: litestar 2.25's OpenAPI generation adds the path
                # parameters a handler does not take (``tenant_slug``) to its signature fields
                # in place, and its error collector then reports them as a KeyError.
                continue
            errors.append(FieldError(field=_qualify(key, message), message=message))
    detail = exc.detail if isinstance(exc.detail, str) else "validation failed"
    return problem_response(400, "request.invalid", detail, errors)


def _http_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    headers = dict(exc.headers or {})
    return problem_response(
        status, _HTTP_CODES.get(status, f"http.{status}"), exc.detail, None, headers or None
    )


# Values the database refuses that validation should have caught: answer 400, not 500.
_BAD_VALUE_SQLSTATES = {
    "22001": "a text value is too long",
    "22003": "a number is out of range",
    "22021": "text contains a character the database cannot store",
    "22P02": "a value has the wrong format",
    "22P05": "text contains a character the database cannot store",
}


def _database_handler(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[bytes]:
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if sqlstate in _BAD_VALUE_SQLSTATES:
        return problem_response(400, "request.invalid", _BAD_VALUE_SQLSTATES[sqlstate])
    return _internal_handler(request, exc)


def _internal_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(HTTP_500_INTERNAL_SERVER_ERROR, "internal", "internal error")


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    AppError: _app_error_handler,
    ValidationException: _validation_handler,
    HTTPException: _http_handler,
    DBAPIError: _database_handler,
    Exception: _internal_handler,
}
