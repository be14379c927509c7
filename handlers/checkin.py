"""The check-in dialogue (placeholder)."""
from __future__ import annotations
from bot.messages import Reply
from handlers.context import Context, Replies
def on_message(ctx: Context, text: str) -> Replies: return [Reply("TODO")]
def start(ctx: Context) -> Replies: return [Reply("TODO")]
def resume(ctx: Context) -> Replies: return [Reply("TODO")]
def edit_last(ctx: Context) -> Replies: return [Reply("TODO")]
def cancel(ctx: Context) -> Replies: return [Reply("TODO")]
def command(ctx: Context, text: str) -> Replies | None: return None
def attachment_outside_dialogue(ctx: Context) -> Replies: return [Reply("TODO")]
