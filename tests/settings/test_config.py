from __future__ import annotations

from pathlib import Path

import pytest

from docsbot.settings.config import ConfigError, MarkdownFolderSource, SiteSource, load_collections, load_settings

GOOD = """
[[collection]]
name = "redux"
title = "Redux"
description = "A predictable state container."
discord_channels = ["123", "456"]

[[collection.source]]
kind = "markdown_folder"
path = "docs"
url_map = "docs/urls.tsv"

[[collection.source]]
kind = "docusaurus"
name = "site"
url = "https://redux.js.org/"

[[collection]]
name = "hasura"
title = "Hasura"
discord_channels = ["789"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "collections.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_collections_file_is_parsed_and_paths_resolved(tmp_path: Path) -> None:
    parsed = load_collections(write(tmp_path, GOOD))
    redux = parsed.get("redux")
    assert redux.title == "Redux"
    folder, site = redux.sources
    assert isinstance(folder, MarkdownFolderSource)
    assert folder.path == tmp_path / "docs"
    assert folder.url_map == tmp_path / "docs" / "urls.tsv"
    assert isinstance(site, SiteSource)
    assert parsed.channel_map() == {"123": "redux", "456": "redux", "789": "hasura"}


def test_unknown_collection_names_the_known_ones(tmp_path: Path) -> None:
    parsed = load_collections(write(tmp_path, GOOD))
    with pytest.raises(ConfigError, match=r"unknown collection 'nope'.*redux, hasura"):
        parsed.get("nope")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[collection]]\nname = "Bad Name"\ntitle = "x"\n', r"collection\.0\.name"),
        ('[[collection]]\nname = "a"\n', r"collection\.0\.title"),
        ('[[collection]]\nname = "a"\ntitle = "A"\ncolour = "red"\n', r"colour"),
        ('[[collection]]\nname = "a"\ntitle = "A"\ndiscord_channels = ["#general"]\n', r"snowflake"),
        ('[[collection]]\nname = "a"\ntitle = "A"\n[[collection]]\nname = "a"\ntitle = "B"\n', r"unique.*a"),
        (
            '[[collection]]\nname = "a"\ntitle = "A"\n[[collection.source]]\nkind = "markdown_folder"\npath = "d"\n',
            r"url_map or docs_base_url",
        ),
        ('[[collection]]\nname = "a"\ntitle = "A"\n[[collection.source]]\nkind = "ftp"\n', r"source"),
        ("[[collection]\n", r"not valid TOML"),
    ],
)
def test_bad_collections_files_fail_with_a_message_naming_the_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_collections(write(tmp_path, text))


def test_missing_collections_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_collections(tmp_path / "nope.toml")


def test_settings_defaults_to_embedded_and_local(tmp_path: Path) -> None:
    settings = load_settings({"DOCSBOT_DATA_DIR": str(tmp_path)})
    assert settings.qdrant_url is None
    assert settings.index_path == tmp_path / "index"
    assert settings.embedder == "local"
    assert settings.embedding_model == "text-embedding-3-large"


def test_settings_pick_openai_when_a_key_is_set(tmp_path: Path) -> None:
    settings = load_settings({"DOCSBOT_DATA_DIR": str(tmp_path), "OPENAI_API_KEY": "sk-test"})
    assert settings.embedder == "openai"


def test_settings_list_every_problem_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                "DOCSBOT_DATA_DIR": str(tmp_path),
                "QDRANT_URL": "qdrant.example.com",
                "DOCSBOT_EMBEDDER": "openai",
                "DOCSBOT_EMBEDDING_DIMENSIONS": "lots",
                "DOCSBOT_COLLECTIONS_FILE": str(tmp_path / "missing.toml"),
            }
        )
    message = str(caught.value)
    for variable in (
        "QDRANT_URL",
        "OPENAI_API_KEY",
        "DOCSBOT_EMBEDDING_DIMENSIONS",
        "DOCSBOT_COLLECTIONS_FILE",
    ):
        assert variable in message


def test_settings_never_echo_secrets(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"DOCSBOT_DATA_DIR": str(tmp_path), "OPENAI_API_KEY": "sk-secret-123", "DOCSBOT_EMBEDDER": "x"})
    assert "sk-secret-123" not in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, "auto"),
        ("", "auto"),
        (" AUTO ", "auto"),
        ("true", True),
        ("1", True),
        ("Yes", True),
        ("false", False),
        ("0", False),
        ("no", False),
    ],
)
def test_condense_questions_is_auto_by_default_and_accepts_true_and_false(
    tmp_path: Path, raw: str | None, expected: object
) -> None:
    env = {"DOCSBOT_DATA_DIR": str(tmp_path), "OPENAI_API_KEY": "sk-test"}
    if raw is not None:
        env["DOCSBOT_CONDENSE_QUESTIONS"] = raw
    assert load_settings(env).chat.condense_questions == expected


def test_a_bad_condense_value_is_listed_with_the_other_problems(tmp_path: Path) -> None:
    env = {"DOCSBOT_DATA_DIR": str(tmp_path), "OPENAI_API_KEY": "sk-test", "DOCSBOT_CONDENSE_QUESTIONS": "sometimes"}
    with pytest.raises(ConfigError) as caught:
        load_settings({**env, "DOCSBOT_EMBEDDING_DIMENSIONS": "lots"})
    message = str(caught.value)
    assert "DOCSBOT_CONDENSE_QUESTIONS: auto, true or false, got 'sometimes'" in message
    assert "DOCSBOT_EMBEDDING_DIMENSIONS" in message
