"""Fixtures of the Discord adapter's tests: the loopback Discord and a `DiscordRest` on it
(`tests.harness.discord_rest`, shared with the learning loop's tests)."""

from tests.harness.discord_rest import api, rest, sleeps  # noqa: F401
