"""WSGI entry point, served by granian.

Runs the system checks once per process before serving, so a bad alert rules file stops the
server at start-up with a message naming the rule and the field, not on the first request.

Then moves every object that exists by then (Django, the apps, the parsed rules: about
100,000) to the garbage collector's permanent generation (`gc.freeze`). They live as long as
the process, and without this each full collection walks them all: 60-70 ms during which
the worker serves nothing; frozen, 8 ms (docs/BENCHMARKS.md).

`POST /event`'s plain case is answered in front of Django (alerts.fast_path); every other
request, and any that case refuses, goes to Django's handler.
"""

import gc
import os

from django.core.management.base import BaseCommand
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "midnite_test.settings")

django_application = get_wsgi_application()
from alerts.fast_path import transaction_fast_path  # noqa: E402 - needs the apps loaded

application = transaction_fast_path(django_application)
# The checks `manage.py check` runs: errors raise SystemCheckError, warnings go to stderr.
BaseCommand().check(display_num_errors=False)
gc.freeze()
