"""The real clock (the domain's ``Clock`` port is any function returning an aware UTC
datetime; tests move this one with time-machine)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
