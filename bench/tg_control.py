"""Talking to the control endpoint of bench/tg_fake.py (standard library only: the bot processes use it too)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


def post(base_url: str, op: str, body: dict[str, Any] | None = None, timeout: float = 30.0) -> dict[str, Any]:
    """POST a JSON body to /control/<op>; returns the JSON answer (an error status raises urllib's HTTPError)."""
    req = urllib.request.Request(
        f"{base_url}/control/{op}",
        data=json.dumps(body or {}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        out: dict[str, Any] = json.loads(resp.read())
        return out


def get(base_url: str, op: str, timeout: float = 30.0) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base_url}/control/{op}", timeout=timeout) as resp:
        out: dict[str, Any] = json.loads(resp.read())
        return out
