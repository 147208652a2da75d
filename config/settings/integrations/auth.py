"""Shopper accounts: django-allauth headless, `app` client (API.md "Shoppers: accounts").

Clients sign up and log in at /_allauth/app/v1/auth/{signup,login} and send the returned
`meta.session_token` as `X-Session-Token`; DRF accepts it through
marketplace.api.authentication.SessionTokenAuthentication. Accounts are email-only (the User model
has no username column). Email verification is optional: purchases do not wait for it.
"""

from config.settings import env as E

ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Expo Marketplace] "
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False

HEADLESS_ONLY = True
HEADLESS_CLIENTS = ("app",)
# With HEADLESS_ONLY, links in emails point at the front end (DEPENDENCIES.md §2.5); without these
# signup fails with NoReverseMatch account_confirm_email.
HEADLESS_FRONTEND_URLS = {
    "account_confirm_email": f"{E.FRONTEND_URL}/account/verify-email/{{key}}",
    "account_reset_password": f"{E.FRONTEND_URL}/account/password/reset",
    "account_reset_password_from_key": f"{E.FRONTEND_URL}/account/password/reset/key/{{key}}",
    "account_signup": f"{E.FRONTEND_URL}/account/signup",
    "socialaccount_login_error": f"{E.FRONTEND_URL}/account/provider/callback",
}

# Sessions (the shoppers' X-Session-Token and the admin's cookie) are written through to Postgres
# and read from Redis: an authenticated API call costs one cache read instead of two session
# queries (allauth checks the token exists, then loads it). Postgres stays the source of truth;
# a cache miss or a flushed Redis falls back to the session table.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
