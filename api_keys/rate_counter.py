"""Fixed-window request counters in Django's default cache: one round trip to Redis each."""

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache


def window_counter_incr(*, key: str, expires_in: int) -> int:
    """Add one to the counter `key`, which expires `expires_in` seconds from now; return it.

    The key names its window, so its expiry only has to outlast the window: setting it again
    on each request is harmless. On Redis, INCR and EXPIRE go in one MULTI pipeline: one round
    trip, atomic, so concurrent requests of every process each get a count of their own.
    Django's cache API would take two or three (its `incr` first checks that the key exists).
    Other caches (each process's memory under `make run`) add the key, then increment it.
    """
    cache = caches["default"]
    if not isinstance(cache, RedisCache):
        cache.add(key, 0, timeout=expires_in)
        return cache.incr(key)
    stored_key = cache.make_and_validate_key(key)
    client = cache._cache.get_client(stored_key, write=True)
    with client.pipeline(transaction=True) as pipeline:
        pipeline.incr(stored_key)
        pipeline.expire(stored_key, expires_in)
        count, _ = pipeline.execute()
    return count
