"""Small pure parts of the front end: the catalogues, button signing, /ballot arguments."""

from __future__ import annotations

import re
import string
from html.parser import HTMLParser

import pytest
from babel.messages.pofile import read_po

from bot.i18n import (
    EN_US,
    LOCALES,
    ZH_CN,
    Markup,
    Text,
    catalogue,
    language_of,
    languages,
    t,
)
from bot.telegram.buttons import MAX_BYTES, Signer
from bot.telegram.handlers.ballots import parse_ballot_args
from domain import errors
from domain.model import BallotKind


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _forms(text: Text) -> tuple[str, ...]:
    return text if isinstance(text, tuple) else (text,)


PLURAL_FORMS = {ZH_CN: 1, EN_US: 2}  # Chinese: one form; English: one, other


def test_both_catalogues_exist_and_each_reads_strictly() -> None:
    assert languages()[:2] == (ZH_CN, EN_US)
    for language in languages():
        path = LOCALES / language.replace("-", "_") / "LC_MESSAGES" / "messages.po"
        with path.open("rb") as po:
            read = read_po(po, abort_invalid=True)
        assert read.num_plurals == PLURAL_FORMS.get(language, read.num_plurals), language
        assert not [m.id for m in read if m.id and m.fuzzy], f"{language}: fuzzy entries"
        for message in read:
            if isinstance(message.id, tuple):
                forms = message.string
                assert isinstance(forms, tuple), (language, message.id)
                assert len(forms) == read.num_plurals, (language, message.id)


@pytest.mark.parametrize("language", [lang for lang in languages() if lang != ZH_CN])
def test_every_language_has_every_message_with_the_same_placeholders(language: str) -> None:
    zh, other = catalogue(ZH_CN), catalogue(language)
    assert set(zh) == set(other)
    for key, text in zh.items():
        assert isinstance(text, tuple) == isinstance(other[key], tuple), f"{key}: plural in one"
        expected = _fields(_forms(text)[0])
        for form in _forms(text) + _forms(other[key]):
            assert _fields(form) == expected, (key, form)
        if isinstance(text, tuple):
            assert len(text) == PLURAL_FORMS[ZH_CN], key
            assert len(_forms(other[key])) == PLURAL_FORMS.get(language, len(other[key])), key


# What Telegram's parse_mode=HTML accepts; every other "<", ">" or "&" must be escaped.
TELEGRAM_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
    "blockquote", "tg-spoiler", "tg-emoji", "span",
}  # fmt: skip


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TELEGRAM_TAGS:
            self.errors.append(f"<{tag}> is not Telegram HTML")
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.errors.append(f"</{tag}> closes nothing open")


@pytest.mark.parametrize("language", [ZH_CN, EN_US])
def test_every_text_is_html_telegram_accepts(language: str) -> None:
    for key, text in catalogue(language).items():
        for form in _forms(text):
            tags = _Tags()
            tags.feed(form)
            tags.close()
            assert not tags.errors and not tags.open, (key, form, tags.errors, tags.open)
            bare = re.sub(r"</?[a-z-]+(\s[^<>]*)?>", "", form)
            assert "<" not in bare and ">" not in bare, (key, form)
            assert not re.search(r"&(?!(amp|lt|gt|quot|#\d+);)", form), (key, form)


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
