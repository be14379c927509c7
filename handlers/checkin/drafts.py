"""Parked drafts, one per task: a draft left by `取消`, by expiry or by starting something else is kept under its
task, `继续` resumes it (or asks which, when there are several) and `删除草稿` discards one.

They live in the conversation's data under `model.DRAFTS` (a `keep_` key, which survives moving between states).
"""

from __future__ import annotations

from typing import Any

from db.models import Assignment
from handlers.checkin.model import DRAFTS, KEEP, CheckinData
from handlers.context import Context

Snapshot = dict[str, Any]  # {"state": state value, "data": CheckinData as JSON}


def parked(ctx: Context) -> dict[int, Snapshot]:
    """The parked drafts by assignment id, oldest first (an older release's single draft included)."""
    out: dict[int, Snapshot] = {}
    legacy = ctx.data.get(KEEP)
    if legacy:
        aid = _assignment_of(legacy)
        if aid is not None:
            out[aid] = legacy
    for key, snap in (ctx.data.get(DRAFTS) or {}).items():
        out[int(key)] = snap
    return out


def _assignment_of(snapshot: Snapshot) -> int | None:
    draft = (snapshot.get("data") or {}).get("draft") or {}
    aid = draft.get("assignment_id")
    return int(aid) if aid is not None else None


def _store(ctx: Context, drafts: dict[int, Snapshot]) -> None:
    data = {k: v for k, v in (ctx.conversation.data or {}).items() if k not in (KEEP, DRAFTS)}
    if drafts:
        data[DRAFTS] = {str(aid): snap for aid, snap in drafts.items()}
    ctx.conversation.data = data


def park(ctx: Context) -> int | None:
    """Keep the current draft under its task and leave the dialogue. Returns the task's assignment id."""
    current = {k: v for k, v in ctx.data.items() if not k.startswith("keep_")}
    snapshot: Snapshot = {"state": ctx.state, "data": current}
    aid = _assignment_of(snapshot)
    drafts = parked(ctx)
    ctx.reset()
    if aid is not None:
        drafts.pop(aid, None)
        drafts[aid] = snapshot  # the newest last
    _store(ctx, drafts)
    return aid


def take(ctx: Context, aid: int) -> tuple[str, CheckinData] | None:
    """Remove the draft of task `aid` from the parked ones; its state and data, to resume it."""
    drafts = parked(ctx)
    snap = drafts.pop(aid, None)
    if snap is None:
        return None
    _store(ctx, drafts)
    return str(snap["state"]), CheckinData.model_validate(snap["data"])


def discard(ctx: Context, aid: int) -> bool:
    drafts = parked(ctx)
    if drafts.pop(aid, None) is None:
        return False
    _store(ctx, drafts)
    return True


def labels(ctx: Context, aids: list[int]) -> dict[int, str]:
    out = {}
    for aid in aids:
        a = ctx.session.get(Assignment, aid)
        out[aid] = a.item.label if a is not None else str(aid)
    return out
