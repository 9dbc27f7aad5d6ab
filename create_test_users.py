#!/usr/bin/env python
"""Create the demo users 1 to 4 (idempotent) and print their ids.

The same as `python manage.py create_test_users`.
"""

import os

import django
from django.core.management import call_command

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "midnite_test.settings")
    django.setup()
    call_command("create_test_users")
