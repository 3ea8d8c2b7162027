"""Each pytest-xdist worker is a separate install: the Redis database it is given."""

from __future__ import annotations

from tests.worker_installs import worker_redis_url


def test_each_worker_counts_up_from_the_given_redis_database():
    assert worker_redis_url("redis://127.0.0.1:6379/12", 0) == "redis://127.0.0.1:6379/12"
    assert worker_redis_url("redis://127.0.0.1:6379/12", 1) == "redis://127.0.0.1:6379/13"
    assert (
        worker_redis_url("redis://:secret@redis.internal:6380", 2) == "redis://:secret@redis.internal:6380/2"
    )
