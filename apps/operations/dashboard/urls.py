"""Mounted under /admin/reports/ (config/urls.py), before the admin's own catch-all."""

from django.contrib import admin
from django.urls import path

from apps.operations.dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("sales/", admin.site.admin_view(views.sales_report), name="sales_report"),
]
