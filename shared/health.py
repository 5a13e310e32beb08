"""Reachability checks the services report on ``/healthz``."""

from __future__ import annotations

from sqlalchemy import Engine, text

from shared.redisurl import client as redis_client


def check_database(engine: Engine) -> str:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


def check_redis(redis_url: str) -> str:
    try:
        redis_client(redis_url, timeout=1).ping()
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


def report(engine: Engine, redis_url: str) -> tuple[dict[str, str], int]:
    checks = {"database": check_database(engine), "redis": check_redis(redis_url)}
    ok = all(v == "ok" for v in checks.values())
    return {"status": "ok" if ok else "degraded", **checks}, 200 if ok else 503
