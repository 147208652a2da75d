"""Settings of the real Celery worker the fault tests start: the test settings, with emails
written to files (EMAIL_FILE_PATH) so the test can count every email actually sent."""

import os

from config.settings.test import *  # noqa: F403
from config.settings.test import CELERY_BROKER_TRANSPORT_OPTIONS, TEST_BROKER_KEYPREFIX, TEST_BROKER_URL

# The broker of the test that started this worker, derived as there (config/settings/test.py):
# this worker consumes only that run's queues.
CELERY_BROKER_URL = TEST_BROKER_URL
CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, "global_keyprefix": TEST_BROKER_KEYPREFIX}  # type: ignore[dict-item]
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["FAULT_EMAIL_DIR"]
# Small fulfilment batches, so that a worker killed part-way has delivered some orders, not all.
FULFILMENT = {**FULFILMENT, "BATCH_SIZE": 5}  # noqa: F405
