# Indexes for the operations console (issue 6): queue counts and ages per open state, the
# attention flag, and the last hour of order events.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("orders", "0001_initial"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["status", "status_changed_at"], name="order_status_changed"),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(condition=models.Q(("needs_attention", True)), fields=["status_changed_at"],
                               name="order_needs_attention"),
        ),
        migrations.AddIndex(
            model_name="orderevent",
            index=models.Index(fields=["created_at"], name="orderevent_created"),
        ),
    ]
