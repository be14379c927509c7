"""The WeCom group robot (群机器人): a webhook that posts digests into a group, and a channel of only that.

`send_group_robot` posts one digest; `WecomChannel.send(ROBOT_CHAT_ID, reply)` uses it when
`DUBAN_WECOM_GROUP_WEBHOOK` is set, and `WecomRobotChannel` stands in for the whole channel when only the
webhook is configured.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from aiohttp import web

from bot.channels.edge import split
from bot.channels.wecom.client import API_TIMEOUT, MARKDOWN_LIMIT, TEXT_LIMIT, WecomApiError, classify
from config.settings import Settings
from core import ids
from core.channel import PermanentFailure, RetryLater, Runtime
from core.messages import Reply, render_plain

log = logging.getLogger(__name__)

ROBOT_CHAT_ID = ids.WECOM_ROBOT_CHAT_ID  # send(ROBOT_CHAT_ID, reply) posts to DUBAN_WECOM_GROUP_WEBHOOK
ROBOT_DEAD_ERRORS = frozenset({93000, 93004})  # webhook key invalid / robot removed
ROBOT_RETRY_SECONDS = 30.0


def robot_payloads(text: str, markdown: str | None = None) -> list[dict[str, Any]]:
    """The webhook posts for a digest: its markdown if it has one, else its text, in parts within the limits."""
    if markdown:
        return [{"msgtype": "markdown", "markdown": {"content": p}} for p in split(markdown, MARKDOWN_LIMIT)]
    return [{"msgtype": "text", "text": {"content": p}} for p in split(text, TEXT_LIMIT)]


async def send_group_robot(
    url: str, text: str, markdown: str | None = None, *, session: aiohttp.ClientSession | None = None
) -> None:
    """Post a digest to a WeCom group robot webhook: markdown if given, else text; split under the limits.

    Raises:
        RetryLater: rate limited (a robot takes 20 messages a minute) or the server failed.
        PermanentFailure: the webhook key is invalid or the robot was removed.
        WecomApiError: any other refusal.
    """
    own = session is None
    http = session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=API_TIMEOUT))
    try:
        for payload in robot_payloads(text, markdown):
            await _post(http, url, payload)
    finally:
        if own:
            await http.close()


async def _post(http: aiohttp.ClientSession, url: str, payload: dict[str, Any]) -> None:
    try:
        async with http.post(url, json=payload) as res:
            if res.status >= 500 or res.status == 429:
                raise RetryLater(ROBOT_RETRY_SECONDS, f"group robot HTTP {res.status}")
            if res.status >= 400:
                raise WecomApiError(None, f"group robot HTTP {res.status}")
            data = await res.json(content_type=None)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise RetryLater(ROBOT_RETRY_SECONDS, f"group robot unreachable: {exc}") from exc
    code = int(data.get("errcode", 0) or 0) if isinstance(data, dict) else 0
    if code == 0:
        return
    err = WecomApiError(code, str(data.get("errmsg", "")))
    if code in ROBOT_DEAD_ERRORS:
        raise PermanentFailure(f"group robot webhook refused: {err}")
    raise classify(err)


class WecomRobotChannel:
    """Only the group robot (群机器人): used when `DUBAN_WECOM_GROUP_WEBHOOK` is set without the WeCom app,
    so digests still reach the coordinators' group. Messages to individual users cannot be delivered."""

    name = ids.WECOM

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def start(self, app: Runtime, web_app: web.Application) -> None:
        log.info("WeCom group robot only: digests go to the group; the WeCom app is not configured")

    async def stop(self) -> None:
        return None

    async def send(self, chat_id: str, reply: Reply) -> None:
        if chat_id != ROBOT_CHAT_ID or not self.settings.wecom_group_webhook:
            raise PermanentFailure("the WeCom app is not configured: only the group robot can be reached")
        await send_group_robot(self.settings.wecom_group_webhook, render_plain(reply), reply.markdown)
