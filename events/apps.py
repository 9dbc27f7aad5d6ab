from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events"

    def ready(self) -> None:
        # Imported here: the models need the app registry ready.
        from events.analytics import EVENT_ROW_SOURCE, TOPIC_EVENT_STORED, event_records_load
        from events.metrics import metric_buckets_add
        from outbox.contracts import CONSUMER_METRICS
        from outbox.services import analytics_loader_register, outbox_consumer_register

        analytics_loader_register(
            topic=TOPIC_EVENT_STORED, loader=event_records_load, source=EVENT_ROW_SOURCE
        )
        outbox_consumer_register(consumer=CONSUMER_METRICS, handler=metric_buckets_add)
