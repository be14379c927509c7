"""The `duban` command: set up the database, manage the plan and people, chat in the console, serve.

Errors are one clear line on stderr and a non-zero exit code; nothing is half-written (one transaction).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Iterator, Sequence
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
from handlers import texts


class CliError(Exception):
    """A user error: printed as one line, exit code 1."""


def _parse_duration(text: str) -> dt.timedelta:
    m = re.fullmatch(r"(\d+)\s*([dhm])", text.strip())
    if not m:
        raise CliError(texts.CLI_BAD_DURATION.format(text=text))
    n, unit = int(m.group(1)), m.group(2)
    return {"d": dt.timedelta(days=n), "h": dt.timedelta(hours=n), "m": dt.timedelta(minutes=n)}[unit]


def _role(role: str) -> str:
    return texts.ROLE_NAMES.get(role, role)


def _date(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise CliError(texts.CLI_BAD_DATE.format(option=option, text=text)) from None


def _moment(text: str, option: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise CliError(texts.CLI_BAD_MOMENT.format(option=option, text=text)) from None


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if args.database_url:
        overrides["database_url"] = args.database_url
    if args.data_dir:
        overrides["data_dir"] = Path(args.data_dir)
    if args.now:
        overrides["now"] = _moment(args.now, "--now")
    return load_settings(**overrides)


# ---- commands -----------------------------------------------------------------------------------------------


def cmd_init(app: App, args: argparse.Namespace, out: TextIO) -> int:
    path = Path(args.plan) if args.plan else app.settings.plan_file
    doc = load_plan_file(path)
    with transaction(app.session_factory) as s:
        result = plans.import_plan(s, doc, app.clock.utcnow())
        if args.demo:
            added = people.add_demo_people(s, app.clock.utcnow())
            out.write(texts.CLI_DEMO_ADDED.format(n=added) + "\n")
    _print_import(result, out)
    _refresh_nlu(app)
    with app.session_factory() as s:
        plan = plans.active_plan(s, doc.plan.key)
        assert plan is not None
        _print_overview(plans.overview(s, plan), out)
    return 0


def _print_import(result: plans.ImportResult, out: TextIO) -> None:
    if result.unchanged:
        out.write(texts.CLI_IMPORT_UNCHANGED.format(key=result.plan_key) + "\n")
        return

    def fmt(d: dict[str, int]) -> str:
        order = {k: i for i, k in enumerate(texts.CLI_IMPORT_ORDER)}
        shown = sorted(d.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
        return "、".join(f"{texts.CLI_IMPORT_WHAT.get(k, k)} {v}" for k, v in shown) or texts.CLI_IMPORT_NONE

    out.write(
        texts.CLI_IMPORTED.format(
            key=result.plan_key,
            created=fmt(result.created),
            updated=fmt(result.updated),
            deactivated=fmt(result.deactivated),
        )
        + "\n"
    )


def _print_overview(ov: plans.PlanOverview, out: TextIO) -> None:
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
            raise CliError(texts.CLI_NO_PLAN)
        if not args.name:
            _print_overview(plans.overview(s, plan), out)
            return 0
        from handlers import plan_text

        text = plan_text.describe(s, plan, args.name, app.clock)
        if text is None:
            idx = orgs.name_index(s)
            hint = idx.closest(args.name)
            raise CliError(
                texts.CLI_NOT_FOUND.format(name=args.name)
                + (texts.CLI_DID_YOU_MEAN.format(names="、".join(hint)) if hint else "")
            )
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
    if bool(args.shares) + args.even + args.clear != 1:
        raise CliError(texts.SHARE_CLI_NEEDS)
    with transaction(app.session_factory) as s:
        plan = plans.active_plan(s)
        if plan is None:
            raise CliError(texts.CLI_NO_PLAN)
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
        out.write(texts.CLI_PLAN_PROBLEMS.format(n=len(exc.problems)) + "\n")
        return 1
    out.write(
        texts.CLI_PLAN_VALID.format(
            title=doc.plan.title,
            orgs=len(doc.organisations),
            tasks=len(doc.tasks),
            projects=len(doc.projects),
            indicators=len(doc.indicators),
        )
        + "\n"
    )
    return 0


def cmd_plan_export_xlsx(args: argparse.Namespace, out: TextIO) -> int:
    from config.plan.xlsx_write import write_workbook

    doc = load_plan_file(args.plan or DEFAULT_PLAN)
    write_workbook(doc, Path(args.file))
    out.write(texts.CLI_WRITTEN.format(path=args.file) + "\n")
    return 0


def cmd_person_add(app: App, args: argparse.Namespace, out: TextIO) -> int:
    identities: dict[str, str] = {}
    if args.telegram_id:
        if not re.fullmatch(r"-?\d+", args.telegram_id):
            raise CliError(texts.CLI_BAD_TELEGRAM_ID.format(text=args.telegram_id))
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
        out.write(
            texts.CLI_PERSON_ADDED.format(id=person.id, name=person.name, org=org.name, role=_role(args.role)) + "\n"
        )
    return 0


def cmd_person_list(app: App, args: argparse.Namespace, out: TextIO) -> int:
    with app.session_factory() as s:
        rows = people.list_people(s)
        if not rows:
            out.write(texts.CLI_NO_PEOPLE + "\n")
        for p in rows:
            ids = ", ".join(f"{i.channel}:{i.external_id}" for i in p.identities) or "—"
            org = p.organisation.name if p.organisation else "—"
            state = "" if p.active else texts.CLI_INACTIVE
            out.write(f"#{p.id}\t{p.name}\t{org}\t{_role(p.role)}\t{ids}{state}\n")
    return 0


def cmd_invite(app: App, args: argparse.Namespace, out: TextIO) -> int:
    ttl = _parse_duration(args.expires)
    with transaction(app.session_factory) as s:
        org = orgs.require_org(s, args.org)
        try:
            invite = people.new_invite(s, org, args.role, app.clock.utcnow(), ttl, person_name=args.name)
        except OutOfBounds as exc:
            raise CliError(texts.E_BOUND_NAME_LONG.format(n=len(str(exc.value)), limit=exc.limit)) from exc
        except ValueError as exc:
            raise CliError(str(exc)) from exc
        from handlers import formatting

        expires = formatting.stored_minute(invite.expires_at, app.clock.tz)
        out.write(
            texts.CLI_INVITE.format(code=invite.code, org=org.name, role=_role(args.role), expires=expires) + "\n"
        )
        if app.settings.telegram_bot_username:
            out.write(texts.CLI_INVITE_LINK.format(bot=app.settings.telegram_bot_username, code=invite.code) + "\n")
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

    at = _moment(args.at, "--at") if args.at else None
    return tick(app, at=at, dry_run=args.dry_run, out=out)


def cmd_digest(app: App, args: argparse.Namespace, out: TextIO) -> int:
    from scheduler.commands import digest

    week = _date(args.week, "--week") if args.week else None
    return digest(app, org=args.org, week=week, out=out, files=not args.no_files)


def cmd_export(app: App, args: argparse.Namespace, out: TextIO) -> int:
    from scheduler.commands import export

    at = _date(args.at, "--at") if args.at else None
    today = app.clock.now().date()
    if at is not None and at > today:
        # The workbook can only say how things stood on a day that has passed (a rehearsal's --now included).
        raise CliError(texts.CLI_EXPORT_AT_FUTURE.format(at=at.isoformat(), today=today.isoformat()))
    return export(app, Path(args.file), at=at, out=out, approved_only=args.approved_only, org=args.org)


# ---- parser -------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _argparse_in_chinese() -> Iterator[None]:
    """argparse's own words (usage, headings, errors) in Chinese while the parser is built and used: argparse
    looks them up through its module's gettext functions at that moment."""
    saved = argparse._, argparse.ngettext  # type: ignore[attr-defined]

    def one(message: str) -> str:
        return texts.ARGPARSE.get(message, message)

    def plural(singular: str, many: str, n: int) -> str:
        return one(singular if n == 1 else many)

    setattr(argparse, "_", one)  # noqa: B010 (a module's private name)
    setattr(argparse, "ngettext", plural)  # noqa: B010
    try:
        yield
    finally:
        setattr(argparse, "_", saved[0])  # noqa: B010
        setattr(argparse, "ngettext", saved[1])  # noqa: B010


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's help, its columns aligned when an option's name holds Chinese (two columns a character on a
    terminal, one for argparse)."""

    def _format_action(self, action: argparse.Action) -> str:
        text = super()._format_action(action)
        header = self._format_action_invocation(action)
        wide = sum(1 for ch in header if unicodedata.east_asian_width(ch) in "WF")
        first, newline, rest = text.partition("\n")
        at = first.find(header)
        if wide and at >= 0:
            after = first[at + len(header) :]
            spaces = len(after) - len(after.lstrip(" "))
            if after.strip() and spaces - wide >= 2:
                return first[: at + len(header)] + " " * (spaces - wide) + after.lstrip(" ") + newline + rest
        return text


class _SubParser(argparse.ArgumentParser):
    """A subcommand's parser, with the same help layout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    with _argparse_in_chinese():
        return _build_parser()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line parsed, its help and its errors in Chinese (exits 0 after help, 2 after an error)."""
    with _argparse_in_chinese():
        return _build_parser().parse_args(argv)


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="duban", description="督办助手：把年度工作计划落到每个责任单位的聊天里", formatter_class=_HelpFormatter
    )
    p.add_argument(
        "--now", metavar="时间", help="假定当前时间（ISO 8601，如 2023-07-10T10:00），用于演练和测试；等同 DUBAN_NOW"
    )
    p.add_argument("--database-url", metavar="URL", help="数据库 URL；等同 DUBAN_DATABASE_URL")
    p.add_argument("--data-dir", metavar="目录", help="数据目录；等同 DUBAN_DATA_DIR")
    sub = p.add_subparsers(dest="command", required=True, metavar="命令", parser_class=_SubParser)

    s = sub.add_parser("init", help="创建/升级数据库并导入计划")
    s.add_argument("--plan", metavar="文件", help="计划文件（.yaml 或 .xlsx），默认为随附的林芝市 2023 年计划")
    s.add_argument("--demo", action="store_true", help="同时添加演示用户（协调员和每个单位一名填报人）")
    s.set_defaults(func=cmd_init)

    plan = sub.add_parser("plan", help="查看、导入、校验计划").add_subparsers(
        dest="plan_command", required=True, metavar="子命令", parser_class=_SubParser
    )
    s = plan.add_parser("show", help="计划概况，或某个单位/项目/指标的详情")
    s.add_argument("name", nargs="?", metavar="名称", help="单位、项目（如 项目8）或指标（如 指标12）；不填则显示概况")
    s.add_argument("--plan-key", dest="plan_key", metavar="计划编号", help="计划编号，如 linzhi-2023（默认当前计划）")
    s.set_defaults(func=cmd_plan_show)
    s = plan.add_parser("import", help="导入计划文件（可重复导入，修订后就地更新）")
    s.add_argument("file", metavar="文件", help="计划文件（.yaml 或 .xlsx）")
    s.set_defaults(func=cmd_plan_import)
    s = plan.add_parser("share", help="设定共同实施项目中各单位的份额（万元）")
    s.add_argument("project", metavar="项目", help="项目，如 项目8")
    s.add_argument("shares", nargs="*", metavar="单位=万元", help="各单位份额，如 墨脱县=300")
    s.add_argument("--even", action="store_true", help="总投资在各单位间平均分配（余数计入牵头单位）")
    s.add_argument("--clear", action="store_true", help="清除份额（各单位份额未知）")
    s.set_defaults(func=cmd_plan_share)
    s = plan.add_parser("validate", help="校验计划文件，不写入数据库")
    s.add_argument("file", metavar="文件", help="计划文件（.yaml 或 .xlsx）")
    s.set_defaults(func=cmd_plan_validate, needs_app=False)
    s = plan.add_parser("export-xlsx", help="把计划文件转成 Excel 工作簿（可编辑后再导入）")
    s.add_argument("file", metavar="文件", help="要生成的 .xlsx 文件")
    s.add_argument("--plan", metavar="计划文件", help="计划文件，默认为随附计划")
    s.set_defaults(func=cmd_plan_export_xlsx, needs_app=False)

    person = sub.add_parser("person", help="管理用户").add_subparsers(
        dest="person_command", required=True, metavar="子命令", parser_class=_SubParser
    )
    s = person.add_parser("add", help="添加用户并直接绑定账号")
    s.add_argument("name", metavar="姓名", help="用户姓名")
    s.add_argument("--org", required=True, metavar="单位", help="所在单位，如 墨脱县")
    s.add_argument("--role", required=True, choices=ROLES, help=texts.CLI_ROLES)
    s.add_argument("--telegram-id", metavar="ID", help="Telegram 用户 id（数字）")
    s.add_argument("--wecom-userid", metavar="USERID", help="企业微信 userid")
    s.add_argument("--console", metavar="用户名", help="控制台用户名（默认同姓名）")
    s.set_defaults(func=cmd_person_add)
    s = person.add_parser("list", help="列出用户")
    s.set_defaults(func=cmd_person_list)

    s = sub.add_parser("invite", help="生成一次性绑定码")
    s.add_argument("org", metavar="单位", help="被邀请人所在单位，如 墨脱县")
    s.add_argument(
        "--role",
        default=OFFICIAL,
        choices=(OFFICIAL, COORDINATOR, "leader"),
        help=texts.CLI_ROLES + "（默认 official）",
    )
    s.add_argument("--expires", default="7d", metavar="期限", help="有效期，如 7d、12h（默认 7d）")
    s.add_argument("--name", metavar="姓名", help="被邀请人姓名")
    s.set_defaults(func=cmd_invite)

    s = sub.add_parser("console", help="在终端里以某个用户的身份与机器人对话")
    s.add_argument("--user", required=True, metavar="用户", help="用户姓名或控制台用户名，如 墨脱填报人、协调员")
    s.set_defaults(func=cmd_console)

    s = sub.add_parser("serve", help="运行机器人（Telegram / 企业微信）、定时提醒和消息发送")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("tick", help="立即执行此刻到期的提醒/周报任务")
    s.add_argument("--at", metavar="时间", help="按这个时刻执行（ISO 8601），默认现在")
    s.add_argument("--dry-run", action="store_true", help="只打印将要发送的消息，不入队不发送")
    s.set_defaults(func=cmd_tick)

    s = sub.add_parser("digest", help="打印周报，并生成附件（完成进度图、周报工作簿）")
    s.add_argument("--org", metavar="单位", help="只看这个单位（含下属单位）")
    s.add_argument("--week", metavar="日期", help="该周内任一日期，默认本周")
    s.add_argument("--no-files", action="store_true", help="只打印，不生成附件（完成进度图和周报工作簿）")
    s.set_defaults(func=cmd_digest)

    s = sub.add_parser("export", help="导出年度完成情况 Excel（11月20日总结用）")
    s.add_argument("file", metavar="文件", help="要生成的 .xlsx 文件")
    s.add_argument("--at", metavar="日期", help="截至日期，默认今天")
    s.add_argument("--approved-only", action="store_true", help="只计已审核通过的汇报")
    s.add_argument("--org", metavar="单位", help="只导出这个单位（含下属单位）自己的任务")
    s.set_defaults(func=cmd_export)
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = parse_args(argv)
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
    except BrokenPipeError:
        # Whoever read the output went away (`duban plan show | head`): what was done is done, and stays said
        # without a traceback; the output still buffered goes nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    finally:
        if app is not None:
            app.close()


if __name__ == "__main__":
    raise SystemExit(main())
