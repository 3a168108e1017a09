"""History files for `docsbot ask --history`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docsbot.answer.history import HistoryFileError, load_history
from docsbot.answer.model import Turn


def test_history_files(tmp_path: Path) -> None:
    good = tmp_path / "h.json"
    good.write_text(json.dumps([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]))
    assert load_history(good) == [Turn("user", "hi"), Turn("assistant", "hello")]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"role": "system", "content": "x"}]))
    with pytest.raises(HistoryFileError, match="item 0: role must be"):
        load_history(bad)
    with pytest.raises(HistoryFileError, match="no such file"):
        load_history(tmp_path / "missing.json")
