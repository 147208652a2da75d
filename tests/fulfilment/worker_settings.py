"""Settings of the real Celery worker the fault tests start: the test settings, with emails
written to files (EMAIL_FILE_PATH) so the test can count every email actually sent."""

import os

from config.settings.test import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["FAULT_EMAIL_DIR"]
