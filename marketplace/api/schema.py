"""The OpenAPI schema's error responses: the schema class (settings
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]) and `error_responses`, with which each view declares the
refusals it can answer, so the schema lists every status and code the API sends.

Not imported at start-up (unlike `marketplace.api.openapi`): it pulls in DRF's views.
"""

import re
from collections.abc import Mapping, Sequence
from typing import Any

from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, inline_serializer
from drf_standardized_errors.handler import exception_handler as standardized_errors_handler
from drf_standardized_errors.openapi import AutoSchema as StandardizedAutoSchema
from drf_standardized_errors.openapi_serializers import (
    ClientErrorEnum,
    ErrorCode401Enum,
    ErrorCode403Enum,
    ErrorCode404Enum,
    ErrorCode405Enum,
    ErrorCode406Enum,
    ErrorCode415Enum,
    ErrorCode429Enum,
    ParseErrorCodeEnum,
    ValidationErrorEnum,
)
from drf_standardized_errors.openapi_utils import InputDataField
from drf_standardized_errors.settings import package_settings
from inflection import camelize
from rest_framework import exceptions, serializers

from marketplace.errors import DomainError

ErrorClass = type[DomainError] | type[exceptions.APIException]


class DomainErrors(OpenApiResponse):
    """What `error_responses` puts in `extend_schema(responses=...)` for one status: the codes an
    operation answers with it. `AutoSchema` turns it into the contract's error shape with those
    codes as an enum (and, for 400, merges them with the field errors drf-standardized-errors finds)."""

    def __init__(self, status: int, codes: Sequence[str], fields: Mapping[str, Sequence[str]] | None = None) -> None:
        self.status = status
        self.codes = tuple(dict.fromkeys(codes))
        self.fields = {name: tuple(field_codes) for name, field_codes in (fields or {}).items()}
        listed = [*self.codes, *(f"{code} ({name})" for name, field_codes in self.fields.items() for code in field_codes)]
        super().__init__(response=None, description=", ".join(listed))


def _status_and_code(error: ErrorClass) -> tuple[int, str]:
    if issubclass(error, DomainError):
        return error.status_code, error.code
    return error.status_code, str(error.default_code)


def error_responses(*errors: ErrorClass, fields: Mapping[str, Sequence[ErrorClass | str]] | None = None) -> dict[int, DomainErrors]:
    """The `responses` entries of an operation's refusals, grouped by status:
    `responses={201: OrderOutputSerializer, **error_responses(SoldOut, InvalidIdempotencyKey, fields={"lines": [ValidationFailed]})}`.

    `errors` answer with `attr: null`; `fields` are 400 errors raised with that `attr` (a
    `DomainError(attr=...)` becomes a validation error of the field), or DRF's own codes given as
    strings where drf-standardized-errors files them elsewhere (a list field's `required` is sent
    with `attr: "lines"`, not `lines.non_field_errors`). Errors every operation may
    answer (401, 404 `not_found` of the URL, 405, 429...) need not be listed: drf-standardized-errors
    adds them.
    """
    by_status: dict[int, list[str]] = {}
    for error in errors:
        status, code = _status_and_code(error)
        by_status.setdefault(status, []).append(code)
    field_codes: dict[str, list[str]] = {}
    for name, field_errors in (fields or {}).items():
        for field_error in field_errors:
            if isinstance(field_error, str):
                field_codes.setdefault(name, []).append(field_error)
                continue
            status, code = _status_and_code(field_error)
            if status != 400:
                raise ValueError(f"{field_error.__name__} answers {status}; only 400 errors are field errors")
            field_codes.setdefault(name, []).append(code)
    if field_codes:
        by_status.setdefault(400, [])
    return {status: DomainErrors(status, codes, field_codes if status == 400 else None) for status, codes in by_status.items()}


# The codes drf-standardized-errors already documents for a status (its default error serializers).
_STANDARD_CODES: dict[str, tuple[str, ...]] = {
    "401": tuple(ErrorCode401Enum.values), "403": tuple(ErrorCode403Enum.values), "404": tuple(ErrorCode404Enum.values),
    "405": tuple(ErrorCode405Enum.values), "406": tuple(ErrorCode406Enum.values), "415": tuple(ErrorCode415Enum.values),
    "429": tuple(ErrorCode429Enum.values),
}
_PAGE_SIZE_CODES = {"invalid", "max_string_length", "min_value"}


class AutoSchema(StandardizedAutoSchema):
    """drf-standardized-errors' schema class (it documents the errors DRF itself raises), plus:

    - `error_responses(...)` declarations: each status with its codes as an enum;
    - the `page_size` validation errors of paginated lists (400, `attr: "page_size"`);
    - the `Retry-After` header of 429 answers.
    """

    def _domain_errors(self, status_code: str) -> DomainErrors | None:
        responses = self.get_response_serializers()
        if not isinstance(responses, dict):
            return None
        for key, value in responses.items():
            if isinstance(value, DomainErrors) and str(key[0] if isinstance(key, tuple) else key) == status_code:
                return value
        return None

    def _has_page_size(self) -> bool:
        paginator = self._get_paginator()
        return self.method == "GET" and self._is_list_view() and bool(getattr(paginator, "page_size_query_param", None))

    def _should_add_validation_error_response(self) -> bool:
        declared = self._domain_errors("400")
        return super()._should_add_validation_error_response() or self._has_page_size() or bool(declared and declared.fields)

    def _should_add_error_response(self, responses: dict, status_code: str) -> bool:
        if status_code == "400" and self._has_page_size() and status_code not in responses:
            return self.view.get_exception_handler() is standardized_errors_handler
        return super()._should_add_error_response(responses, status_code)

    def _get_validation_error_codes_by_field(self, data_fields: list[InputDataField]) -> dict[str, set[str]]:
        codes = super()._get_validation_error_codes_by_field(data_fields)
        # What drf-standardized-errors misses about lists of objects: a list serializer's length
        # limits (`lines.non_field_errors`: max_length), and an item that is null (`lines.0`: null).
        for data_field in data_fields:
            if isinstance(data_field.field, serializers.ListSerializer):
                limits = {code: getattr(data_field.field, code, None) for code in ("max_length", "min_length")}
                codes[data_field.name] |= {code for code, limit in limits.items() if limit is not None}
        separator = package_settings.NESTED_FIELD_SEPARATOR
        item_errors = f"{separator}{package_settings.LIST_INDEX_IN_API_SCHEMA}{separator}non_field_errors"
        for name in [name for name in codes if name.endswith(item_errors)]:
            codes[name.removesuffix(f"{separator}non_field_errors")].add("null")
        if self._has_page_size():
            codes["page_size"] = codes.get("page_size", set()) | _PAGE_SIZE_CODES
        declared = self._domain_errors("400")
        for name, field_codes in (declared.fields if declared else {}).items():
            codes[name] = codes.get(name, set()) | set(field_codes)
        return codes

    def _get_http400_serializer(self) -> Any:
        declared = self._domain_errors("400")
        if declared is None or not declared.codes:
            return super()._get_http400_serializer()
        variants: dict[str, Any] = {}
        if self._should_add_validation_error_response():
            variants[ValidationErrorEnum.VALIDATION_ERROR.value] = self._get_serializer_for_validation_error_response()
        parse_codes = ParseErrorCodeEnum.values if self._should_add_parse_error_response() else []
        variants[ClientErrorEnum.CLIENT_ERROR.value] = self._client_error_serializer("400", [*parse_codes, *declared.codes])
        return PolymorphicProxySerializer(
            component_name=f"{camelize(self.get_operation_id())}ErrorResponse400", serializers=variants, resource_type_field_name="type",
        )

    def _client_error_serializer(self, status_code: str, codes: Sequence[str]) -> Any:
        # The item's name ends with ERROR_COMPONENT_NAME_SUFFIX: drf-standardized-errors' enum hook
        # then leaves its per-operation `code` enum inline instead of naming a shared component.
        name = f"{camelize(self.get_operation_id())}Error{status_code}"
        codes = list(dict.fromkeys(codes))
        item = inline_serializer(f"{name}{package_settings.ERROR_COMPONENT_NAME_SUFFIX}", {
            "code": serializers.ChoiceField(choices=[(code, code) for code in codes]),
            "detail": serializers.CharField(),
            "attr": serializers.CharField(allow_null=True, help_text="Always null: these errors concern the whole request."),
        })
        return inline_serializer(f"{name}Response", {
            "type": serializers.ChoiceField(choices=ClientErrorEnum.choices),
            "errors": type(item)(many=True),
        })

    def _get_response_for_code(self, serializer: Any, status_code: Any, media_types: Any = None, direction: Any = "response") -> Any:
        if isinstance(serializer, DomainErrors):
            status_code = str(status_code)
            if status_code == "400":
                body = self._get_http400_serializer()
            elif set(serializer.codes) <= set(_STANDARD_CODES.get(status_code, ())):
                body = self._get_error_response_serializer(status_code)
            else:
                body = self._client_error_serializer(status_code, [*_STANDARD_CODES.get(status_code, ()), *serializer.codes])
            serializer = OpenApiResponse(body, description=serializer.description)
        return super()._get_response_for_code(serializer, status_code, media_types, direction)

    def _get_response_headers_for_code(self, status_code: Any, direction: Any = "response") -> Any:
        headers = super()._get_response_headers_for_code(status_code, direction)
        if str(status_code) == "429":
            headers = {**headers, "Retry-After": {
                "schema": {"type": "integer"}, "description": "Seconds until the rate-limit window ends.",
            }}
        return headers


def postprocess_indexed_attrs(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-standardized-errors names the errors of a list's item (or a dict's value) in the schema
    `lines.INDEX.quantity` (`KEY` for a dict), while the API answers `lines.0.quantity`. Those
    `attr` enums become patterns, and the `oneOf`s that chose by `attr` lose their discriminator
    (a mapping keyed `lines.INDEX.quantity` would never match a real answer)."""
    separator = package_settings.NESTED_FIELD_SEPARATOR
    placeholders = {package_settings.LIST_INDEX_IN_API_SCHEMA: "[0-9]+", package_settings.DICT_KEY_IN_API_SCHEMA: "[^.]+"}

    def has_placeholder(attr: object) -> bool:
        return isinstance(attr, str) and any(part in placeholders for part in attr.split(separator))

    def as_regex(attr: str) -> str:
        return re.escape(separator).join(placeholders.get(part, re.escape(part)) for part in attr.split(separator))

    for component in result.get("components", {}).get("schemas", {}).values():
        attr = component.get("properties", {}).get("attr")
        if attr and any(has_placeholder(value) for value in attr.get("enum", [])):
            values = [value for value in attr["enum"] if value is not None]
            component["properties"]["attr"] = {
                "type": "string", "pattern": "^(" + "|".join(as_regex(value) for value in values) + ")$",
                "description": "; ".join(values) + f" ({'/'.join(placeholders)}: the item's position or key)",
            }
        discriminator = component.get("discriminator", {})
        if discriminator.get("propertyName") == "attr" and any(has_placeholder(key) for key in discriminator.get("mapping", {})):
            del component["discriminator"]
    return result
