"""Pages of the simulated payment provider (offline mode), outside the API and the admin."""

from django.urls import path

from apps.payments import views

app_name = "payments"

# Must match apps.payments.providers.simulated.onboarding_path.
urlpatterns = [
    path("connect/<str:reference>/onboarding/", views.simulated_onboarding, name="simulated_onboarding"),
]
