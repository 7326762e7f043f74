"""Real rows for every table of every schema revision, for the migration tests.

``SEEDS[revision]`` fills the tables that ``revision`` created (a council of the
pocket garden: its roll, a topic with proposals and seconds, a ballot with votes
and their history, a meeting, notices, volunteers, tasks, offers and hours).
A migration that adds a table must add its seed here: the tests refuse a
revision that leaves a table empty, so every migration is tested with data in
every table. A migration that adds columns to an older table seeds more rows of
that table, with the new columns filled.

Rows are written with SQLAlchemy Core on tables reflected from the database as
that revision left it, never through ``storage.orm`` (which is the newest
schema).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import MetaData, Table, text
from sqlalchemy.engine import Connection

from domain.rules import Voter, decide, preset

T0 = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
CHAIR = 7_000_000_001
RULE = dict(preset("simple").to_dict())
# The pocket garden's outcome, as the rule engine decided it.
OUTCOME = dict(
    decide(
        preset("simple"),
        [Voter(str(m), f"h{m}") for m in (1, 2, 3, 4, 5)],
        {str(m): "p1" for m in (1, 2, 3, 4, 5)},
        options=["p1", "p2"],
    ).to_dict()
)

Rows = Mapping[str, list[dict[str, Any]]]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _0001() -> Rows:
    people = [
        (1, 8_001, "张阿姨", "3", "2", "301", "85.50"),
        (2, 8_002, "李叔叔", "3", "2", "402", "92.00"),
        (3, 8_003, "刘大姐", "5", "1", "101", "76.30"),
        (4, 8_004, "陈师傅", "5", "1", "202", "88.00"),
        (5, 8_005, "赵奶奶", "6", "3", "501", "64.80"),
    ]
    return {
        "councils": [
            {
                "id": 1,
                "chat_id": -100_200_300,
                "thread_id": 0,
                "title": "杨家园社区小院议事会",
                "rule": RULE,
                "timezone": "Asia/Shanghai",
                "language": "zh-CN",
                "require_approval": False,
                "created_at": T0,
            },
            {
                "id": 2,
                "chat_id": -100_200_301,
                "thread_id": 7,
                "title": "幸福里社区议事会",
                "rule": RULE,
                "timezone": "Asia/Shanghai",
                "language": "en",
                "require_approval": True,
                "created_at": at(1),
            },
        ],
        "council_chairs": [
            {"council_id": 1, "user_id": CHAIR},
            {"council_id": 2, "user_id": CHAIR},
        ],
        "members": [
            {
                "id": member_id,
                "council_id": 1,
                "user_id": user_id,
                "name": name,
                "building": building,
                "unit": unit,
                "room": room,
                "household": f"{building}-{unit}-{room}",
                "area": Decimal(area),
                "status": "active",
                "language": "zh-hans",
                "joined_at": at(member_id),
            }
            for member_id, user_id, name, building, unit, room, area in people
        ],
        "topics": [
            {
                "id": 1,
                "council_id": 1,
                "title": "拆除违建后空出的空地做什么？",
                "description": "约 300 平方米空地",
                "opened_by": CHAIR,
                "opened_at": at(10),
                "phase": "decided",
                "deadline": None,
                "decided_at": at(90),
                "result": "passed",
                "card_ref": 11,
            },
            {
                "id": 2,
                "council_id": 1,
                "title": "口袋花园由谁来维护？",
                "description": "",
                "opened_by": CHAIR,
                "opened_at": at(100),
                "phase": "collecting",
                "deadline": at(4_000),
                "decided_at": None,
                "result": None,
                "card_ref": 21,
            },
        ],
        "proposals": [
            {"id": 1, "topic_id": 1, "author_id": 1, "text": "建口袋花园", "created_at": at(20)},
            {"id": 2, "topic_id": 1, "author_id": 2, "text": "改成停车场", "created_at": at(21)},
        ],
        "seconds": [
            {"proposal_id": 1, "member_id": 3, "at": at(30)},
            {"proposal_id": 1, "member_id": 4, "at": at(31)},
            {"proposal_id": 2, "member_id": 5, "at": at(32)},
        ],
        "ballots": [
            {
                "id": 1,
                "topic_id": 1,
                "council_id": 1,
                "kind": "options",
                "question": "空地做什么？",
                "options": [
                    {"key": "p1", "label": "建口袋花园", "proposal_id": 1},
                    {"key": "p2", "label": "改成停车场", "proposal_id": 2},
                ],
                "rule": RULE,
                "secret": False,
                "opened_by": CHAIR,
                "opened_at": at(40),
                "deadline": at(80),
                "closed_at": at(90),
                "outcome": OUTCOME,
                "message_ref": 12,
                "rendered_seq": 6,
            }
        ],
        "votes": [
            {"ballot_id": 1, "member_id": m, "choice": "p1", "cast_at": at(40 + m)}
            for m in (1, 2, 3, 4, 5)
        ],
        "vote_events": [
            {
                "id": m,
                "ballot_id": 1,
                "member_id": m,
                "choice": "p2" if m == 2 else "p1",
                "previous": None,
                "at": at(40 + m),
            }
            for m in (1, 2, 3, 4, 5)
        ]
        + [
            {
                "id": 6,
                "ballot_id": 1,
                "member_id": 2,
                "choice": "p1",
                "previous": "p2",
                "at": at(50),
            }
        ],
        "resolutions": [
            {
                "id": 1,
                "council_id": 1,
                "topic_id": 1,
                "ballot_id": 1,
                "result": "passed",
                "summary": "建口袋花园",
                "recorded_at": at(90),
                "winner": "p1",
            }
        ],
        "drafts": [{"user_id": 8_003, "topic_id": 2, "text": "请物业负责", "updated_at": at(110)}],
        "processed_updates": [
            {"key": "update:41", "seen_at": at(40)},
            {"key": "job:ballot_close:1:v0:1", "seen_at": at(90)},
        ],
    }


def _0002() -> Rows:
    return {
        "meetings": [
            {
                "id": 1,
                "council_id": 1,
                "starts_at": at(5_000),
                "place": "社区活动室",
                "online": False,
                "scheduled_by": CHAIR,
                "changed_at": at(120),
                "items": ["口袋花园施工安排"],
                "topic_ids": [2],
                "status": "scheduled",
                "version": 1,
                "message_ref": 31,
            }
        ],
        "notices": [
            {
                "id": 1,
                "key": "ballot:1:outcome",
                "kind": "ballot_outcome",
                "council_id": 1,
                "chat_id": -100_200_300,
                "thread_id": 0,
                "private": False,
                "subject": 1,
                "params": {"late": False},
                "state": "sent",
                "attempts": 1,
                "not_before": None,
                "created_at": at(90),
                "claimed_at": at(90),
                "sent_at": at(91),
                "message_ref": 13,
            },
            {
                "id": 2,
                "key": "job:meeting_reminder:1:1440:v1",
                "kind": "meeting_reminder",
                "council_id": 1,
                "chat_id": -100_200_300,
                "thread_id": 0,
                "private": False,
                "subject": 1,
                "params": {"offset": 1440, "version": 1},
                "state": "pending",
                "attempts": 0,
                "not_before": at(3_560),
                "created_at": at(120),
                "claimed_at": None,
                "sent_at": None,
                "message_ref": None,
            },
        ],
        "contacts": [
            {"user_id": 8_003, "reachable": True, "updated_at": at(110)},
            {"user_id": 8_005, "reachable": False, "updated_at": at(111)},
        ],
    }


def _0003() -> Rows:
    return {
        "teams": [{"id": 1, "council_id": 1, "name": "畅大妈志愿服务队", "leader_member_ids": [4]}],
        "units": [
            {
                "id": 1,
                "council_id": 1,
                "name": "社区卫生服务站",
                "contact_user_ids": [8_004],
                "services": ["健康"],
            }
        ],
        "volunteers": [
            {
                "council_id": 1,
                "member_id": member_id,
                "skills": ["维修", "跑腿"],
                "grid": "5",
                "team_id": 1,
                "available": True,
                "registered_at": at(200 + member_id),
            }
            for member_id in (3, 4)
        ],
        "tasks": [
            {
                "id": 1,
                "council_id": 1,
                "title": "卫生间水管漏水",
                "description": "老人独居，请帮忙看看",
                "skill": "维修",
                "grid": "6",
                "place": "6-3-501",
                "source": "request",
                "topic_id": None,
                "requester_member_id": 5,
                "unit_id": None,
                "team_id": None,
                "member_ids": [],
                "due": None,
                "state": "done",
                "round": 1,
                "accepted_by": 4,
                "accepted_at": at(230),
                "closed_at": at(260),
                "hours": Decimal("0.50"),
                "photo": None,
                "note": "换了阀门",
                "confirmed": True,
                "card_ref": None,
                "created_by": 8_005,
                "created_at": at(220),
            },
            {
                "id": 2,
                "council_id": 1,
                "title": "铺设地面",
                "description": "",
                "skill": None,
                "grid": "",
                "place": "",
                "source": "resolution",
                "topic_id": 1,
                "requester_member_id": None,
                "unit_id": 1,
                "team_id": 1,
                "member_ids": [3],
                "due": at(10_000),
                "state": "offered",
                "round": 1,
                "accepted_by": None,
                "accepted_at": None,
                "closed_at": None,
                "hours": Decimal("0"),
                "photo": "AgACAgUAAx0",
                "note": "",
                "confirmed": False,
                "card_ref": 41,
                "created_by": CHAIR,
                "created_at": at(300),
            },
        ],
        "offers": [
            {
                "id": 1,
                "task_id": 1,
                "member_id": 3,
                "round": 1,
                "offered_at": at(221),
                "expires_at": at(251),
                "state": "declined",
                "answered_at": at(225),
                "message_ref": 5,
            },
            {
                "id": 2,
                "task_id": 1,
                "member_id": 4,
                "round": 1,
                "offered_at": at(221),
                "expires_at": at(251),
                "state": "accepted",
                "answered_at": at(230),
                "message_ref": 6,
            },
        ],
        "service_hours": [
            {
                "task_id": 1,
                "council_id": 1,
                "member_id": 4,
                "team_id": 1,
                "hours": Decimal("0.50"),
                "at": at(260),
            }
        ],
    }


def _0004() -> Rows:
    press = {
        "update_id": 900_001,
        "callback_query": {"id": "q1", "from": {"id": 8_001, "is_bot": False, "first_name": "张"}},
    }
    return {
        "inbox": [
            {
                "id": 1,
                "bot_id": 123_456_789,
                "update_id": 900_001,
                "payload": press,
                "received_at": at(300),
                "claimed_by": 77,
                "handled_at": at(301),
            },
            {
                "id": 2,
                "bot_id": 123_456_789,
                "update_id": 900_002,
                "payload": {"update_id": 900_002, "message": {"message_id": 3, "text": "/roll"}},
                "received_at": at(302),
                "claimed_by": None,
                "handled_at": None,
            },
        ]
    }


def _0005() -> Rows:
    """Proposals that remember the message that made them and the one announcing them
    (0005 adds the columns to a table of 0001: its rows stay, the new ones join them)."""
    return {
        "proposals": [
            {
                "id": 3,
                "topic_id": 1,
                "author_id": 3,
                "text": "修长椅和路灯",
                "created_at": at(400),
                "source_ref": 31,
                "message_ref": 32,
            },
            {
                "id": 4,
                "topic_id": 1,
                "author_id": 4,
                "text": "私聊写的提案",
                "created_at": at(401),
                "source_ref": None,
                "message_ref": 33,
            },
        ]
    }


def _0006() -> Rows:
    """Accounts of other messengers beside the Telegram ones 0006 made from
    ``members.user_id`` (members 1-5): 张阿姨 on WeCom too, a resident on WeCom only
    (a roll row without a Telegram account), and a web account whose id reads like
    李叔叔's Telegram id but is another account."""
    return {
        "members": [
            {
                "id": 6,
                "council_id": 1,
                "user_id": None,
                "name": "王老师",
                "building": "6",
                "unit": "3",
                "room": "502",
                "household": "6-3-502",
                "area": Decimal("70.20"),
                "status": "active",
                "language": "zh-hans",
                "joined_at": at(500),
            }
        ],
        "member_accounts": [
            {"member_id": 1, "messenger": "wecom", "council_id": 1, "account_id": "zhang.ayi"},
            {"member_id": 2, "messenger": "web", "council_id": 1, "account_id": "8002"},
            {"member_id": 6, "messenger": "wecom", "council_id": 1, "account_id": "wang.laoshi"},
        ],
    }


def _0007() -> Rows:
    """The roll the community keeps: a council that takes no self-joins, a participant
    with a phone, staff and their roles' history, co-owned and unverified flats beside
    the ones 0007 made from ``members``, an import waiting for its confirm button, and
    binding codes (one used) with the attempts that tried them."""
    return {
        "councils": [
            {
                "id": 3,
                "chat_id": -100_200_302,
                "thread_id": 0,
                "title": "畅园社区议事会",
                "rule": RULE,
                "timezone": "Asia/Shanghai",
                "language": "zh-CN",
                "require_approval": True,
                "created_at": at(600),
                "meeting_reminders": [1440, 60],
                "ballot_nudge": 120,
                "skills": [],
                "offer_minutes": 30,
                "offer_round": 3,
                "self_join": False,
            }
        ],
        "members": [
            {
                "id": 7,
                "council_id": 1,
                "user_id": 8_007,
                "name": "物业公司联系人",
                "building": "",
                "unit": "",
                "room": "",
                "household": "",
                "area": Decimal(0),
                "status": "active",
                "language": "zh-hans",
                "joined_at": at(601),
                "voting": False,
                "phone": "13800000007",
            },
            {
                "id": 8,
                "council_id": 1,
                "user_id": None,
                "name": "张叔叔",
                "building": "3",
                "unit": "2",
                "room": "301",
                "household": "3-2-301",
                "area": Decimal("85.50"),
                "status": "active",
                "language": None,
                "joined_at": at(602),
                "voting": True,
                "phone": None,
            },
        ],
        "council_staff": [{"council_id": 1, "user_id": 8_009}, {"council_id": 3, "user_id": CHAIR}],
        "role_events": [
            {
                "id": 1,
                "council_id": 1,
                "user_id": 8_009,
                "member_id": None,
                "role": "staff",
                "granted": True,
                "by_user": CHAIR,
                "at": at(603),
            },
            {
                "id": 2,
                "council_id": 1,
                "user_id": 8_007,
                "member_id": 7,
                "role": "participant",
                "granted": True,
                "by_user": CHAIR,
                "at": at(604),
            },
        ],
        "member_flats": [
            # 张叔叔 co-owns 张阿姨's flat (its area repeated), and owns another one.
            {
                "id": 100,
                "council_id": 1,
                "member_id": 8,
                "household": "3-2-301",
                "area": Decimal("85.50"),
                "verified": True,
            },
            {
                "id": 101,
                "council_id": 1,
                "member_id": 8,
                "household": "3-2-302",
                "area": Decimal("60.00"),
                "verified": False,
            },
        ],
        "roster_imports": [
            {
                "id": 1,
                "council_id": 1,
                "user_id": CHAIR,
                "file_name": "名册.xlsx",
                "digest": "ab" * 32,
                "plan": {"added": [{"row": 2, "name": "孙阿姨"}], "changed": [], "removed": []},
                "status": "pending",
                "created_at": at(605),
                "decided_at": None,
            }
        ],
        "binding_codes": [
            {
                "id": 1,
                "council_id": 1,
                "member_id": 8,
                "digest": "cd" * 32,
                "created_at": at(606),
                "expires_at": at(606 + 30 * 24 * 60),
                "used_at": None,
                "used_by": None,
            },
            {
                "id": 2,
                "council_id": 1,
                "member_id": 6,
                "digest": "ef" * 32,
                "created_at": at(606),
                "expires_at": at(606 + 30 * 24 * 60),
                "used_at": at(607),
                "used_by": 8_006,
            },
        ],
        "binding_attempts": [
            {"id": 1, "user_id": 8_006, "at": at(607), "ok": True},
            {"id": 2, "user_id": 8_066, "at": at(608), "ok": False},
        ],
    }


def _0008() -> Rows:
    """Votes from the meeting room and the doorstep beside the ones pressed in the chat
    (0008 gives those ``source`` chat): 王老师's paper ballot, 张叔叔's vote entered
    after a home visit then changed in the room, a meeting's sign-in with members who
    checked in and one a chair marked, and a paper upload waiting for its confirm."""
    return {
        "votes": [
            {
                "ballot_id": 1,
                "member_id": 6,
                "choice": "p1",
                "cast_at": at(60),
                "source": "paper",
                "recorded_by": 8_009,
            },
            {
                "ballot_id": 1,
                "member_id": 8,
                "choice": "p2",
                "cast_at": at(70),
                "source": "room",
                "recorded_by": CHAIR,
            },
        ],
        "vote_events": [
            {
                "id": 7,
                "ballot_id": 1,
                "member_id": 6,
                "choice": "p1",
                "previous": None,
                "at": at(60),
                "source": "paper",
                "recorded_by": 8_009,
                "reason": "纸质票.xlsx",
            },
            {
                "id": 8,
                "ballot_id": 1,
                "member_id": 8,
                "choice": "p1",
                "previous": None,
                "at": at(65),
                "source": "assisted",
                "recorded_by": 8_009,
                "reason": "入户走访，本人口述",
            },
            {
                "id": 9,
                "ballot_id": 1,
                "member_id": 8,
                "choice": "p2",
                "previous": "p1",
                "at": at(70),
                "source": "room",
                "recorded_by": CHAIR,
                "reason": None,
            },
        ],
        "sign_ins": [
            {
                "meeting_id": 1,
                "council_id": 1,
                "opened_by": CHAIR,
                "opened_at": at(5_000),
                "closed_at": at(5_090),
                "message_ref": 51,
            }
        ],
        "attendance": [
            {"meeting_id": 1, "member_id": 1, "at": at(5_001), "by_user": None},
            {"meeting_id": 1, "member_id": 2, "at": at(5_002), "by_user": None},
            {"meeting_id": 1, "member_id": 6, "at": at(5_003), "by_user": CHAIR},
        ],
        "paper_uploads": [
            {
                "id": 1,
                "ballot_id": 1,
                "council_id": 1,
                "user_id": 8_009,
                "file_name": "纸质票.csv",
                "digest": "12" * 32,
                "plan": {"votes": [{"row": 2, "member_id": 6, "choice": "p1"}], "errors": []},
                "status": "pending",
                "created_at": at(80),
                "decided_at": None,
            }
        ],
    }


def _0009() -> Rows:
    """The web: a used console link of the chair's, a household's login key (revoked and
    reissued), a resident's browser signed in by it, a chair's by the link, and the
    audit trail of both with a refused key."""
    return {
        "web_links": [
            {
                "id": 1,
                "council_id": 1,
                "user_id": CHAIR,
                "digest": "a1" * 32,
                "created_at": at(9_000),
                "expires_at": at(9_010),
                "used_at": at(9_001),
            }
        ],
        "login_keys": [
            {
                "id": 1,
                "council_id": 1,
                "member_id": 6,
                "digest": "b1" * 32,
                "created_at": at(9_000),
                "created_by": CHAIR,
                "revoked_at": at(9_005),
            },
            {
                "id": 2,
                "council_id": 1,
                "member_id": 6,
                "digest": "b2" * 32,
                "created_at": at(9_005),
                "created_by": CHAIR,
                "revoked_at": None,
            },
        ],
        "web_sessions": [
            {
                "id": 1,
                "digest": "c1" * 32,
                "council_id": 1,
                "kind": "staff",
                "user_id": CHAIR,
                "member_id": None,
                "via": "link",
                "key_id": None,
                "created_at": at(9_001),
                "expires_at": at(9_001 + 12 * 60),
                "revoked_at": None,
            },
            {
                "id": 2,
                "digest": "c2" * 32,
                "council_id": 1,
                "kind": "resident",
                "user_id": None,
                "member_id": 6,
                "via": "key",
                "key_id": 2,
                "created_at": at(9_006),
                "expires_at": at(9_006 + 180 * 24 * 60),
                "revoked_at": None,
            },
        ],
        "web_access": [
            {
                "id": 1,
                "at": at(9_001),
                "kind": "link_used",
                "ok": True,
                "council_id": 1,
                "member_id": None,
                "user_id": CHAIR,
                "client": "127.0.0.1",
                "detail": None,
            },
            {
                "id": 2,
                "at": at(9_004),
                "kind": "key_refused",
                "ok": False,
                "council_id": None,
                "member_id": None,
                "user_id": None,
                "client": "192.0.2.7",
                "detail": "unknown",
            },
            {
                "id": 3,
                "at": at(9_006),
                "kind": "key_used",
                "ok": True,
                "council_id": 1,
                "member_id": 6,
                "user_id": None,
                "client": "192.0.2.8",
                "detail": None,
            },
        ],
    }


SEEDS: dict[str, Callable[[], Rows]] = {
    "0001": _0001,
    "0002": _0002,
    "0003": _0003,
    "0004": _0004,
    "0005": _0005,
    "0006": _0006,
    "0007": _0007,
    "0008": _0008,
    "0009": _0009,
}


def tables(connection: Connection) -> dict[str, Table]:
    metadata = MetaData()
    metadata.reflect(connection)
    return {name: table for name, table in metadata.tables.items() if name != "alembic_version"}


def seed(connection: Connection, revision: str) -> None:
    """Insert the rows of the tables ``revision`` created, parents first."""
    known = tables(connection)
    for name, rows in SEEDS[revision]().items():
        connection.execute(known[name].insert(), rows)
    if connection.dialect.name == "postgresql":
        # Explicit ids do not advance the sequences; new rows after the upgrade must fit.
        for name, table in known.items():
            if "id" in table.c and table.c.id.autoincrement is not False:
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'),"
                        f" (SELECT coalesce(max(id), 0) + 1 FROM {name}), false)"
                    )
                )


Snapshot = dict[str, list[dict[str, Any]]]


def snapshot(connection: Connection) -> Snapshot:
    """Every row of every table, ordered by primary key."""
    found: Snapshot = {}
    for name, table in tables(connection).items():
        order = list(table.primary_key.columns) or list(table.c)
        rows = connection.execute(table.select().order_by(*order)).mappings()
        found[name] = [dict(row) for row in rows]
    return found
