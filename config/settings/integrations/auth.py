"""Shopper accounts: django-allauth headless, `app` client (API.md "Shoppers: accounts").

Clients sign up and log in at /_allauth/app/v1/auth/{signup,login} and send the returned
`meta.session_token` as `X-Session-Token`; DRF accepts it through
marketplace.api.authentication.SessionTokenAuthentication. Accounts are email-only (the User model
has no username column). Email verification is optional: purchases do not wait for it.
"""

from datetime import timedelta

from config.settings import env as E

ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Expo Marketplace] "
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
# Signup answers a known email exactly as a new one (apps/accounts/signup.py): both wait for the
# email to be verified. Verifying it with the signup's pending session token signs the new
# shopper in (allauth does so only for the session that signed up, never for a bare link).
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
# The client address of allauth's rate limits is the project's one rule (marketplace/clientip.py).
ACCOUNT_ADAPTER = "apps.accounts.adapter.AccountAdapter"
ALLAUTH_TRUSTED_PROXY_COUNT = E.TRUSTED_PROXY_COUNT
# allauth's own limits on its endpoints (its defaults, the login ones from the environment). A
# spent rate answers 429 with Retry-After (apps/accounts/ratelimit.py); a spent login_failed
# rate answers 400 too_many_login_attempts.
ACCOUNT_RATE_LIMITS = {
    "login": E.ACCOUNT_RATE_LIMIT_LOGIN,
    "login_failed": E.ACCOUNT_RATE_LIMIT_LOGIN_FAILED,
}

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

# The admin login lockout (django-axes; apps/accounts/loginguard.py). /ops/ and /booth/ sign in
# through /admin/login/. Failures count per email and client address together, so an attacker
# cannot lock a colleague out from elsewhere; a success clears that pair's count.
AXES_ENABLED = True
AXES_ONLY_ADMIN_SITE = True
AXES_HANDLER = "apps.accounts.loginguard.AdminLoginHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = E.AXES_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=E.AXES_COOLOFF_MINUTES)
# A fixed wait: attempts during the lockout do not restart it (the page and Retry-After say when).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "apps.accounts.loginguard.username"
AXES_CLIENT_IP_CALLABLE = "apps.accounts.loginguard.client_ip"
AXES_LOCKOUT_CALLABLE = "apps.accounts.loginguard.lockout_response"
# axes' own admin (stock Django look, open to anyone with the model permissions) is replaced by
# operator-only unfold pages in apps/accounts/admin.py.
AXES_ENABLE_ADMIN = False
# Masked in the attempt records and logs besides the password (always masked): axes' defaults
# plus the CSRF token.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken"]
