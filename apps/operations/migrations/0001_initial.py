import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="OperatorAction",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key", models.UUIDField(help_text="One per rendered button: a second submit replays the first.", unique=True)),
                ("action", models.CharField(max_length=40)),
                ("target_type", models.CharField(help_text="e.g. orders.order", max_length=40)),
                ("target_id", models.CharField(max_length=64)),
                ("outcome", models.CharField(choices=[("running", "Running"), ("done", "Done"), ("refused", "Refused")],
                                             default="running", max_length=10)),
                ("detail", models.CharField(blank=True, max_length=500)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("actor", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                                            to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "ordering": ["-created_at", "-id"],
                "indexes": [models.Index(fields=["target_type", "target_id", "-created_at"], name="opaction_target")],
            },
        ),
    ]
