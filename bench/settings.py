"""Settings for the benchmark: the service's own, plus the ceiling view's URL."""

from midnite_test.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench.urls"
