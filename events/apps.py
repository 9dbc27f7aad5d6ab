from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events"

    def ready(self) -> None:
        # Imported here: the models need the app registry ready.
        from events.analytics import (
            EVENT_LOG_ROWS_SQL,
            EVENT_ROW_SOURCE,
            TOPIC_EVENT_STORED,
            event_log_records_load,
            event_records_load,
        )
        from events.log import EVENT_LOG
        from outbox.services import analytics_loader_register, analytics_log_rows_register

        analytics_log_rows_register(
            log=EVENT_LOG, sql=EVENT_LOG_ROWS_SQL, loader=event_log_records_load
        )
        # The event_stored messages written before the event table was the log.
        analytics_loader_register(
            topic=TOPIC_EVENT_STORED, loader=event_records_load, source=EVENT_ROW_SOURCE
        )
