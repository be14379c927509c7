"""The `duban` command: set up the database, manage the plan and people, chat in the console, serve.

Errors are one clear line on stderr and a non-zero exit code; nothing is half-written (one transaction).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from bot.app import App, build_app, setup_logging
from config.plan.files import PlanFileError, load_plan_file
from config.settings import DEFAULT_PLAN, Settings, load_settings
from db.bounds import OutOfBounds
from db.engine import transaction
from db.models import COORDINATOR, EVENT, INDICATOR, OFFICIAL, PROJECT, ROLES, TASK
from db.repositories import orgs, people, plans
from db.repositories.orgs import UnknownOrganisation


class CliError(Exception):
    """A user error: printed as one line, exit code 1."""


def _parse_duration(text: str) -> dt.timedelta:
    m = re.fullmatch(r"(\d+)\s*([dhm])", text.strip())
    if not m:
        raise CliError(f"无效的期限“{text}”，应为如 7d、12h、30m")
    n, unit = int(m.group(1)), m.group(2)
    return {"d": dt.timedelta(days=n), "h": dt.timedelta(hours=n), "m": dt.timedelta(minutes=n)}[unit]


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if args.database_url:
        overrides["database_url"] = args.database_url
    if args.data_dir:
        overrides["data_dir"] = Path(args.data_dir)
    if args.now:
        try:
            overrides["now"] = dt.datetime.fromisoformat(args.now)
        except ValueError as exc:
            raise CliError(f"无效的时间“{args.now}”，应为 ISO 8601，如 2023-05-24T09:00") from exc
    return load_settings(**overrides)


# ---- commands -----------------------------------------------------------------------------------------------


def cmd_init(app: App, args: argparse.Namespace, out: TextIO) -> int:
    path = Path(args.plan) if args.plan else app.settings.plan_file
    doc = load_plan_file(path)
    with transaction(app.session_factory) as s:
        result = plans.import_plan(s, doc, app.clock.utcnow())
        if args.demo:
            added = people.add_demo_people(s, app.clock.utcnow())
            out.write(f"已添加演示用户 {added} 人（duban person list 查看）\n")
    _print_import(result, out)
    _refresh_nlu(app)
    with app.session_factory() as s:
        plan = plans.active_plan(s, doc.plan.key)
        assert plan is not None
        _print_overview(plans.overview(s, plan), out)
    return 0


def _print_import(result: plans.ImportResult, out: TextIO) -> None:
    if result.unchanged:
        out.write(f"计划 {result.plan_key} 已是最新，无需更新。\n")
        return

    def fmt(d: dict[str, int]) -> str:
        return "、".join(f"{k} {v}" for k, v in sorted(d.items())) or "无"

    out.write(
        f"计划 {result.plan_key} 已导入：新增 {fmt(result.created)}；更新 {fmt(result.updated)}；停用 {fmt(result.deactivated)}\n"
    )


def _print_overview(ov: plans.PlanOverview, out: TextIO) -> None:
    from handlers import texts

    by_kind = ov.assignments_by_kind
    out.write(
        texts.PT_OVERVIEW.format(
            title=ov.title,
            key=ov.key,
            counties=ov.counties,
            departments=ov.departments_with_tasks,
            organisations=ov.organisations,
            goals=ov.goals,
            tasks=ov.tasks,
            task_assignments=by_kind.get(TASK, 0),
            projects=ov.projects,
            investment=_money(ov.investment_total),
            project_assignments=by_kind.get(PROJECT, 0),
            indicators=ov.indicators,
            indicator_assignments=by_kind.get(INDICATOR, 0),
            events=ov.events,
            event_assignments=by_kind.get(EVENT, 0),
            reportable=ov.reportable_assignments,
        )
    )


def _money(value: Decimal) -> str:
    from handlers import formatting

    return formatting.money(value)


def _refresh_nlu(app: App) -> None:
    nlu = app.services.get("nlu")
    if nlu is not None and hasattr(nlu, "refresh"):
        with app.session_factory() as s:
            nlu.refresh(s)


def cmd_plan_show(app: App, args: argparse.Namespace, out: TextIO) -> int:
    with app.session_factory() as s:
        plan = plans.active_plan(s, args.plan_key)
        if plan is None:
            raise CliError("数据库中还没有计划，请先运行 duban init")
        if not args.name:
            _print_overview(plans.overview(s, plan), out)
            return 0
        from handlers import plan_text

        text = plan_text.describe(s, plan, args.name, app.clock)
        if text is None:
            idx = orgs.name_index(s)
            hint = idx.closest(args.name)
            raise CliError(f"找不到“{args.name}”" + (f"，是否指：{'、'.join(hint)}" if hint else ""))
        out.write(text + "\n")
    return 0


def cmd_plan_import(app: App, args: argparse.Namespace, out: TextIO) -> int:
    doc = load_plan_file(args.file)
    with transaction(app.session_factory) as s:
        result = plans.import_plan(s, doc, app.clock.utcnow())
    _print_import(result, out)
    _refresh_nlu(app)
    return 0


_SHARE_ARG = re.compile(r"^(?P<org>[^=＝]+)[=＝](?P<amount>[0-9]+(?:\.[0-9]+)?)$")


def cmd_plan_share(app: App, args: argparse.Namespace, out: TextIO) -> int:
    """`duban plan share 项目8 墨脱县=300 …` / `--even` / `--clear`: a coordinator's shares of a shared project."""
    from handlers import texts

    if bool(args.shares) + args.even + args.clear != 1:
        raise CliError(texts.SHARE_CLI_NEEDS)
    with transaction(app.session_factory) as s:
        plan = plans.active_plan(s)
        if plan is None:
            raise CliError("数据库中还没有计划，请先运行 duban init")
        m = re.fullmatch(r"(?:项目|P|p)?\s*(\d+)", args.project.strip())
        item = plans.find_project(s, plan, int(m.group(1))) if m else None
        if item is None:
            raise CliError(texts.SHARE_NO_PROJECT.format(text=args.project))
        units = plans.project_units(s, item)
        total = Decimal(str(item.investment_total or 0))
        shares: dict[str, Decimal] | None
        if args.clear:
            shares = None
        elif args.even:
            shares = plans.even_shares(total, units)
        else:
            shares = {}
            for arg in args.shares:
                am = _SHARE_ARG.match(arg.strip())
                if am is None:
                    raise CliError(texts.SHARE_BAD_ARG.format(text=arg))
                org = orgs.require_org(s, am.group("org").strip())
                shares[org.name] = Decimal(am.group("amount"))
        try:
            stored = plans.set_shares(s, item, shares, texts.SHARE_BY_CLI, app.clock.utcnow())
        except plans.ShareError as exc:
            unit_list = "、".join(units)
            if exc.kind == "unit":
                raise CliError(texts.SHARE_BAD_UNIT.format(org=exc.unit, number=item.number, units=unit_list)) from None
            if exc.kind == "negative":
                raise CliError(texts.SHARE_NEGATIVE.format(org=exc.unit)) from None
            raise CliError(
                texts.SHARE_OVER.format(
                    sum=_money(sum(shares.values(), Decimal(0)) if shares else Decimal(0)), total=_money(total)
                )
            ) from None
        if not stored:
            out.write(texts.SHARE_CLEARED.format(number=item.number) + "\n")
            return 0
        listed = "、".join(texts.SHARE_ITEM.format(org=u, share=_money(stored[u])) for u in units if u in stored)
        unknown = [u for u in units if u not in stored]
        out.write(
            texts.SHARE_SET.format(
                number=item.number,
                shares=listed,
                sum=_money(sum(stored.values(), Decimal(0))),
                total=_money(total),
            )
            + (texts.SHARE_UNKNOWN_UNITS.format(units="、".join(unknown)) if unknown else "")
            + "\n"
        )
    return 0


def cmd_plan_validate(args: argparse.Namespace, out: TextIO) -> int:
    try:
        doc = load_plan_file(args.file)
    except PlanFileError as exc:
        for p in exc.problems:
            out.write(f"{p}\n")
        out.write(f"共 {len(exc.problems)} 处问题，未写入任何数据。\n")
        return 1
    out.write(
        f"计划文件有效：{doc.plan.title}，单位 {len(doc.organisations)}，任务 {len(doc.tasks)}，"
        f"项目 {len(doc.projects)}，指标 {len(doc.indicators)}\n"
    )
    return 0


def cmd_plan_export_xlsx(args: argparse.Namespace, out: TextIO) -> int:
    from config.plan.xlsx_write import write_workbook

    doc = load_plan_file(args.plan or DEFAULT_PLAN)
    write_workbook(doc, Path(args.file))
    out.write(f"已生成 {args.file}\n")
    return 0


def cmd_person_add(app: App, args: argparse.Namespace, out: TextIO) -> int:
    identities: dict[str, str] = {}
    if args.telegram_id:
        if not re.fullmatch(r"-?\d+", args.telegram_id):
            raise CliError(f"Telegram id 应为数字，而不是“{args.telegram_id}”")
        identities["telegram"] = args.telegram_id
    if args.wecom_userid:
        identities["wecom"] = args.wecom_userid
    if args.console:
        identities["console"] = args.console
    if not identities:
        identities["console"] = args.name
    with transaction(app.session_factory) as s:
        org = orgs.require_org(s, args.org)
        try:
            person = people.add_person(s, args.name, org, args.role, app.clock.utcnow(), identities)
        except ValueError as exc:
            raise CliError(str(exc)) from exc
        out.write(f"已添加 #{person.id} {person.name}（{org.name}，{args.role}）\n")
    return 0


def cmd_person_list(app: App, args: argparse.Namespace, out: TextIO) -> int:
    with app.session_factory() as s:
        rows = people.list_people(s)
        if not rows:
            out.write("还没有用户。用 duban person add 或 duban invite 添加。\n")
        for p in rows:
            ids = ", ".join(f"{i.channel}:{i.external_id}" for i in p.identities) or "—"
            org = p.organisation.name if p.organisation else "—"
            state = "" if p.active else "（停用）"
            out.write(f"#{p.id}\t{p.name}\t{org}\t{p.role}\t{ids}{state}\n")
    return 0


def cmd_invite(app: App, args: argparse.Namespace, out: TextIO) -> int:
    ttl = _parse_duration(args.expires)
    with transaction(app.session_factory) as s:
        org = orgs.require_org(s, args.org)
        try:
            invite = people.new_invite(s, org, args.role, app.clock.utcnow(), ttl, person_name=args.name)
        except OutOfBounds as exc:
            from handlers import texts

            raise CliError(texts.E_BOUND_NAME_LONG.format(n=len(str(exc.value)), limit=exc.limit)) from exc
        except ValueError as exc:
            raise CliError(str(exc)) from exc
        from handlers import formatting

        expires = formatting.stored_minute(invite.expires_at, app.clock.tz)
        out.write(f"绑定码：{invite.code}（{org.name}，{args.role}，{expires} 前有效，仅可使用一次）\n")
        out.write(f"用户发送：绑定 {invite.code}\n")
        if app.settings.telegram_bot_username:
            out.write(f"Telegram 链接：https://t.me/{app.settings.telegram_bot_username}?start={invite.code}\n")
    return 0


def cmd_console(app: App, args: argparse.Namespace, out: TextIO) -> int:
    from bot.channels.console import run_console

    return run_console(app, args.user, sys.stdin, out)


def cmd_serve(app: App, args: argparse.Namespace, out: TextIO) -> int:
    from bot.serve import serve

    asyncio.run(serve(app))
    return 0


def cmd_tick(app: App, args: argparse.Namespace, out: TextIO) -> int:
    from scheduler.commands import tick

    at = dt.datetime.fromisoformat(args.at) if args.at else None
    return tick(app, at=at, dry_run=args.dry_run, out=out)


def cmd_digest(app: App, args: argparse.Namespace, out: TextIO) -> int:
    from scheduler.commands import digest

    week = dt.date.fromisoformat(args.week) if args.week else None
    return digest(app, org=args.org, week=week, out=out)


def cmd_export(app: App, args: argparse.Namespace, out: TextIO) -> int:
    from scheduler.commands import export

    at = dt.date.fromisoformat(args.at) if args.at else None
    return export(app, Path(args.file), at=at, out=out, approved_only=args.approved_only, org=args.org)


# ---- parser -------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="duban", description="督办助手：把年度工作计划落到每个责任单位的聊天里")
    p.add_argument("--now", help="假定当前时间（ISO 8601），用于演练和测试；等同 DUBAN_NOW")
    p.add_argument("--database-url", help="数据库 URL；等同 DUBAN_DATABASE_URL")
    p.add_argument("--data-dir", help="数据目录；等同 DUBAN_DATA_DIR")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("init", help="创建/升级数据库并导入计划")
    s.add_argument("--plan", help="计划文件（.yaml 或 .xlsx），默认为随附的林芝市 2023 年计划")
    s.add_argument("--demo", action="store_true", help="同时添加演示用户（协调员和每个单位一名填报人）")
    s.set_defaults(func=cmd_init)

    plan = sub.add_parser("plan", help="查看、导入、校验计划").add_subparsers(dest="plan_command", required=True)
    s = plan.add_parser("show", help="计划概况，或某个单位/项目/指标的详情")
    s.add_argument("name", nargs="?")
    s.add_argument("--plan-key", dest="plan_key")
    s.set_defaults(func=cmd_plan_show)
    s = plan.add_parser("import", help="导入计划文件（可重复导入，修订后就地更新）")
    s.add_argument("file")
    s.set_defaults(func=cmd_plan_import)
    s = plan.add_parser("share", help="设定共同实施项目中各单位的份额（万元）")
    s.add_argument("project", help="项目，如 项目8")
    s.add_argument("shares", nargs="*", help="单位=万元，如 墨脱县=300")
    s.add_argument("--even", action="store_true", help="总投资在各单位间平均分配（余数计入牵头单位）")
    s.add_argument("--clear", action="store_true", help="清除份额（各单位份额未知）")
    s.set_defaults(func=cmd_plan_share)
    s = plan.add_parser("validate", help="校验计划文件，不写入数据库")
    s.add_argument("file")
    s.set_defaults(func=cmd_plan_validate, needs_app=False)
    s = plan.add_parser("export-xlsx", help="把计划文件转成 Excel 工作簿（可编辑后再导入）")
    s.add_argument("file")
    s.add_argument("--plan", help="计划文件，默认为随附计划")
    s.set_defaults(func=cmd_plan_export_xlsx, needs_app=False)

    person = sub.add_parser("person", help="管理用户").add_subparsers(dest="person_command", required=True)
    s = person.add_parser("add", help="添加用户并直接绑定账号")
    s.add_argument("name")
    s.add_argument("--org", required=True)
    s.add_argument("--role", required=True, choices=ROLES)
    s.add_argument("--telegram-id")
    s.add_argument("--wecom-userid")
    s.add_argument("--console", help="控制台用户名（默认同姓名）")
    s.set_defaults(func=cmd_person_add)
    s = person.add_parser("list", help="列出用户")
    s.set_defaults(func=cmd_person_list)

    s = sub.add_parser("invite", help="生成一次性绑定码")
    s.add_argument("org")
    s.add_argument("--role", default=OFFICIAL, choices=(OFFICIAL, COORDINATOR, "leader"))
    s.add_argument("--expires", default="7d", help="有效期，如 7d、12h（默认 7d）")
    s.add_argument("--name", help="被邀请人姓名")
    s.set_defaults(func=cmd_invite)

    s = sub.add_parser("console", help="在终端里以某个用户的身份与机器人对话")
    s.add_argument("--user", required=True, help="用户姓名或控制台用户名")
    s.set_defaults(func=cmd_console)

    s = sub.add_parser("serve", help="运行机器人（Telegram / 企业微信）、定时提醒和消息发送")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("tick", help="立即执行此刻到期的提醒/周报任务")
    s.add_argument("--at", help="按这个时刻执行（ISO 8601），默认现在")
    s.add_argument("--dry-run", action="store_true", help="只打印将要发送的消息，不入队不发送")
    s.set_defaults(func=cmd_tick)

    s = sub.add_parser("digest", help="打印周报")
    s.add_argument("--org")
    s.add_argument("--week", help="该周内任一日期，默认本周")
    s.set_defaults(func=cmd_digest)

    s = sub.add_parser("export", help="导出年度完成情况 Excel（11月20日总结用）")
    s.add_argument("file")
    s.add_argument("--at", help="截至日期，默认今天")
    s.add_argument("--approved-only", action="store_true", help="只计已审核通过的汇报")
    s.add_argument("--org", help="只导出这个单位（含下属单位）自己的任务")
    s.set_defaults(func=cmd_export)
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[..., int] = args.func
    app: App | None = None
    try:
        settings = _settings(args)
        setup_logging(settings.log_level if args.command == "serve" else "WARNING")
        if not getattr(args, "needs_app", True):
            return func(args, out)
        app = build_app(settings, warm_nlu=args.command in ("serve", "console", "init", "plan"))
        return func(app, args, out)
    except PlanFileError as exc:
        for p in exc.problems:
            print(f"duban: {p}", file=sys.stderr)
        return 1
    except (CliError, UnknownOrganisation) as exc:
        print(f"duban: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if app is not None:
            app.close()


if __name__ == "__main__":
    raise SystemExit(main())
