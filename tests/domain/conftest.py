"""Builders shared by the service-layer tests: their asserts get pytest's detailed messages."""

import pytest

pytest.register_assert_rewrite("tests.domain.builders")
