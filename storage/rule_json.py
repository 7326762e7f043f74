"""Decision rules and outcomes as the JSON kept in their columns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.rules import Outcome, Rule


def rule_to_json(rule: Rule) -> dict[str, Any]:
    return dict(rule.to_dict())


def rule_from_json(data: Mapping[str, Any]) -> Rule:
    return Rule.from_dict(data)


def outcome_to_json(outcome: Outcome | None) -> dict[str, Any] | None:
    return None if outcome is None else dict(outcome.to_dict())


def outcome_from_json(data: Mapping[str, Any] | None) -> Outcome | None:
    return None if data is None else Outcome.from_dict(data)
