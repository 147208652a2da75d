# The operations console (issue 6) counts and lists failed notifications through this index.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(condition=models.Q(("status", "failed")), fields=["created_at"], name="notification_failed"),
        ),
    ]
