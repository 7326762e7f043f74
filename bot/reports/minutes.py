"""会议纪要 as DOCX: the minutes of a meeting and of a ballot, a template a committee
prints and signs.

``meeting_minutes_docx(lang, minutes)`` and ``ballot_minutes_docx(lang, minutes)`` take
what ``domain.services.reports.meeting_minutes`` / ``ballot_minutes`` return and give
the bytes of a ``.docx`` file (python-docx, imported on first use). The document holds:
the title "<council> 会议纪要", the date and place, attendance (present / of the roll,
and who), the agenda, each topic with its proposals (text, author, who seconded), each
ballot's kind and rule in words, its figures (took part of the roll, per choice, per
quantity the rule counts, each condition checked), the outcome, votes by way (chat,
room, paper, home visit), and lines for the signatures of the chair and the recorder
and the date.

No document here says how anybody voted: figures are totals, whether the ballot was
secret or not (who voted what, on an open ballot, is in ``workbooks.votes_xlsx``).

Chinese text: every style's East Asian font (``w:eastAsia`` on ``w:rFonts``) is 宋体,
listed in the font table with its alternative name SimSun, so Word renders it; where
neither is installed (Linux), fontconfig substitutes a CJK face such as Noto Sans CJK SC
(OOXML names one East Asian font, with no list of fallbacks).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING

from bot.reports import wording as w
from domain.model import BallotKind, Council, Meeting, MeetingStatus
from domain.rules import Quantity
from domain.services.reports import (
    Attendee,
    BallotFigures,
    BallotMinutes,
    BallotState,
    MeetingMinutes,
    TopicRecord,
)

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument
    from docx.oxml.xmlchemy import BaseOxmlElement

EAST_ASIA_FONT = "宋体"
EAST_ASIA_ALT = "SimSun"
LATIN_FONT = "Times New Roman"
TITLE_SIZE, SUBTITLE_SIZE, BODY_SIZE = 18, 14, 12  # points
SIGNATURE_BLANK = "＿" * 10


def meeting_minutes_docx(lang: str, minutes: MeetingMinutes) -> bytes:
    """The minutes of a meeting (``reports.meeting_minutes``) as DOCX bytes."""
    doc = _Minutes(lang, minutes.council)
    doc.title()
    doc.meeting(minutes.meeting)
    if minutes.meeting.status is MeetingStatus.CANCELLED:
        doc.para(w.text(lang, "report.minutes.meeting_cancelled"), bold=True)
    doc.attendance(minutes.signed_in, minutes.attendance, minutes.roll_size)
    doc.heading(w.text(lang, "report.minutes.agenda"), 1)
    agenda = [*minutes.items]
    agenda += [
        w.text(lang, "report.minutes.agenda_topic", title=r.topic.title) for r in minutes.topics
    ]
    doc.numbered(agenda)
    if minutes.topics:
        doc.heading(w.text(lang, "report.minutes.topics"), 1)
        for n, record in enumerate(minutes.topics, 1):
            doc.topic(n, record)
    doc.signatures()
    return doc.save()


def ballot_minutes_docx(lang: str, minutes: BallotMinutes) -> bytes:
    """The minutes of one ballot (``reports.ballot_minutes``) as DOCX bytes."""
    doc = _Minutes(lang, minutes.council)
    doc.title()
    doc.subtitle(w.text(lang, "report.minutes.ballot_subtitle", title=minutes.topic.topic.title))
    if minutes.meeting is not None:
        doc.meeting(minutes.meeting)
        doc.attendance(minutes.signed_in, minutes.attendance, minutes.roll_size)
    else:
        doc.para(w.text(lang, "report.minutes.no_meeting"))
    doc.heading(w.text(lang, "report.minutes.agenda"), 1)
    doc.numbered([w.text(lang, "report.minutes.agenda_topic", title=minutes.topic.topic.title)])
    doc.heading(w.text(lang, "report.minutes.topics"), 1)
    doc.topic(1, minutes.topic)
    doc.signatures()
    return doc.save()


class _Minutes:
    """One document being written, in one language, for one council."""

    def __init__(self, lang: str, council: Council) -> None:
        from docx import Document

        self.lang = lang
        self.council = council
        self.doc: DocxDocument = Document()
        _cjk_styles(self.doc)

    def t(self, key: str, **params: object) -> str:
        return w.text(self.lang, key, **params)

    def when(self, at: object) -> str:
        from datetime import datetime

        assert at is None or isinstance(at, datetime)
        return w.moment(at, self.council.timezone)

    # --- paragraphs ---------------------------------------------------------------

    def para(
        self, text: str, *, bold: bool = False, size: int = BODY_SIZE, center: bool = False
    ) -> None:
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.shared import Pt

        paragraph = self.doc.add_paragraph()
        if center:
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = paragraph.add_run(text)
        run.bold = bold
        run.font.size = Pt(size)
        _cjk(run._element.get_or_add_rPr())

    def heading(self, text: str, level: int) -> None:
        paragraph = self.doc.add_heading(level=level)
        run = paragraph.add_run(text)
        _cjk(run._element.get_or_add_rPr())

    def numbered(self, lines: Sequence[str]) -> None:
        if not lines:
            self.para(self.t("report.minutes.none"))
        for n, line in enumerate(lines, 1):
            self.para(f"{n}. {line}")

    def title(self) -> None:
        self.para(
            self.t("report.minutes.title", council=self.council.title),
            bold=True,
            size=TITLE_SIZE,
            center=True,
        )

    def subtitle(self, text: str) -> None:
        self.para(text, bold=True, size=SUBTITLE_SIZE, center=True)

    # --- sections ---------------------------------------------------------------------

    def meeting(self, meeting: Meeting) -> None:
        self.para(self.t("report.minutes.time", when=self.when(meeting.starts_at)))
        online = self.t("report.minutes.online")
        place = meeting.place or online
        if meeting.online and meeting.place:
            place = f"{meeting.place} / {online}"
        self.para(self.t("report.minutes.place", place=place))

    def attendance(self, signed_in: bool, present: Sequence[Attendee], roll: int) -> None:
        if not signed_in:
            self.para(self.t("report.minutes.no_sign_in"))
            return
        self.para(self.t("report.minutes.attendance", present=len(present), roll=roll))
        if present:
            names = self.t("report.minutes.list_sep").join(
                self.t("report.minutes.attendee", name=a.name, household=a.household)
                for a in present
            )
            self.para(self.t("report.minutes.attendees", names=names))

    def topic(self, n: int, record: TopicRecord) -> None:
        self.heading(self.t("report.minutes.topic", n=n, title=record.topic.title), 2)
        if record.topic.description:
            self.para(self.t("report.minutes.description", text=record.topic.description))
        self.para(self.t("report.minutes.proposals"), bold=True)
        if not record.proposals:
            self.para(self.t("report.minutes.none"))
        for i, proposal in enumerate(record.proposals, 1):
            self.para(
                self.t("report.minutes.proposal", n=i, text=proposal.text, author=proposal.author)
            )
            if proposal.seconded_by:
                names = self.t("report.minutes.list_sep").join(proposal.seconded_by)
                self.para(self.t("report.minutes.seconds", count=proposal.seconds, names=names))
            else:
                self.para(self.t("report.minutes.no_seconds"))
        for i, figures in enumerate(record.ballots, 1):
            self.ballot(i, figures)

    def ballot(self, n: int, figures: BallotFigures) -> None:
        lang, ballot = self.lang, figures.ballot
        kind = self.t(f"report.kind.{ballot.kind.value}")
        secrecy = self.t("report.secrecy.secret" if ballot.secret else "report.secrecy.open")
        self.para(self.t("report.minutes.ballot", n=n, kind=kind, secrecy=secrecy), bold=True)
        rule = ballot.rule
        self.para(self.t("report.minutes.rule", name=w.rule_name(lang, rule)))
        self.para(self.t("report.minutes.quorum", conditions=w.conditions(lang, rule.quorum)))
        self.para(self.t("report.minutes.passing", conditions=w.conditions(lang, rule.passing)))
        end = (
            self.t("report.minutes.still_open")
            if ballot.closed_at is None
            else self.when(ballot.closed_at)
        )
        self.para(self.t("report.minutes.period", start=self.when(ballot.opened_at), end=end))
        outcome = figures.outcome
        if figures.state is BallotState.CANCELLED or outcome is None:
            self.para(self.t("report.minutes.cancelled"))
            return
        head = outcome.tallies[Quantity.HEADCOUNT]
        share = head.participants / head.roll if head.roll > 0 else Fraction(0)
        self.para(
            self.t(
                "report.minutes.took_part",
                took=w.number(head.participants),
                roll=w.number(head.roll),
                percent=w.percent(share),
            )
        )
        if ballot.kind is BallotKind.MOTION:
            self.para(
                self.t(
                    "report.minutes.figures",
                    for_=w.number(head.for_),
                    against=w.number(head.against),
                    abstain=w.number(head.abstain),
                )
            )
            for quantity, tally in outcome.tallies.items():
                if quantity is Quantity.HEADCOUNT:
                    continue
                self.para(
                    self.t(
                        "report.minutes.quantity_figure",
                        quantity=w.quantity(lang, quantity),
                        took=w.number(tally.participants, quantity),
                        roll=w.number(tally.roll, quantity),
                        for_=w.number(tally.for_, quantity),
                        against=w.number(tally.against, quantity),
                        abstain=w.number(tally.abstain, quantity),
                    )
                )
        else:
            for i, option in enumerate(ballot.options, 1):
                votes = outcome.option_totals.get(option.key, {}).get(
                    Quantity.HEADCOUNT, Fraction(0)
                )
                self.para(
                    self.t(
                        "report.minutes.option_figure",
                        n=i,
                        text=option.label,
                        count=w.number(votes),
                    )
                )
            self.para(self.t("report.minutes.abstain_figure", count=w.number(head.abstain)))
        checks = (*outcome.quorum_checks, *outcome.pass_checks)
        if checks:
            self.para(self.t("report.minutes.checks"))
            for check in checks:
                quantity = check.condition.quantity
                self.para(
                    self.t(
                        "report.minutes.check",
                        mark="✔" if check.met else "✘",
                        condition=w.condition(lang, check.condition),
                        value=w.number(check.value, quantity),
                        base=w.number(check.base, quantity),
                    )
                )
        if figures.provisional:
            self.para(self.t("report.minutes.provisional"), bold=True)
        else:
            self.para(
                self.t("report.minutes.outcome", result=w.result(lang, outcome.result)), bold=True
            )
            if outcome.winner is not None:
                self.para(
                    self.t("report.minutes.winner", option=w.choice(lang, ballot, outcome.winner))
                )
        ways = self.t("report.minutes.list_sep").join(
            self.t("report.minutes.source", source=w.source(lang, way), count=count)
            for way, count in figures.sources.items()
        )
        self.para(self.t("report.minutes.sources", sources=ways or self.t("report.minutes.none")))

    def signatures(self) -> None:
        self.para("")
        self.para(
            f"{self.t('report.minutes.chair')}{SIGNATURE_BLANK}　　"
            f"{self.t('report.minutes.recorder')}{SIGNATURE_BLANK}"
        )
        self.para(f"{self.t('report.minutes.date')}{SIGNATURE_BLANK}")

    def save(self) -> bytes:
        out = io.BytesIO()
        self.doc.save(out)
        return out.getvalue()


# --- fonts --------------------------------------------------------------------------


def _cjk(rpr: BaseOxmlElement) -> None:
    """Give a run's (or a style's) properties the Latin and East Asian fonts, in place
    of the theme's (a theme font would win over a named one)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)
    fonts.set(qn("w:ascii"), LATIN_FONT)
    fonts.set(qn("w:hAnsi"), LATIN_FONT)
    fonts.set(qn("w:cs"), LATIN_FONT)
    fonts.set(qn("w:eastAsia"), EAST_ASIA_FONT)
    fonts.set(qn("w:hint"), "eastAsia")


def _cjk_styles(doc: DocxDocument) -> None:
    """The East Asian font on the document's defaults and on every style that names
    fonts; black headings (a signed paper, not a web page); 宋体 in the font table,
    with SimSun as its other name."""
    from docx.opc.oxml import serialize_part_xml
    from docx.oxml import OxmlElement, parse_xml
    from docx.oxml.ns import qn
    from docx.shared import RGBColor

    styles = doc.styles.element
    for fonts in list(styles.iter(qn("w:rFonts"))):  # defaults, styles, table styles' parts
        _cjk(fonts.getparent())
    _cjk(doc.styles["Normal"].element.get_or_add_rPr())
    for name in ("Heading 1", "Heading 2"):
        doc.styles[name].font.color.rgb = RGBColor(0, 0, 0)
    for part in doc.part.package.iter_parts():
        if str(part.partname) != "/word/fontTable.xml":
            continue
        root = parse_xml(part.blob)
        font = OxmlElement("w:font", {qn("w:name"): EAST_ASIA_FONT})
        for tag, value in (("w:altName", EAST_ASIA_ALT), ("w:charset", "86"), ("w:family", "auto")):
            font.append(OxmlElement(tag, {qn("w:val"): value}))  # 86: GB2312
        root.append(font)
        part._blob = serialize_part_xml(root)
