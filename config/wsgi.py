"""WSGI entry point (gunicorn `config.wsgi:application`).

After Django has loaded every app, `gc.freeze()` moves the objects that live as long as the
process (modules, the URL map and its views, models, serializers' classes: a few hundred thousand) out of the
garbage collector's view, so its full collections scan only what requests allocate. Without it a
gen-2 collection every few hundred requests walks the whole heap and shows as a latency spike
(bench S3's p99/p50). Nothing is leaked: frozen objects were never going to be freed.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 - imports every view module now, not on the first request
gc.freeze()
