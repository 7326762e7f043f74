"""Small pure parts of the front end: the catalogues, button signing, /ballot arguments."""

from __future__ import annotations

import string

import pytest

from bot.telegram.buttons import MAX_BYTES, Signer
from bot.telegram.handlers.ballots import parse_ballot_args
from bot.telegram.i18n import EN_US, ZH_CN, Markup, language_of, t
from bot.telegram.texts_en import EN
from bot.telegram.texts_zh import ZH
from domain import errors
from domain.model import BallotKind


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_languages_have_every_message_with_the_same_placeholders() -> None:
    assert set(ZH) == set(EN)
    for key in ZH:
        assert _fields(ZH[key]) == _fields(EN[key]), key


def test_user_text_is_escaped_but_markup_is_not() -> None:
    assert t(ZH_CN, "join.done", name="<b>&", household="1-1", council="x") == (
        "✅ &lt;b&gt;&amp;（1-1）已加入「x」名册，可以参与表决。"
    )
    assert "<b>" in t(EN_US, "ballot.rule", rule=Markup("<b>simple</b>"))


@pytest.mark.parametrize(
    ("code", "expected"),
    [("zh-hans", ZH_CN), ("zh-TW", ZH_CN), ("en-GB", EN_US), (None, ZH_CN), ("fr", ZH_CN)],
)
def test_language_follows_the_telegram_language_code(code: str | None, expected: str) -> None:
    assert language_of(code) == expected


def test_signed_button_data_round_trips_and_forgeries_are_refused() -> None:
    signer = Signer(b"secret")
    data = signer.data("v", 123456789, "p123456789")
    assert len(data.encode()) <= MAX_BYTES
    press = signer.parse(data)
    assert press is not None and (press.action, press.target, press.arg) == (
        "v",
        123456789,
        "p123456789",
    )
    action, target, arg, mac = data.split(":")
    for forged in (
        f"{action}:{int(target) + 1}:{arg}:{mac}",  # another ballot
        f"{action}:{target}:for:{mac}",  # another choice
        f"{action}:{target}:{arg}",  # no signature
        Signer(b"other").data("v", 123456789, "p123456789"),  # another key
        "",
        "x" * 65,
    ):
        assert signer.parse(forged) is None


def test_ballot_arguments_in_any_order_and_in_chinese() -> None:
    args = parse_ballot_args(["无记名", "two-thirds", "#3", "5"])
    assert args.kind is BallotKind.OPTIONS
    assert args.secret and args.rule_name == "two-thirds" and args.proposal_ids == [3, 5]
    assert parse_ballot_args(["居民会议"]).rule_name == "residents-meeting"
    assert parse_ballot_args([]).kind is BallotKind.MOTION
    with pytest.raises(errors.InvalidInput) as refused:
        parse_ballot_args(["whenever"])
    assert refused.value.params["value"] == "whenever"
