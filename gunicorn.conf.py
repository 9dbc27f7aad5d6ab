"""gunicorn settings, for the benchmarks that still serve with gunicorn (bench/servers.py).

`make run`, the Dockerfile and compose serve with granian (docs/BENCHMARKS.md says why).

Its log lines are rendered like the application's (structlog), and each access line names the
request id the response carried. (gunicorn reads every top-level name here as a setting.)
"""

import decouple

from midnite_test.structured_logging import logging_dict

logconfig_dict = logging_dict(
    level=decouple.config("LOG_LEVEL", default="INFO"),
    json=decouple.config("LOG_FORMAT", default="json") == "json",
)
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s'
