"""Django REST framework, OpenAPI (drf-spectacular) and the error shape (drf-standardized-errors)."""

from config.settings import env as E

REST_FRAMEWORK = {
    "DEFAULT_VERSIONING_CLASS": "rest_framework.versioning.URLPathVersioning",
    "DEFAULT_VERSION": "v1",
    "ALLOWED_VERSIONS": ["v1"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First: its authenticate_header makes a request without credentials answer 401.
        "marketplace.api.authentication.SessionTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Closed by default (DEPENDENCIES.md §2.4); public views open themselves explicitly.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["marketplace.api.filters.FilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "marketplace.api.pagination.CursorPagination",
    "PAGE_SIZE": 20,
    # drf-standardized-errors' schema class plus each view's declared error codes and page_size errors.
    "DEFAULT_SCHEMA_CLASS": "marketplace.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    # DRF's rates and scopes, counted in Redis fixed windows (one round trip per request).
    "DEFAULT_THROTTLE_CLASSES": [
        "marketplace.api.throttling.AnonRateThrottle",
        "marketplace.api.throttling.UserRateThrottle",
    ],
    # From the environment (THROTTLE_ANON, THROTTLE_USER): DRF copies them into the throttle
    # classes at import, so they are fixed per process (README, traps).
    "DEFAULT_THROTTLE_RATES": {"anon": E.THROTTLE_ANON, "user": E.THROTTLE_USER},
    # Anonymous callers are counted per client address: marketplace.clientip's rule
    # (TRUSTED_PROXY_COUNT; 0 ignores X-Forwarded-For, which DRF would otherwise trust whole).
    "NUM_PROXIES": E.TRUSTED_PROXY_COUNT,
    # OPTIONS without DRF's serializer_class assertion (marketplace/api/metadata.py).
    "DEFAULT_METADATA_CLASS": "marketplace.api.metadata.MetadataClass",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

DRF_STANDARDIZED_ERRORS = {
    # Domain errors (marketplace.errors.DomainError) become API errors with their stable code.
    "EXCEPTION_HANDLER_CLASS": "marketplace.api.errors.ExceptionHandler",
    "ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": True,
    # Error responses the schema adds to every operation where they can happen. The others (409,
    # 410, 422, and domain codes of 400/404) are declared per view with
    # marketplace.api.schema.error_responses.
    "ALLOWED_ERROR_STATUS_CODES": ["400", "401", "403", "404", "405", "406", "415", "429", "500"],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Expo Marketplace API",
    "DESCRIPTION": "Digital goods sold at a consumer expo: catalog, orders, payments, library.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # DEPENDENCIES.md §2.2: without these overrides and hook, --fail-on-warn fails.
    "ENUM_NAME_OVERRIDES": {
        "ValidationErrorEnum": "drf_standardized_errors.openapi_serializers.ValidationErrorEnum.choices",
        "ClientErrorEnum": "drf_standardized_errors.openapi_serializers.ClientErrorEnum.choices",
        "ServerErrorEnum": "drf_standardized_errors.openapi_serializers.ServerErrorEnum.choices",
        "ErrorCode401Enum": "drf_standardized_errors.openapi_serializers.ErrorCode401Enum.choices",
        "ErrorCode403Enum": "drf_standardized_errors.openapi_serializers.ErrorCode403Enum.choices",
        "ErrorCode404Enum": "drf_standardized_errors.openapi_serializers.ErrorCode404Enum.choices",
        "ErrorCode405Enum": "drf_standardized_errors.openapi_serializers.ErrorCode405Enum.choices",
        "ErrorCode406Enum": "drf_standardized_errors.openapi_serializers.ErrorCode406Enum.choices",
        "ErrorCode415Enum": "drf_standardized_errors.openapi_serializers.ErrorCode415Enum.choices",
        "ErrorCode429Enum": "drf_standardized_errors.openapi_serializers.ErrorCode429Enum.choices",
        "ErrorCode500Enum": "drf_standardized_errors.openapi_serializers.ErrorCode500Enum.choices",
        "ParseErrorCodeEnum": "drf_standardized_errors.openapi_serializers.ParseErrorCodeEnum.choices",
        "ProductKindEnum": "apps.catalog.models.ProductKind.choices",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
        # `lines.0.quantity`, not `lines.INDEX.quantity`: the attrs the API really sends.
        "marketplace.api.schema.postprocess_indexed_attrs",
    ],
}
