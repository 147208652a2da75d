"""`POST /_allauth/app/v1/auth/signup` that does not tell which emails have accounts.

allauth hides an existing email only when email verification is mandatory everywhere; with the
project's optional verification (logins and purchases do not wait for it, API.md) it answered
400 `email_taken` for a known email and 200 with a signed-in session for a new one. Here signup
alone verifies first: both answers are allauth's pending "verify_email" flow (401,
`meta.session_token` of the pending flow, nothing else), and the email decides what follows. A new
address gets the confirmation email, and verifying it (`POST /_allauth/app/v1/auth/email/verify`
with that session token) signs the shopper in; a known address gets allauth's "account already
exists" email to its owner and no account is created. Logins stay as they were.
"""

from typing import Any

from allauth.account import app_settings as account_settings
from allauth.account.internal import flows
from allauth.account.internal.flows.manage_email import assess_unique_email
from allauth.account.models import Login
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.headless.account import views as headless_views
from allauth.headless.account.inputs import SignupInput as AllauthSignupInput
from allauth.headless.base.response import AuthenticationResponse, ConflictResponse, ForbiddenResponse
from allauth.headless.constants import Client
from django.http import HttpRequest, HttpResponse

from apps.accounts.adapter import AccountAdapter

VERIFY = account_settings.EmailVerificationMethod.MANDATORY


class SignupInput(AllauthSignupInput):
    def validate_unique_email(self, value: str) -> str:
        if assess_unique_email(value) is False:
            # Taken: allauth would answer email_taken. Carry on as for a new address instead.
            self.account_already_exists = True
            return value
        return super().validate_unique_email(value)  # type: ignore[no-any-return]


class SignupView(headless_views.SignupView):
    input_class = {"POST": SignupInput}
    input: SignupInput

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            return ConflictResponse(request)
        if not AccountAdapter(request).is_open_for_signup(request):
            return ForbiddenResponse(request)
        if self.input.account_already_exists:
            # allauth's own enumeration answer (signup.prevent_enumeration), with verification
            # required so it matches a new signup's: the owner is emailed, nobody is signed in.
            email = self.input.cleaned_data.get("email")
            resp = flows.login.perform_login(request, Login(user=None, email=email, signup=True, email_verification=VERIFY))
        else:
            user = self.input.save(request)
            try:
                resp = flows.signup.complete_signup(request, user=user, email_verification=VERIFY)
            except ImmediateHttpResponse as exc:
                resp = exc.response
        return AuthenticationResponse.from_response(request, resp)


signup_view = SignupView.as_api_view(client=Client.APP)
