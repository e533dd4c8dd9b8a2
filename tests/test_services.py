"""The services the storage layer will use are reachable the way the engine will reach them."""

from __future__ import annotations

import asyncpg
import pytest
import redis.asyncio as aioredis


@pytest.mark.services
async def test_postgres_answers(pg_dsn: str) -> None:
    conn = await asyncpg.connect(pg_dsn)
    try:
        assert await conn.fetchval("SELECT 40 + 2") == 42
    finally:
        await conn.close()


@pytest.mark.services
async def test_redis_answers(redis_url: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        await client.set("hft:test:ping", "1", ex=5)
        assert await client.get("hft:test:ping") == b"1"
    finally:
        await client.aclose()
