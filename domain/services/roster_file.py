"""The roll as the community keeps it in a spreadsheet (名册导入): a roll file read row by
row, checked against the roll (the dry-run diff, a :class:`Plan`), and the roll written
back as rows of the same columns.

**Columns**, named in the first non-blank row in Chinese or English, in any order
(other columns are ignored): 姓名/name, 地址/房号/address (building-unit-room, as
``/join`` reads it), 面积/area (the flat's registered area), 身份/类型/role (业主/owner,
住户/resident, 开发商/developer), and optionally 电话/phone, 编号/id and 核实/verified.

**Who is one person.** Rows with the same 编号 are one person (one name, one phone);
without a 编号, rows with the same name and the same phone are; a row with neither is a
person of its own. One person may stand on several rows, one per flat owned (one buyer
of several flats is one owner by law). All 开发商 rows of one name are one roll entry
(the developer's unsold flats count as one owner). Co-owners of a flat each have a row
with its address and the same area: a flat given two areas is an error on each of its
rows, naming the others.

**Who is who on the roll** (the import's key): a person in the file is the roll entry
with the same name (spaces and letter case aside) that lives at or owns one of the
person's addresses; among several, an active entry before a pending, then a removed
one, one bound to an account first, then the oldest. A name and an address may stand
for one person only, so importing the same file again matches the same entries and
changes nothing. A member whose name is written differently (a Telegram name at
``/join``, a real name in the file) is another person: the diff shows one removed and
one added, and the chair decides before anything is written.

**What a row does.** An owner's (or the developer's) row gives the entry a verified
flat of that address and area (imported areas come from staff; 核实=否 keeps one
unverified, as ``/roll export`` writes a self-declared flat); a resident's row gives
none. The file is the whole roll: the flats an entry holds are those of its rows, and
an active voting member on the roll but not in the file is removed (status removed,
never deleted: its votes and history stay). Pending members and non-voting
participants are not the file's to remove; a pending one found in the file is put on
the roll, a removed one comes back. A phone column, when there is one, sets phones
(an empty cell clears one); without it phones stay as they are.

**Rows in error** are left out with their row numbers and why; nothing of their person
is imported, and an entry they name (by name and address, or by name alone when the
address cannot be read) is neither changed nor removed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from domain import errors
from domain.model import MAX_NAME, Flat, Member, MemberStatus
from domain.numbers import fold
from domain.services.council import Address, parse_address, parse_area
from domain.sheets import Cell, Row

PLAN_VERSION = 1


class Role(StrEnum):
    OWNER = "owner"  # 业主
    RESIDENT = "resident"  # 住户
    DEVELOPER = "developer"  # 开发商: its unsold flats, one roll entry


# What a header cell may say, folded (see _header_key); the first of each is what
# ``/roll export`` writes in Chinese, the last in English.
COLUMNS: Mapping[str, tuple[str, ...]] = {
    "name": ("姓名", "名字", "name"),
    "address": ("地址", "房号", "住址", "门牌号", "房屋地址", "address"),
    "area": ("面积", "建筑面积", "专有面积", "专有部分面积", "登记面积", "area"),
    "role": ("身份", "类型", "role"),
    "phone": ("电话", "手机", "手机号", "联系电话", "phone"),
    "id": ("编号", "id"),
    "verified": ("核实", "已核实", "verified"),
}
REQUIRED = ("name", "address", "role")
ROLES: Mapping[str, Role] = {
    "业主": Role.OWNER,
    "产权人": Role.OWNER,
    "owner": Role.OWNER,
    "住户": Role.RESIDENT,
    "租户": Role.RESIDENT,
    "居民": Role.RESIDENT,
    "resident": Role.RESIDENT,
    "tenant": Role.RESIDENT,
    "开发商": Role.DEVELOPER,
    "建设单位": Role.DEVELOPER,
    "developer": Role.DEVELOPER,
}
_YES = frozenset({"", "是", "已核实", "yes", "y", "true", "1", "√", "✓"})
_NO = frozenset({"否", "未核实", "no", "n", "false", "0", "×"})
_PHONE = re.compile(r"\+?[0-9]{3,20}")
_PHONE_NOISE = str.maketrans("", "", " -—()（）")
_ASIDE = re.compile(r"[(（【\[].*?[)）】\]]")  # "面积（㎡）", "电话(选填)"
MAX_ID = 32


def key_name(name: str) -> str:
    """A name as the import compares it: full-width folded, spaces collapsed, case aside."""
    return " ".join(fold(name).split()).casefold()


def _header_key(text: str) -> str:
    return "".join(_ASIDE.sub("", fold(text)).split()).strip("*：:").casefold()


_ALIASES = {alias.casefold(): column for column, names in COLUMNS.items() for alias in names}


# --- reading a file ----------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """Why row ``row`` of the file is left out: ``code`` with JSON-safe ``params``."""

    row: int
    code: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FileRow:
    row: int
    name: str
    address: Address | None
    household: str
    area: Decimal | None
    role: Role | None
    phone: str | None
    id: str
    verified: bool

    @property
    def owns(self) -> bool:
        return self.role in (Role.OWNER, Role.DEVELOPER)


@dataclass(frozen=True)
class Person:
    """One roll entry as the file gives it."""

    name: str
    rows: tuple[int, ...]
    addresses: Mapping[str, Address]  # household -> address, the first row's first
    flats: tuple[Flat, ...]
    phone: str | None


@dataclass(frozen=True)
class RollFile:
    people: tuple[Person, ...]
    errors: tuple[RowError, ...]
    rows: int  # rows of data read (the header and blank rows aside)
    phones: bool  # the file has a phone column
    # (name key, household) named by rows in error; household None: any of that name
    guarded: frozenset[tuple[str, str | None]]


def read_roll(rows: Sequence[Row]) -> RollFile:
    """Read a roll file's rows (``sheets.read_table``). A file without a header row
    naming the required columns is refused (``InvalidInput``: ``roster_empty``,
    ``roster_columns`` with ``missing``, ``roster_column_twice`` with ``column``)."""
    if not rows:
        raise errors.InvalidInput(field="roster_empty")
    header, data = rows[0], rows[1:]
    columns = _columns(header)
    found = [_read_row(row, columns) for row in data]
    problems: list[RowError] = [e for _, row_errors in found for e in row_errors]
    readable = [r for r, _ in found]
    groups = _group(readable, problems)
    problems += _area_conflicts(readable)
    bad = {e.row for e in problems if e.code != "duplicate"}
    problems += _spread(groups, bad)
    bad = {e.row for e in problems if e.code != "duplicate"}
    people, more = _people(groups, bad)
    problems += more
    bad = {e.row for e in problems if e.code != "duplicate"}
    guarded = frozenset(
        (key_name(r.name), r.household or None) for r in readable if r.row in bad and r.name
    )
    return RollFile(
        people=tuple(people),
        errors=tuple(sorted(problems, key=lambda e: e.row)),
        rows=len(data),
        phones="phone" in columns,
        guarded=guarded,
    )


def _columns(header: Row) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, text in enumerate(header.cells):
        column = _ALIASES.get(_header_key(text))
        if column is None:
            continue
        if column in columns:
            raise errors.InvalidInput(field="roster_column_twice", column=text[:30])
        columns[column] = index
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        names = "、".join(f"{COLUMNS[c][0]}/{COLUMNS[c][-1]}" for c in missing)
        raise errors.InvalidInput(field="roster_columns", missing=names)
    return columns


def _read_row(row: Row, columns: Mapping[str, int]) -> tuple[FileRow, list[RowError]]:
    problems: list[RowError] = []

    def wrong(code: str, **params: Any) -> None:
        problems.append(RowError(row.number, code, params))

    name = " ".join(row.cell(columns["name"]).split())
    if not name:
        wrong("name_missing")
    elif len(name) > MAX_NAME:
        wrong("name_long", limit=MAX_NAME)
    address: Address | None = None
    text = row.cell(columns["address"])
    if not text:
        wrong("address_missing")
    else:
        try:
            address = parse_address(text)
        except errors.DomainError:
            wrong("address", value=text[:30])
    word = key_name(row.cell(columns["role"]))
    role = ROLES.get(word)
    if not word:
        wrong("role_missing")
    elif role is None:
        wrong("role", value=row.cell(columns["role"])[:30])
    area: Decimal | None = None
    text = row.cell(columns.get("area"))
    if role in (Role.OWNER, Role.DEVELOPER):
        if not text:
            wrong("area_missing")
        else:
            try:
                area = parse_area(text)
            except errors.DomainError:
                wrong("area", value=text[:30])
            else:
                if area <= 0:
                    wrong("area", value=text[:30])
                    area = None
    phone = fold(row.cell(columns.get("phone"))).translate(_PHONE_NOISE)
    if phone and not _PHONE.fullmatch(phone):
        wrong("phone", value=row.cell(columns.get("phone"))[:30])
    ident = " ".join(fold(row.cell(columns.get("id"))).split())
    if len(ident) > MAX_ID:
        wrong("id", value=ident[:30])
    said = key_name(row.cell(columns.get("verified")))
    if said not in _YES and said not in _NO:
        wrong("verified", value=row.cell(columns.get("verified"))[:30])
    household = "" if address is None else _household(address)
    return (
        FileRow(
            row=row.number,
            name=name,
            address=address,
            household=household,
            area=area,
            role=role,
            phone=phone or None,
            id=ident,
            verified=said not in _NO,
        ),
        problems,
    )


def _household(address: Address) -> str:
    return "-".join(p for p in (address.building, address.unit, address.room) if p)


def _group(rows: Sequence[FileRow], problems: list[RowError]) -> list[list[FileRow]]:
    """The rows of each person, in the order of their first rows; a row that cannot say
    whose it is (no name) is nobody's. Rows of one 编号 that give two names or two
    phones, or mix the developer with others, are errors naming the first row."""
    groups: dict[tuple[str, ...], list[FileRow]] = {}
    for row in rows:
        if not row.name:
            continue
        name = key_name(row.name)
        if row.id:
            key: tuple[str, ...] = ("id", row.id.casefold())
        elif row.role is Role.DEVELOPER:
            key = ("developer", name)
        elif row.phone:
            key = ("phone", name, row.phone)
        elif row.household:
            key = ("row", name, row.household)
        else:
            key = ("alone", str(row.row))
        group = groups.setdefault(key, [])
        if group:
            first = group[0]
            if key_name(first.name) != name:
                problems.append(RowError(row.row, "id_name", {"id": row.id, "first": first.row}))
            elif first.phone and row.phone and first.phone != row.phone:
                problems.append(RowError(row.row, "id_phone", {"id": row.id, "first": first.row}))
            elif (first.role is Role.DEVELOPER) != (row.role is Role.DEVELOPER):
                problems.append(RowError(row.row, "developer_mixed", {"first": first.row}))
        group.append(row)
    return list(groups.values())


def _area_conflicts(rows: Sequence[FileRow]) -> list[RowError]:
    """A flat given two areas (co-owners' rows disagree): an error on each of its rows."""
    flats: dict[str, list[FileRow]] = {}
    for row in rows:
        if row.owns and row.household and row.area is not None:
            flats.setdefault(row.household, []).append(row)
    problems: list[RowError] = []
    for household, held in flats.items():
        if len({r.area for r in held}) > 1:
            areas = [[r.row, f"{r.area:.2f}"] for r in held]
            for r in held:
                problems.append(
                    RowError(r.row, "area_conflict", {"household": household, "areas": areas})
                )
    return problems


def _spread(groups: Sequence[Sequence[FileRow]], bad: set[int]) -> list[RowError]:
    """A person with a row in error is left out whole: each other row says which row."""
    problems: list[RowError] = []
    for group in groups:
        failed = [r.row for r in group if r.row in bad]
        if failed:
            problems += [
                RowError(r.row, "person", {"first": failed[0]}) for r in group if r.row not in bad
            ]
    return problems


def _people(
    groups: Sequence[Sequence[FileRow]], bad: set[int]
) -> tuple[list[Person], list[RowError]]:
    """The people of the groups without errors. A person's second row for one address is
    a duplicate, ignored when it says the same (reported, not blocking) and an error
    when it does not; a name and an address stand for one person only."""
    people: list[Person] = []
    problems: list[RowError] = []
    taken: dict[tuple[str, str], int] = {}  # (name key, household) -> its first row
    for group in groups:
        if any(r.row in bad for r in group):
            continue
        name = key_name(group[0].name)
        seen: dict[str, FileRow] = {}
        failed: list[RowError] = []
        for row in group:
            if row.household in seen:
                first = seen[row.household]
                same = (first.role, first.area, first.verified) == (
                    row.role,
                    row.area,
                    row.verified,
                )
                code = "duplicate" if same else "conflict"
                (problems if same else failed).append(RowError(row.row, code, {"first": first.row}))
                continue
            other = taken.get((name, row.household))
            if other is not None:
                failed.append(RowError(row.row, "same_person", {"first": other}))
            seen[row.household] = row
        if failed:
            failing = {e.row for e in failed}
            problems += failed
            problems += [
                RowError(r.row, "person", {"first": failed[0].row})
                for r in group
                if r.row not in failing
            ]
            continue
        for household in seen:
            taken[(name, household)] = seen[household].row
        kept = list(seen.values())
        phone = next((r.phone for r in kept if r.phone), None)
        people.append(
            Person(
                name=group[0].name,
                rows=tuple(r.row for r in kept),
                addresses={r.household: r.address for r in kept if r.address is not None},
                flats=tuple(
                    sorted(
                        Flat(r.household, r.area, r.verified)
                        for r in kept
                        if r.owns and r.area is not None
                    )
                ),
                phone=phone,
            )
        )
    return people, problems


# --- the diff ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """What the import sets on a roll entry."""

    name: str
    building: str
    unit: str
    room: str
    phone: str | None
    flats: tuple[Flat, ...]

    @property
    def household(self) -> str:
        return "-".join(p for p in (self.building, self.unit, self.room) if p)

    @property
    def area(self) -> Decimal:
        """The member's own registered area: its flats' together."""
        return sum((f.area for f in self.flats), Decimal("0.00"))

    def put_on(self, member: Member) -> None:
        member.name = self.name
        member.building, member.unit, member.room = self.building, self.unit, self.room
        member.household = self.household
        member.area = self.area
        member.phone = self.phone
        member.flats = self.flats
        member.status = MemberStatus.ACTIVE

    def changes(self, member: Member) -> tuple[str, ...]:
        """What putting this entry on ``member`` would change, in words for the diff."""
        what: list[str] = []
        if member.status is MemberStatus.REMOVED:
            what.append("restored")
        elif member.status is MemberStatus.PENDING:
            what.append("approved")
        if member.name != self.name:
            what.append("name")
        if (member.building, member.unit, member.room) != (self.building, self.unit, self.room):
            what.append("address")
        mine = {f.household: f for f in member.flats}
        theirs = {f.household: f for f in self.flats}
        if set(mine) != set(theirs):
            what.append("flats")
        elif any(mine[h].area != theirs[h].area for h in mine) or member.area != self.area:
            # The figures, for the diff: "area:85.50:92.00" (the first flat that differs).
            moved = [(mine[h].area, theirs[h].area) for h in mine if mine[h].area != theirs[h].area]
            before, after = moved[0] if moved else (member.area, self.area)
            what.append(f"area:{before}:{after}")
        elif any(mine[h].verified != theirs[h].verified for h in mine):
            what.append("verified")
        if member.phone != self.phone:
            what.append("phone")
        return tuple(what)


class Op(StrEnum):
    ADD = "add"
    UPDATE = "update"
    REMOVE = "remove"


@dataclass(frozen=True)
class Change:
    op: Op
    name: str  # as the diff shows it (the file's name; a removed member's own)
    household: str
    member_id: int | None = None  # None: a new entry
    entry: Entry | None = None  # None: removed
    what: tuple[str, ...] = ()  # for an update: what changes


@dataclass(frozen=True)
class Plan:
    """The dry-run diff of a roll file, and what confirming it writes."""

    changes: tuple[Change, ...]
    errors: tuple[RowError, ...]
    rows: int
    unchanged: int
    guarded: int  # members neither changed nor removed because their rows are in error
    fingerprint: str  # of the roll it was checked against (see ``fingerprint``)

    def of(self, op: Op) -> list[Change]:
        return [c for c in self.changes if c.op is op]

    @property
    def empty(self) -> bool:
        return not self.changes


def plan(roll: RollFile, members: Sequence[Member]) -> Plan:
    """What importing ``roll`` would change on a roll of ``members`` (every status)."""
    by_name: dict[str, list[Member]] = {}
    for member in members:
        by_name.setdefault(key_name(member.name), []).append(member)
    taken: set[int] = set()
    changes: list[Change] = []
    unchanged = 0
    for person in roll.people:
        match = _match(person, by_name.get(key_name(person.name), ()), taken)
        entry = _entry(person, match, roll.phones)
        if match is None:
            changes.append(Change(Op.ADD, person.name, entry.household, entry=entry))
            continue
        assert match.id is not None
        taken.add(match.id)
        what = entry.changes(match)
        if what:
            changes.append(Change(Op.UPDATE, person.name, entry.household, match.id, entry, what))
        else:
            unchanged += 1
    guarded = 0
    for member in members:
        assert member.id is not None
        if member.id in taken or member.status is not MemberStatus.ACTIVE or not member.voting:
            continue
        if _guarded(member, roll.guarded):
            guarded += 1
            continue
        changes.append(Change(Op.REMOVE, member.name, member.household, member.id))
    return Plan(
        changes=tuple(changes),
        errors=roll.errors,
        rows=roll.rows,
        unchanged=unchanged,
        guarded=guarded,
        fingerprint=fingerprint(members),
    )


_RANK = {MemberStatus.ACTIVE: 0, MemberStatus.PENDING: 1, MemberStatus.REMOVED: 2}


def _addresses(member: Member) -> set[str]:
    return {member.household, *(f.household for f in member.flats)}


def _match(person: Person, named: Iterable[Member], taken: set[int]) -> Member | None:
    found = [m for m in named if m.id not in taken and _addresses(m) & set(person.addresses)]
    found.sort(key=lambda m: (_RANK[m.status], m.user_id is None and not m.accounts, m.id or 0))
    return found[0] if found else None


def _entry(person: Person, match: Member | None, phones: bool) -> Entry:
    """The person as a roll entry: living at the first row's address, unless the entry
    it matches already lives at one of the person's addresses (rows in another order
    change nothing)."""
    home = next(iter(person.addresses))
    if match is not None and match.household in person.addresses:
        home = match.household
    address = person.addresses[home]
    return Entry(
        name=person.name,
        building=address.building,
        unit=address.unit,
        room=address.room,
        phone=person.phone if phones or match is None else match.phone,
        flats=person.flats,
    )


def _guarded(member: Member, guarded: frozenset[tuple[str, str | None]]) -> bool:
    name = key_name(member.name)
    return (name, None) in guarded or any((name, h) in guarded for h in _addresses(member))


def fingerprint(members: Iterable[Member]) -> str:
    """What the import reads of a roll, hashed: a plan is applied only to the roll it was
    checked against (anything changed since, and the file must be checked again)."""
    digest = hashlib.sha256()
    for m in sorted(members, key=lambda m: m.id or 0):
        flats = sorted((f.household, f"{f.area:.2f}", f.verified) for f in m.flats)
        line = (m.id, m.status.value, m.voting, m.name, m.building, m.unit, m.room, m.phone)
        digest.update(f"{line!r}{flats!r}{m.area:.2f}\n".encode())
    return digest.hexdigest()


# --- the plan as JSON (roster_imports.plan) -----------------------------------------------


def plan_to_json(p: Plan) -> dict[str, Any]:
    return {
        "version": PLAN_VERSION,
        "fingerprint": p.fingerprint,
        "rows": p.rows,
        "unchanged": p.unchanged,
        "guarded": p.guarded,
        "changes": [_change_json(c) for c in p.changes],
        "errors": [{"row": e.row, "code": e.code, "params": dict(e.params)} for e in p.errors],
    }


def _change_json(c: Change) -> dict[str, Any]:
    data: dict[str, Any] = {"op": c.op.value, "name": c.name, "household": c.household}
    if c.member_id is not None:
        data["id"] = c.member_id
    if c.what:
        data["what"] = list(c.what)
    if c.entry is not None:
        e = c.entry
        data["entry"] = {
            "name": e.name,
            "address": [e.building, e.unit, e.room],
            "phone": e.phone,
            "flats": [[f.household, str(f.area), f.verified] for f in e.flats],
        }
    return data


def plan_from_json(data: Mapping[str, Any]) -> Plan:
    if data.get("version") != PLAN_VERSION:
        raise ValueError(f"roll import plan of version {data.get('version')!r}")
    return Plan(
        changes=tuple(_change_from_json(c) for c in data["changes"]),
        errors=tuple(RowError(e["row"], e["code"], e["params"]) for e in data["errors"]),
        rows=data["rows"],
        unchanged=data["unchanged"],
        guarded=data["guarded"],
        fingerprint=data["fingerprint"],
    )


def _change_from_json(data: Mapping[str, Any]) -> Change:
    entry: Entry | None = None
    if "entry" in data:
        e = data["entry"]
        building, unit, room = e["address"]
        entry = Entry(
            name=e["name"],
            building=building,
            unit=unit,
            room=room,
            phone=e["phone"],
            flats=tuple(Flat(h, Decimal(a), v) for h, a, v in e["flats"]),
        )
    return Change(
        op=Op(data["op"]),
        name=data["name"],
        household=data["household"],
        member_id=data.get("id"),
        entry=entry,
        what=tuple(data.get("what", ())),
    )


# --- the roll as a file (/roll export) -------------------------------------------------------

# The columns ``/roll export`` writes, in the order ``read_roll`` reads them back.
EXPORT_COLUMNS = ("name", "address", "area", "role", "phone", "id", "verified")
_ROLE_WORDS = {"zh": {Role.OWNER: "业主", Role.RESIDENT: "住户"}, "en": {}}
_NOT_VERIFIED = {"zh": "否", "en": "no"}


def export_rows(members: Iterable[Member], *, english: bool) -> tuple[list[str], list[list[Cell]]]:
    """The header and rows of the active voting members, so that importing them again
    changes nothing: one row per flat owned (the one lived in first), a resident's row
    for a home not owned, the member's id as 编号 so its rows stay one person, and 核实
    only when a flat is unverified (a self-declared one, ``/join``)."""
    lang = "en" if english else "zh"
    rows: list[list[Cell]] = []
    unverified = False
    for member in members:
        if member.status is not MemberStatus.ACTIVE or not member.voting:
            continue
        flats = sorted(member.flats, key=lambda f: (f.household != member.household, f))
        if not any(f.household == member.household for f in flats):
            rows.append(_row(member, member.household, None, Role.RESIDENT, True, lang))
        for flat in flats:
            rows.append(_row(member, flat.household, flat.area, Role.OWNER, flat.verified, lang))
            unverified = unverified or not flat.verified
    columns = EXPORT_COLUMNS if unverified else EXPORT_COLUMNS[:-1]
    header = [COLUMNS[c][-1] if english else COLUMNS[c][0] for c in columns]
    return header, [row[: len(columns)] for row in rows]


def _row(
    member: Member, household: str, area: Decimal | None, role: Role, verified: bool, lang: str
) -> list[Cell]:
    return [
        member.name,
        household,
        area,
        _ROLE_WORDS[lang].get(role, role.value),
        member.phone or "",
        member.id,
        "" if verified else _NOT_VERIFIED[lang],
    ]
