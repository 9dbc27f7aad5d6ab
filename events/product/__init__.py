"""Product events (POST /api/v1/events): the app's second way into the event store.

Users are named by external id and made on first sight, their traits merged, and each new
event also goes to the notifications consumer.
"""
