from outbox.clickhouse import sql

operations = [sql.event_log_create()]
