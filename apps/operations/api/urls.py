from django.urls import path

from apps.operations.api import views

urlpatterns = [
    path("ops/queues", views.OpsQueuesView.as_view(), name="ops-queues"),
]
