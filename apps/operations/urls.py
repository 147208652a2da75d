from django.urls import path

from apps.operations import views

app_name = "operations"

urlpatterns = [
    path("", views.console, name="console"),
    path("live/", views.console_live, name="live"),
    path("actions/", views.console_action, name="action"),
]
