"""Discord's documented limits on what the bot sends, in one place.

Characters are counted as Python `len` counts them (code points), as Discord does. Every builder in
`docsbot.discord` checks or fits its output against these, so a payload Discord would refuse fails here
with a clear message instead of as a 400 from Discord. Our own bounds on what we *accept* live with the
parser (`interaction.py`). Standard library only (nothing at all, in fact).
"""

from __future__ import annotations

from typing import Final

# Messages.
MAX_CONTENT: Final = 2000
MAX_EMBEDS: Final = 10  # per message
MAX_EMBED_TITLE: Final = 256
MAX_EMBED_DESCRIPTION: Final = 4096
MAX_EMBED_FOOTER: Final = 2048
MAX_EMBEDS_TOTAL: Final = 6000  # title + description + fields + footer + author, over all embeds of a message

# Message components and modals.
MAX_CUSTOM_ID: Final = 100
MAX_BUTTON_LABEL: Final = 80
MAX_BUTTONS_PER_ROW: Final = 5
MAX_MODAL_TITLE: Final = 45
MAX_INPUT_LABEL: Final = 45
MAX_INPUT_PLACEHOLDER: Final = 100
MAX_TEXT_INPUT: Final = 4000

# Autocomplete results.
MAX_CHOICES: Final = 25
MAX_CHOICE_CHARS: Final = 100

# Application command definitions.
MAX_COMMANDS: Final = 100  # of each type
MAX_COMMAND_NAME: Final = 32
MAX_COMMAND_DESCRIPTION: Final = 100
MAX_OPTIONS: Final = 25
MAX_STRING_OPTION: Final = 6000
MAX_COMMAND_TOTAL_CHARS: Final = 4000  # name + description + option names/descriptions/choices, per command
