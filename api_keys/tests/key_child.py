"""Another web process's key lookups, for the revocation test (test_key_cache.py).

    python -m api_keys.tests.key_child KEY   # then one line on stdin per lookup

Each line read on stdin looks the key up through this process's cache and prints ACCEPTED
or REFUSED. DATABASE_URL, CACHE_URL and API_KEY_CACHE_SECONDS come from the environment, as in
production.
"""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "midnite_test.settings")
django.setup()

from api_keys.selectors import api_key_authenticate  # noqa: E402 - needs django.setup()

if __name__ == "__main__":
    for _ in sys.stdin:
        key = api_key_authenticate(plaintext=sys.argv[1])
        print("ACCEPTED" if key is not None else "REFUSED", flush=True)
