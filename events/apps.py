from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events"

    def ready(self) -> None:
        # Imported here: the models need the app registry ready.
        from events.analytics import EVENT_ROW_SOURCE, TOPIC_EVENT_STORED, event_records_load
        from outbox.services import analytics_loader_register

        analytics_loader_register(
            topic=TOPIC_EVENT_STORED, loader=event_records_load, source=EVENT_ROW_SOURCE
        )
