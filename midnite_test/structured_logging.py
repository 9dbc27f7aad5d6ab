"""structlog for every log line: JSON in production, readable in development.

Lines from the standard library's loggers (Django, Celery, gunicorn) go through the same
processors, so they carry the same fields, including the request id bound by
RequestIdMiddleware.
"""

import logging.config

import structlog

_SHARED = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]

# Celery reports every task sent, received and finished at INFO: the relay sweep alone would
# write three lines a second. Their warnings and errors (a failed task) still show.
_QUIET = ("celery.beat", "celery.worker.strategy", "celery.app.trace")


class Refusal(logging.Filter):
    """A refused request's line as a warning without its traceback.

    Django logs a request for a host not in ALLOWED_HOSTS at ERROR with the exception's
    traceback, though the client got its 400 and nothing failed: scanners would fill the logs
    (and page whoever alerts on errors) with stack traces of a check that worked.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        return True


def logging_configure(*, level: str, json: bool) -> None:
    """Configure structlog and the standard library's logging to render alike."""
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    logging.config.dictConfig(logging_dict(level=level, json=json))


def logging_dict(*, level: str, json: bool) -> dict:
    """Return the dictConfig that renders standard library records through structlog.

    gunicorn takes it too (gunicorn.conf.py), so its access and error lines match.
    """
    renderer = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structlog": {
                "()": structlog.stdlib.ProcessorFormatter,
                "foreign_pre_chain": [*_SHARED, structlog.processors.format_exc_info],
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    renderer,
                ],
            }
        },
        "filters": {"refusal": {"()": Refusal}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structlog"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            **{name: {"level": "WARNING"} for name in _QUIET},
            "django.security.DisallowedHost": {"filters": ["refusal"]},
            # gunicorn's own loggers do not propagate; give them the same handler.
            "gunicorn.error": {"handlers": ["console"], "level": level, "propagate": False},
            "gunicorn.access": {"handlers": ["console"], "level": level, "propagate": False},
        },
    }
