"""Campaign titles become translated content (apps/vouchers/translation.py): `title_en` and
`title_zh_hans` beside `title`. Existing titles are copied to `title_en` (the required language)."""

from django.db import migrations, models
from django.db.models import F


def copy_title_to_english(apps, schema_editor):
    apps.get_model("vouchers", "Campaign").objects.filter(title_en__isnull=True).update(title_en=F("title"))


class Migration(migrations.Migration):

    dependencies = [
        ("vouchers", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="campaign",
            name="title_en",
            field=models.CharField(max_length=200, null=True, verbose_name="title"),
        ),
        migrations.AddField(
            model_name="campaign",
            name="title_zh_hans",
            field=models.CharField(max_length=200, null=True, verbose_name="title"),
        ),
        migrations.RunPython(copy_title_to_english, migrations.RunPython.noop),
    ]
