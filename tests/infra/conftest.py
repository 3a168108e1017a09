"""Fixtures the infra test modules share: the configuration as the prod environment deploys it."""

from __future__ import annotations

import pytest

from tests.infra import tools


@pytest.fixture(scope="session")
def tf() -> tools.Configuration:
    """The docsbot module with the inputs environments/prod passes, evaluated with its terraform.tfvars.example."""
    return tools.load_configuration()
