"""Values the operator commands read from their options, with messages that name the option."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import click


def parse_when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 date or time", param_hint=name
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_duration(value: str, name: str) -> timedelta:
    m = re.fullmatch(r"(\d+)\s*([smhd])", value.strip())
    if not m:
        raise click.BadParameter(f"{value!r}: write e.g. 30m, 24h or 7d", param_hint=name)
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[m[2]]
    return timedelta(**{unit: int(m[1])})
