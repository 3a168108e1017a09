"""The collections catalog the interactions function reads: the same answer as the full collections model, from
the same file, with the standard library only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from docsbot.settings.catalog import Catalog, CollectionRecord, load_catalog, parse_catalog
from docsbot.settings.config import ConfigError, load_collections

REPO = Path(__file__).resolve().parents[2]

RICH = """
[[collection]]
name = "redux"
title = "Redux"
description = "A predictable state container for JavaScript apps."
discord_channels = ["111", "222"]
auto_answer = "new_threads"
auto_answer_channels = { "222" = "mentions" }

[[collection.source]]
kind = "markdown_folder"
name = "docs"
path = "docs"
docs_base_url = "https://redux.js.org/"

[[collection]]
name = "old-docs"
title = "Old docs"
enabled = false

[[collection]]
name = "ionic"
title = "Ionic"
discord_channels = ["333"]
"""


@pytest.mark.parametrize("text", [RICH, (REPO / "collections.example.toml").read_text(encoding="utf-8")])
def test_the_catalog_agrees_with_the_full_collections_model(tmp_path: Path, text: str) -> None:
    (tmp_path / "docs").mkdir()
    path = tmp_path / "collections.toml"
    path.write_text(text, encoding="utf-8")
    assert load_catalog(path) == load_collections(path).catalog()


def test_what_the_catalog_answers() -> None:
    import tomllib

    catalog = parse_catalog(tomllib.loads(RICH))
    assert [c.name for c in catalog.enabled()] == ["redux", "ionic"]
    assert catalog.channel_collection("222") == "redux" and catalog.channel_collection("999") is None
    assert catalog.collections[1] == CollectionRecord("old-docs", "Old docs", "", enabled=False)
    assert load_catalog(None) == Catalog()


def test_every_problem_is_listed_at_once() -> None:
    data = {
        "collection": [
            {"name": "Bad Name", "title": "x"},
            {"name": "ok", "title": "", "discord_channels": ["12a"]},
            {"name": "ok", "title": "Again", "discord_channels": []},
            {"name": "two", "title": "Two", "enabled": "yes"},
        ]
    }
    with pytest.raises(ConfigError) as raised:
        parse_catalog(data, "collections.toml")
    message = str(raised.value)
    for expected in ("collection.0.name", "collection.1.title", "collection.1.discord_channels", "unique", "enabled"):
        assert expected in message, message


def test_a_channel_maps_to_one_collection_only() -> None:
    data = {"collection": [{"name": "a", "title": "A", "discord_channels": ["1"]}, {"name": "b", "title": "B",
            "discord_channels": ["1"]}]}  # fmt: skip
    with pytest.raises(ConfigError, match="channel 1 already maps to a"):
        parse_catalog(data)


def test_a_missing_or_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_catalog(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[[collection]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_catalog(broken)


def test_reading_the_catalog_loads_no_pydantic() -> None:
    code = "import sys, docsbot.settings.catalog; assert 'pydantic' not in sys.modules, 'pydantic was imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_default_collection_is_an_implicit_entry_unless_the_file_declares_it() -> None:
    empty = Catalog()
    assert [c.name for c in empty.with_default("redux").enabled()] == ["redux"]
    assert empty.with_default(None) == empty
    declared = parse_catalog({"collection": [{"name": "redux", "title": "Redux", "enabled": False}]})
    assert declared.with_default("redux") == declared  # the file's word stands, even "disabled"
    other = parse_catalog({"collection": [{"name": "ionic", "title": "Ionic"}]})
    assert [c.name for c in other.with_default("redux").enabled()] == ["ionic", "redux"]


def test_auto_answer_is_per_channel_and_off_unless_said() -> None:
    import tomllib

    catalog = parse_catalog(tomllib.loads(RICH))
    assert catalog.auto_answer("111") == "new_threads"  # the collection's mode
    assert catalog.auto_answer("222") == "mentions"  # the channel's override
    assert catalog.auto_answer("333") == "off"  # a mapped channel of a collection that says nothing
    assert catalog.auto_answer("999") == "off"  # an unmapped channel


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"auto_answer": "always"}, "auto_answer"),
        ({"auto_answer_channels": {"1": "sometimes"}}, "auto_answer_channels"),
        ({"auto_answer_channels": {"999": "mentions"}}, "auto_answer_channels"),
    ],
)
def test_both_readers_refuse_a_bad_auto_answer(tmp_path: Path, item: dict[str, object], expected: str) -> None:
    data = {"collection": [{"name": "a", "title": "A", "discord_channels": ["1"], **item}]}
    with pytest.raises(ConfigError, match=expected):
        parse_catalog(data)
    from docsbot.settings.config import parse_collections

    with pytest.raises(ConfigError, match=expected):
        parse_collections(data)
