"""WeCom template cards: questions asked with buttons, a tap coming back through the real callback (wechatpy's
encryption) and the inbox, the card updated in place, a stale tap refused, and numbered text where a deployment
refuses cards. The fake WeCom API holds every card to the documented limits."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.channels.wecom import cards
from bot.channels.wecom.callback import CARD, inbound_from_xml, parse_xml
from config.clock import Clock
from config.settings import Settings
from core.messages import Choice, Reply
from db.models import APPROVED, IN_PROGRESS, RETURNED, Report
from handlers import texts
from tests.fakes.wait import wait_for
from tests.fakes.wecom_api import FakeWecomApi
from tests.test_wecom import COORDINATOR, CORP_ID, OFFICIAL, SECRET, Server, serving_wecom

# ---- the cards themselves ---------------------------------------------------------------------------------------


def _choices(n: int, long: bool = False) -> list[Choice]:
    label = "一个很长很长的任务名称超过了按钮能显示的字数" if long else "选项"
    return [Choice(f"{label}{i}", f"#{i}", f"~ab12cd34.{i}") for i in range(n)]


@pytest.mark.parametrize("n", [1, 2, 6])
def test_up_to_six_choices_are_buttons_within_the_limits(n: int) -> None:
    reply = Reply("当前状态？", choices=_choices(n, long=True))
    card = cards.render(reply, "当前状态？", None, cards.task_id(reply.choices))
    assert cards.check_card(card) == []
    assert len(card["button_list"]) == n and "button_selection" not in card
    assert card["task_id"].startswith("ab12cd34-")  # names its question
    for button, choice in zip(card["button_list"], reply.choices, strict=True):
        tapped = cards.click(button["key"], {})
        assert tapped == cards.CardClick(choice.payload, button["text"])


@pytest.mark.parametrize("n", [7, 10])
def test_seven_to_ten_choices_are_a_drop_down_with_a_submit_button(n: int) -> None:
    reply = Reply("选哪项？", choices=_choices(n, long=True))
    card = cards.render(reply, cards.texts.CARD_CHOOSE, None, cards.task_id(reply.choices))
    assert cards.check_card(card) == []
    options = card["button_selection"]["option_list"]
    assert [o["id"] for o in options] == [c.payload for c in reply.choices]
    [submit] = card["button_list"]
    tapped = cards.click(submit["key"], {cards.SELECT_KEY: [options[3]["id"]]})
    assert tapped == cards.CardClick(reply.choices[3].payload, options[3]["text"])
    assert cards.click(submit["key"], {}) is None  # submitted without a choice: nothing to do


def test_what_a_card_cannot_hold() -> None:
    assert not cards.cardable(Reply("选哪项？", choices=_choices(11)))
    assert not cards.cardable(Reply("没有选项"))
    assert cards.click("a key no card of ours has", {}) is None
    too_many = {"card_type": "button_interaction", "task_id": "t-1", "button_list": [{"text": "x", "key": "k"}] * 7}
    problems = cards.check_card(too_many)
    assert "7 buttons" in problems and "repeated button key" in problems
    assert cards.check_card({"card_type": "button_interaction", "task_id": "有中文", "button_list": []})
    vote = {
        "card_type": "vote_interaction",
        "task_id": "t-2",
        "checkbox": {"question_key": "q", "option_list": [{"id": f"o{i}", "text": "x"} for i in range(21)]},
        "submit_button": {"text": "提交", "key": "k"},
    }
    assert cards.check_card(vote) == ["21 options"]


def test_a_card_event_is_parsed_from_the_callback_xml() -> None:
    xml = (
        "<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[zhang]]></FromUserName>"
        "<CreateTime>1689000000</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[submit:{}]]></EventKey>"
        "<TaskId><![CDATA[ab12cd34-0f]]></TaskId><CardType><![CDATA[button_interaction]]></CardType>"
        "<ResponseCode><![CDATA[RC_1]]></ResponseCode><AgentID>1000002</AgentID>"
        "<SelectedItems><SelectedItem><QuestionKey><![CDATA[choice]]></QuestionKey>"
        "<OptionIds><OptionId><![CDATA[~ab12cd34.2]]></OptionId></OptionIds></SelectedItem>"
        "<SelectedItem><QuestionKey><![CDATA[other]]></QuestionKey><OptionIds><OptionId><![CDATA[a]]></OptionId>"
        "<OptionId><![CDATA[b]]></OptionId></OptionIds></SelectedItem></SelectedItems></xml>"
    )
    inbound = inbound_from_xml(parse_xml(xml))
    assert inbound is not None and inbound.event == CARD
    assert (inbound.user_id, inbound.task_id, inbound.response_code) == ("zhang", "ab12cd34-0f", "RC_1")
    assert inbound.selected == {"choice": ["~ab12cd34.2"], "other": ["a", "b"]}
    assert inbound.message_id == "card:zhang:ab12cd34-0f"  # a retried callback or a second tap: one message
    no_task = xml.replace("<TaskId><![CDATA[ab12cd34-0f]]></TaskId>", "")
    assert inbound_from_xml(parse_xml(no_task)) is None


# ---- over HTTP: duban serve, the callback, the fake WeCom API ---------------------------------------------------


@pytest.fixture
async def carded(
    settings: Settings, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Server]:
    api = await FakeWecomApi(corp_id=CORP_ID, secret=SECRET).start()
    try:
        async with serving_wecom(settings, clock, api, tmp_path, monkeypatch, wecom_cards="auto") as served:
            yield served
    finally:
        await api.stop()


def _card_event(server: Server, user: str, card: dict[str, Any], key: str, option: str | None) -> str:
    code = server.fake.issue_response_code(user, card["task_id"])
    selected = (
        "<SelectedItems><SelectedItem><QuestionKey><![CDATA[choice]]></QuestionKey><OptionIds>"
        f"<OptionId><![CDATA[{option}]]></OptionId></OptionIds></SelectedItem></SelectedItems>"
        if option is not None
        else ""
    )
    inner = server.sim.inner(
        user,
        "event",
        Event="template_card_event",
        EventKey=key,
        TaskId=card["task_id"],
        CardType=card["card_type"],
        ResponseCode=code,
    )
    return inner.replace("</xml>", selected + "</xml>")


async def tap(server: Server, user: str, card: dict[str, Any], label: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Tap the button (or pick the drop-down option, then submit) whose text starts with `label`; wait until it is
    handled. Returns the texts and the cards that came back."""
    texts_before, cards_before = len(server.fake.sent_texts(user)), len(server.fake.cards(user))
    if "button_selection" in card:
        option = next(o for o in card["button_selection"]["option_list"] if o["text"].startswith(label))
        inner = _card_event(server, user, card, card["button_list"][0]["key"], option["id"])
    else:
        button = next(b for b in card["button_list"] if b["text"].startswith(label))
        inner = _card_event(server, user, card, button["key"], None)
    status, body = await server.sim.post(inner)
    assert (status, body) == (200, "")
    await server.channel.drain()
    return server.fake.sent_texts(user)[texts_before:], server.fake.cards(user)[cards_before:]


async def say(server: Server, user: str, text: str) -> tuple[list[str], list[dict[str, Any]]]:
    texts_before, cards_before = len(server.fake.sent_texts(user)), len(server.fake.cards(user))
    await server.sim.text(user, text)
    await server.channel.drain()
    return server.fake.sent_texts(user)[texts_before:], server.fake.cards(user)[cards_before:]


def _buttons(card: dict[str, Any]) -> list[str]:
    return [b["text"] for b in card.get("button_list", [])]


async def test_a_check_in_by_taps_with_each_card_updated_in_place(carded: Server) -> None:
    server, fake = carded, carded.fake
    sent, [pick] = await say(server, OFFICIAL, "汇报")
    # The list of 35 items is longer than a card: it goes as a message, and the card under it picks from it.
    assert "墨脱县待汇报任务" in sent[-1] and pick["main_title"]["title"] == texts.CARD_CHOOSE
    options = pick["button_selection"]["option_list"]
    assert len(options) == 9 and options[-1]["text"] == texts.CHOICE_ALL_NO_CHANGE  # 8 items + 全部无变化
    first_item = options[0]["text"]

    sent, [status] = await tap(server, OFFICIAL, pick, options[0]["text"])
    assert fake.card_updates[pick["task_id"]].startswith(f"已选：{first_item} ✓ 5月24日")
    assert "当前状态" in status["main_title"]["title"] + status.get("sub_title_text", "")
    assert _buttons(status)[:5] == list(texts.STATUS_LABELS.values())

    sent, [percent] = await tap(server, OFFICIAL, status, "推进中")
    assert fake.card_updates[status["task_id"]] == "已选：推进中 ✓ 5月24日 09:00"
    assert _buttons(percent) == [label for label, _value in texts.PERCENT_BANDS]

    # The same card tapped again (a double tap, or WeCom retrying the callback): one message, nothing more.
    sent, again = await tap(server, OFFICIAL, status, "已完成")
    assert (sent, again) == ([], []) and fake.card_updates[status["task_id"]].startswith("已选：推进中")

    sent, _cards = await tap(server, OFFICIAL, percent, "约50%")
    assert fake.card_updates[percent["task_id"]].startswith("已选：约50%")
    assert any("简要说明" in t for t in sent), sent  # a task's work done is written, not tapped
    sent, [problems] = await say(server, OFFICIAL, "完成了方案初稿")
    # 困难问题 answered by typing: the next question's card closes this one.
    sent, [next_step] = await say(server, OFFICIAL, texts.CHOICE_SKIP)
    assert fake.card_updates[problems["task_id"]].startswith("已过期")
    # A tap on it in flight (before the update reached the phone) names an old question: refused, the card
    # says so, and the question now pending is asked again.
    sent, [asked_again] = await tap(server, OFFICIAL, problems, texts.CHOICE_SKIP)
    assert sent[0] == texts.K_STALE and fake.card_updates[problems["task_id"]] == texts.CARD_EXPIRED
    assert _buttons(asked_again) == _buttons(next_step)
    card = asked_again
    for _ in range(2):  # 下一步, 预计完成: 跳过; then the evidence: 跳过
        assert texts.CHOICE_SKIP in _buttons(card), card
        sent, [card] = await tap(server, OFFICIAL, card, texts.CHOICE_SKIP)
    sent, [confirm] = await tap(server, OFFICIAL, card, texts.CHOICE_SKIP)
    assert _buttons(confirm)[:3] == [texts.CHOICE_CONFIRM, texts.CHOICE_MODIFY, texts.CHOICE_CANCEL]
    sent, [follow_up] = await tap(server, OFFICIAL, confirm, texts.CHOICE_CONFIRM)
    assert fake.card_updates[confirm["task_id"]].startswith(f"已选：{texts.CHOICE_CONFIRM} ✓")
    with server.app.session_factory() as s:
        report = s.execute(select(Report).where(Report.channel == "wecom")).scalar_one()
        assert (report.status, report.percent, report.description) == (IN_PROGRESS, 50, "完成了方案初稿")

    # Next week nothing changed: 汇报, the item, 无变化, by taps.
    await tap(server, OFFICIAL, follow_up, texts.CHOICE_END)
    _sent, [pick] = await say(server, OFFICIAL, "汇报")
    _sent, [status] = await tap(server, OFFICIAL, pick, first_item)
    assert texts.CHOICE_NO_CHANGE in _buttons(status)
    sent, _cards = await tap(server, OFFICIAL, status, texts.CHOICE_NO_CHANGE)
    assert any("无变化" in t for t in sent), sent
    with server.app.session_factory() as s:
        reports = s.execute(select(Report).where(Report.channel == "wecom").order_by(Report.id)).scalars().all()
        assert len(reports) == 2 and (reports[1].status, reports[1].percent) == (IN_PROGRESS, 50)

    # No card that was answered still offers buttons; every card sent was within WeCom's limits.
    live = [c for c in fake.cards(OFFICIAL) if c["task_id"] not in fake.card_updates]
    assert len(live) <= 1, live  # only the card now waiting for an answer, if any
    assert all(cards.check_card(c) == [] for c in fake.cards())


async def test_a_newer_card_closes_the_one_not_tapped(carded: Server) -> None:
    """A question answered by typing instead of tapping: the next question's card closes the old one."""
    server, fake = carded, carded.fake
    _sent, [pick] = await say(server, OFFICIAL, "汇报")
    _sent, [status] = await say(server, OFFICIAL, "1")  # typed
    assert fake.card_updates[pick["task_id"]].startswith("已过期")
    assert status["task_id"] not in fake.card_updates


async def _review_card(server: Server) -> dict[str, Any]:
    """The card of the next report to review: 待审核, and the first report of the list picked by a tap."""
    _sent, found = await say(server, COORDINATOR, "待审核")
    card = found[-1]
    if texts.REVIEW_CHOICE_PASS not in _buttons(card):  # the queue: pick its first report
        first = card["button_selection"]["option_list"][0] if "button_selection" in card else card["button_list"][0]
        _sent, found = await tap(server, COORDINATOR, card, first["text"])
        card = found[-1]
    return card


async def test_a_coordinator_approves_and_returns_by_taps(carded: Server) -> None:
    server, fake = carded, carded.fake
    await say(server, OFFICIAL, "汇报")
    for line in ("1 推进中 60", "2 推进中 30"):  # two reports to review
        await say(server, OFFICIAL, line)
    review = await _review_card(server)
    assert _buttons(review)[:2] == [texts.REVIEW_CHOICE_PASS, texts.REVIEW_CHOICE_RETURN], review
    await tap(server, COORDINATOR, review, texts.REVIEW_CHOICE_PASS)
    assert fake.card_updates[review["task_id"]].startswith(f"已选：{texts.REVIEW_CHOICE_PASS} ✓")
    review = await _review_card(server)
    sent, _cards = await tap(server, COORDINATOR, review, texts.REVIEW_CHOICE_RETURN)
    assert any("理由" in t for t in sent), sent  # a return needs its reason, typed
    await say(server, COORDINATOR, "请补充现场照片")
    with server.app.session_factory() as s:
        states = sorted(r.review_state for r in s.execute(select(Report)).scalars())
    assert states == sorted([APPROVED, RETURNED])

    def told() -> list[str]:  # what the official was sent: messages, and the cards' words
        on_cards = [f"{c['main_title']['title']}\n{c.get('sub_title_text', '')}" for c in fake.cards(OFFICIAL)]
        return fake.sent_texts(OFFICIAL) + on_cards

    await wait_for(lambda: any("请补充现场照片" in t for t in told()), 15, what=told)  # through the outbox


async def test_a_deployment_without_cards_gets_numbered_text(carded: Server) -> None:
    server, fake = carded, carded.fake
    fake.cards_refused = True
    sent, got = await say(server, OFFICIAL, "汇报")
    assert got == [] and server.channel.cards_refused
    assert re.search(r"^1\. ", sent[-1], re.MULTILINE), sent  # the list, numbered, as before cards
    sent, got = await say(server, OFFICIAL, "1")
    assert got == [] and re.search(r"^2\. 推进中", sent[-1], re.MULTILINE), sent
    fake.cards_refused = False  # remembered: no card is tried again in this process
    sent, got = await say(server, OFFICIAL, "2")
    assert got == [] and "百分比" in sent[-1]
    assert not re.search(r"^1\. 约25%", sent[-1], re.MULTILINE)  # bands are buttons only: "1" is 1 %
    await say(server, OFFICIAL, "60")
    await say(server, OFFICIAL, "完成了方案初稿")
    for _ in range(4):
        await say(server, OFFICIAL, "跳过")
    sent, _ = await say(server, OFFICIAL, "1")  # 确认
    assert any("已提交" in t for t in sent), sent
    with server.app.session_factory() as s:
        report = s.execute(select(Report).where(Report.channel == "wecom")).scalar_one()
        assert (report.status, report.percent) == (IN_PROGRESS, 60)


def _vote(server: Server, user: str, card: dict[str, Any], picks: list[str]) -> str:
    code = server.fake.issue_response_code(user, card["task_id"])
    options = [o["id"] for o in card["checkbox"]["option_list"] if any(o["text"].startswith(p) for p in picks)]
    ids = "".join(f"<OptionId><![CDATA[{o}]]></OptionId>" for o in options)
    selected = (
        f"<SelectedItems><SelectedItem><QuestionKey><![CDATA[{card['checkbox']['question_key']}]]></QuestionKey>"
        f"<OptionIds>{ids}</OptionIds></SelectedItem></SelectedItems>"
    )
    inner = server.sim.inner(
        user,
        "event",
        Event="template_card_event",
        EventKey=card["submit_button"]["key"],
        TaskId=card["task_id"],
        CardType=card["card_type"],
        ResponseCode=code,
    )
    return inner.replace("</xml>", selected + "</xml>")


async def test_several_items_without_change_in_one_vote(carded: Server) -> None:
    """The list's second card takes several items at once: the ones ticked are filed 无变化 (an item never
    reported cannot be, and the answer says so); the vote card says how many."""
    server, fake = carded, carded.fake
    await say(server, OFFICIAL, "汇报")
    for line in ("1 推进中 60", "2 推进中 30"):
        await say(server, OFFICIAL, line)
    _sent, [pick, vote] = await say(server, OFFICIAL, "汇报")
    assert pick["card_type"] == "button_interaction" and vote["card_type"] == "vote_interaction"
    # Only the items reported before are offered (an item never reported has nothing to carry forward).
    assert [o["text"][:2] for o in vote["checkbox"]["option_list"]] == ["1.", "2."] and cards.check_card(vote) == []
    status, body = await server.sim.post(_vote(server, OFFICIAL, vote, ["1.", "2."]))
    assert (status, body) == (200, "")
    await server.channel.drain()
    said = "\n".join(fake.sent_texts(OFFICIAL)[-3:])
    assert "已为2项提交“无变化”" in said, said
    assert fake.card_updates[vote["task_id"]].startswith("已选：2项无变化 ✓")
    with server.app.session_factory() as s:
        no_change = [r for r in s.execute(select(Report).where(Report.channel == "wecom")).scalars() if r.no_change]
        assert len(no_change) == 2
    # A vote on a list that is no longer the question is refused like any old tap.
    await say(server, OFFICIAL, "取消")
    late = vote | {"task_id": vote["task_id"] + "x"}  # another tap of the same kind (the first is one message)
    status, body = await server.sim.post(_vote(server, OFFICIAL, late, ["1."]))
    await server.channel.drain()
    assert fake.sent_texts(OFFICIAL)[-1] == texts.K_STALE_IDLE
    assert fake.card_updates[late["task_id"]] == texts.CARD_EXPIRED


async def test_a_nudge_is_a_card_whose_buttons_act_as_typed(carded: Server) -> None:
    """A proactive message's choices carry no question: a tap sends the choice's value as if typed."""
    server, fake = carded, carded.fake
    nudge = Reply(
        "墨脱填报人您好，本周请汇报。", choices=[Choice(label, value) for label, value in texts.SCHED_CHOICES]
    )
    await server.channel.send(OFFICIAL, nudge)
    [card] = fake.cards(OFFICIAL)
    assert _buttons(card) == [label for label, _ in texts.SCHED_CHOICES] and card["task_id"].startswith("notice-")
    sent, [pick, *_rest] = await tap(server, OFFICIAL, card, texts.SCHED_CHOICE_REPORT)
    assert "待汇报任务" in sent[-1] and "button_selection" in pick
    assert fake.card_updates[card["task_id"]].startswith(f"已选：{texts.SCHED_CHOICE_REPORT} ✓")
    sent, _cards = await tap(server, OFFICIAL, pick, pick["button_selection"]["option_list"][0]["text"])
    leave_card = fake.cards(OFFICIAL)[0] | {"task_id": card["task_id"] + "b"}  # the nudge, tapped again later
    sent, _cards = await tap(server, OFFICIAL, leave_card, texts.SCHED_CHOICE_LEAVE)
    assert any("请假到哪天" in t for t in sent), sent
