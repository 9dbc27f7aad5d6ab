from outbox.clickhouse import sql

operations = [sql.event_log_add_event_key(), sql.event_log_derive_event_id()]
