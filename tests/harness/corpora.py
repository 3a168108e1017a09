"""Where the development corpora live (outside the repo, beside it)."""

from __future__ import annotations

from pathlib import Path

import pytest

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
REDUX = CORPORA / "redux-docs"


def require_redux() -> Path:
    """The Redux corpus folder, or skip the test with the reason."""
    if not (REDUX / "urls.tsv").is_file():
        pytest.skip(f"the Redux development corpus is not at {REDUX}")
    return REDUX
