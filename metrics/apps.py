from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = "Metrics"

    def ready(self) -> None:
        # Imported here: the consumer needs the models, which need the app registry ready.
        from events.log import EVENT_LOG
        from metrics.consumer import metric_buckets_add
        from outbox.contracts import CONSUMER_METRICS
        from outbox.services import outbox_consumer_register

        outbox_consumer_register(
            consumer=CONSUMER_METRICS, handler=metric_buckets_add, logs=[EVENT_LOG]
        )
