"""Coordinator review (placeholder)."""
from __future__ import annotations
from handlers.context import Context, Replies
def on_message(ctx: Context, text: str) -> Replies | None: return None
def command(ctx: Context, text: str) -> Replies | None: return None
