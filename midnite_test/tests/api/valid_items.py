"""A valid item for each batch way in, which tests spoil one field at a time."""

EVENT = {
    "event_id": "evt_0",
    "tenant_id": "tenant_1",
    "source": "web",
    "event_type": "click",
    "timestamp": "2024-01-15T10:30:00Z",
}
PRODUCT = {"user_id": "u_1", "event_type": "signed_up", "event_timestamp": "2024-01-15T10:30:00Z"}
