"""The names of duban's channels, as stored in identities, conversations, the inbox and the outbox."""

from __future__ import annotations

from typing import Final

CONSOLE: Final = "console"
TELEGRAM: Final = "telegram"
WECOM: Final = "wecom"
# The chat id under which a WeCom group robot (a webhook, not a person) receives digests.
WECOM_ROBOT_CHAT_ID: Final = "group-robot"
