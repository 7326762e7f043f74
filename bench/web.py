"""The residents' ballot page and the vote POST under concurrent load, against a bare
Starlette route returning a constant page, served the same way, in the same run.

A council of N members (default 10,000) with B open ballots (default 50), every member
signed in (a resident session each: a sample through the use cases, the rest written
in bulk the same way), seeded untimed on a fresh, migrated database. Two server
processes, each this script re-run with ``--phase serve``: the web app
(``bot.web.app.build_web``) and the bare app (one Starlette route, a constant page),
both served by ``bot.web.server.serving`` (uvicorn, httptools, one process) as
``yishi web`` serves the web. The load comes from a third process: ``wrk`` (one
thread, C concurrent connections, a Lua script giving each request its own member's
cookie, ballot and, for a vote, CSRF token and nonce), or, where wrk is not installed,
an httpx client with C concurrent workers (``--client``).

    python bench/web.py [--members N] [--ballots B] [--concurrency C] [--seconds S]
                        [--runs K] [--client auto|wrk|httpx]
                        [--database sqlite|postgresql|all] [--postgresql-url URL]
                        [--quick] [--json]

Each run measures, in turn: ``bare`` (GET the constant page), ``page`` (GET
``/r/b/{ballot}`` as one of the members), ``vote`` (POST ``/r/b/{ballot}/vote`` with
``choice``, ``nonce``, ``csrf`` and our Origin, each request a (member, ballot) pair not
posted before), each after a warm-up of its own. Afterwards the votes in the database
must be exactly the pairs posted (none lost, none doubled: one vote event each) and the
ballot page must show the count of votes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from common import (
    Target,
    add_database_args,
    databases,
    fresh_database,
    log,
    percentile,
    print_targets,
    targets_json,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TOKEN = "123456:web-bench-token-000000000000000000"
CHOICES = ("for", "against", "abstain")
RATIO_TARGET = 0.3
P99_TARGET_MS = 100.0
SAMPLE_SIGN_INS = 20  # members signed in through the use cases; the rest in bulk
PHASES = ("bare", "page", "vote")
TIMEOUT_S = 30  # a request not answered by then counts as a socket error (wrk --timeout)


# --- seeding (untimed) -----------------------------------------------------------------


@dataclass
class Seeded:
    council_id: int
    ballot_ids: list[int]
    member_ids: list[int]  # in the order of ``tokens``
    tokens: list[str]  # each member's session cookie
    csrf: list[str]  # the CSRF token each member's forms carry


def web_settings() -> Any:
    from pydantic import SecretStr

    from bot.config import Settings

    return Settings(telegram_token=SecretStr(TOKEN), web_host="127.0.0.1", web_port=0)


async def seed(url: str, members: int, ballots: int) -> Seeded:
    """A council of ``members`` households on owners-ordinary, ``ballots`` open motions,
    and a resident session for every member."""
    from sqlalchemy import insert

    from bot.keys import web_key
    from bot.web.context import mac
    from domain.model import Ballot, BallotKind, Council, Flat, Member, Topic
    from domain.rules import preset
    from domain.services import web_access
    from domain.web_access import digest
    from storage.orm import WebSessionRow
    from storage.uow import Database

    now = datetime.now(UTC).replace(microsecond=0)
    key = web_key(web_settings(), TOKEN)
    db = await Database.open(url)
    try:
        async with db.uow() as uow:
            council = await uow.councils.add(
                Council(
                    chat_id=-100_888,
                    thread_id=0,
                    title="压测小区",
                    rule=preset("owners-ordinary"),
                    timezone="Asia/Shanghai",
                    language="zh",
                    created_at=now - timedelta(days=30),
                    chairs={1},
                )
            )
            assert council.id is not None
            ballot_ids = []
            for number in range(ballots):
                topic = await uow.topics.add(
                    Topic(
                        council_id=council.id,
                        title=f"议题{number + 1}",
                        description="",
                        opened_by=1,
                        opened_at=now - timedelta(hours=1),
                    )
                )
                assert topic.id is not None
                ballot = await uow.ballots.add(
                    Ballot(
                        topic_id=topic.id,
                        council_id=council.id,
                        kind=BallotKind.MOTION,
                        question=f"是否同意议题{number + 1}?",
                        rule=preset("owners-ordinary"),
                        secret=number % 5 == 4,  # one in five secret
                        opened_by=1,
                        opened_at=now - timedelta(hours=1),
                        deadline=now + timedelta(days=7),
                    )
                )
                assert ballot.id is not None
                ballot_ids.append(ballot.id)
            await uow.commit()
        # The roll as a roster import leaves it: households of one to three people,
        # each owning their flat (verified, areas to the hundredth); no Telegram
        # accounts (a household signs in by its login key).
        roll = []
        for i in range(members):
            flat = i * 2 // 3
            building, unit, room = 1 + flat // 200, 1 + flat // 20 % 10, 101 + flat % 20
            household = f"{building}-{unit}-{room}"
            area = Decimal(6_000 + (flat * 7_919) % 9_000).scaleb(-2)
            roll.append(
                Member(
                    council_id=council.id,
                    user_id=None,
                    name=f"居民{i}",
                    building=str(building),
                    unit=str(unit),
                    room=str(room),
                    household=household,
                    area=area,
                    joined_at=now - timedelta(days=30),
                    flats=(Flat(household, area, verified=True),),
                )
            )
        async with db.uow() as uow:
            await uow.members.add_many(roll)
            await uow.commit()
        member_ids = [m.id for m in roll if m.id is not None]
        # A sample signs in as a household does: a login key issued, then scanned.
        sample = member_ids[:SAMPLE_SIGN_INS]
        issued = await web_access.issue_login_keys(
            db.uow(), council_id=council.id, member_ids=sample, user_id=1, now=now, key=key
        )
        by_member: dict[int, str] = {}
        for card in issued:
            signed = await web_access.sign_in_by_key(
                db.uow(), token=card.token, client="127.0.0.1", now=now, key=key
            )
            assert signed.token is not None, signed.refusal
            assert card.member.id is not None
            by_member[card.member.id] = signed.token
        # The rest: the same sessions, written in bulk.
        sessions = []
        for member_id in member_ids[SAMPLE_SIGN_INS:]:
            token = secrets.token_urlsafe(32)
            by_member[member_id] = token
            sessions.append(
                {
                    "digest": digest(token, key),
                    "council_id": council.id,
                    "kind": "resident",
                    "member_id": member_id,
                    "via": "key",
                    "created_at": now,
                    "expires_at": now + timedelta(days=180),
                }
            )
        if sessions:
            async with db.engine.begin() as connection:
                await connection.execute(insert(WebSessionRow), sessions)
        tokens = [by_member[m] for m in member_ids]
        return Seeded(
            council_id=council.id,
            ballot_ids=ballot_ids,
            member_ids=member_ids,
            tokens=tokens,
            csrf=[mac(key, "csrf:" + token) for token in tokens],
        )
    finally:
        await db.dispose()


# --- the servers (a process each) --------------------------------------------------------

BARE_PAGE = (
    "<!doctype html><html lang=zh-CN><head><meta charset=utf-8><title>议事</title></head>"
    "<body><main><h1>加装电梯</h1><p>" + "投票进行中。" * 150 + "</p></main></body></html>"
)


def bare_app() -> Any:
    """The baseline: Starlette with one route returning a constant page."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, Response
    from starlette.routing import Route

    async def constant(request: Request) -> Response:
        return HTMLResponse(BARE_PAGE)

    return Starlette(
        routes=[
            Route("/", constant),
            Route("/r/b/{ballot_id:int}", constant),
            Route("/r/b/{ballot_id:int}/vote", constant, methods=["POST"]),
        ]
    )


class Abandoned(logging.Filter):
    """Counts, and keeps out of the log, the requests whose client went away before
    their form was read (wrk's in-flight requests when it stops)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        from starlette.requests import ClientDisconnect

        if record.exc_info and isinstance(record.exc_info[1], ClientDisconnect):
            self.count += 1
            return False
        return True


async def serve(app_name: str, url: str | None, profile: str | None = None) -> None:
    """Serve the app until SIGTERM; print {"port"} when listening, then {"cpu_s", …}.
    ``profile``: a file for a cProfile of the whole serving (the web app only)."""
    import cProfile

    from bot.web.server import serving

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    abandoned = Abandoned()
    logging.getLogger("uvicorn.error").addFilter(abandoned)
    database = None
    if app_name == "bare":
        app = bare_app()
    else:
        from bot.web.app import build_web
        from storage.uow import Database

        assert url is not None
        database = await Database.open(url, migrate=False)
        app = build_web(web_settings(), database, token=TOKEN)
    profiler = cProfile.Profile() if profile and app_name == "web" else None
    try:
        async with serving(app, "127.0.0.1", 0) as port:
            print(json.dumps({"port": port}), flush=True)
            if profiler is not None:
                profiler.enable()
            await stop.wait()
            if profiler is not None and profile:
                profiler.disable()
                profiler.dump_stats(profile)
        batches = 0
        if database is not None:
            box = app.state.deps.ballot_box
            await box.close()
            batches = box.batches
        times = os.times()
        final = {
            "cpu_s": times.user + times.system,
            "batches": batches,
            "abandoned": abandoned.count,
        }
        print(json.dumps(final), flush=True)
    finally:
        if database is not None:
            await database.dispose()


class Server:
    """``python bench/web.py --phase serve`` as a process of its own."""

    def __init__(self, app_name: str, url: str | None, profile: str | None = None) -> None:
        self.app_name = app_name
        self.url = url
        self.profile = profile
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.final: dict[str, Any] = {}

    def __enter__(self) -> Server:
        command = [sys.executable, str(Path(__file__)), "--phase", "serve", "--app", self.app_name]
        if self.url:
            command += ["--url", self.url]
        if self.profile:
            command += ["--profile", self.profile]
        path = [str(ROOT), str(HERE), os.environ.get("PYTHONPATH", "")]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in path if p))
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.app_name} server did not start")
        self.port = int(json.loads(line)["port"])
        return self

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_s(self) -> float:
        """The server process's CPU time so far (user + system, all its threads)."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __exit__(self, *exc_info: object) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rest = self.proc.stdout.read()
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rest = ""
        for line in rest.splitlines():
            if line.startswith("{"):
                self.final = json.loads(line)


# --- the load ------------------------------------------------------------------------------


@dataclass
class Load:
    """One measured phase: completed requests, their latencies, what was posted."""

    phase: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]
    errors: int  # sockets' connect/read/write errors and timeouts
    first: int = 0  # the pairs posted: sequence numbers first … first + generated − 1
    generated: int = 0  # requests sent (answered, and in flight when the load stopped)
    cpu_ms: float = float("nan")  # the server's CPU time per request sent (all threads)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def unexpected(self) -> int:
        good = "3xx" if self.phase == "vote" else "2xx"
        return sum(n for kind, n in self.statuses.items() if kind != good)


@dataclass
class Plan:
    """What the load generators need: the members' cookies and tokens, the ballots."""

    members: int
    ballots: list[int]
    files: Path  # the Lua scripts and the sessions' file

    def pair(self, g: int) -> tuple[int, int]:
        """The g-th (member index, ballot index): one ballot after another, each the
        next member's (unique until every member has voted on every ballot)."""
        return (g // len(self.ballots)) % self.members, g % len(self.ballots)

    @staticmethod
    def choice(member: int, ballot: int) -> str:
        return CHOICES[(member + ballot) % len(CHOICES)]


LUA = r"""
-- Generated by bench/web.py: each request a member's cookie; a vote, a fresh pair.
local phase, first = "%(phase)s", %(first)d
local members, origin = %(members)d, "%(origin)s"
local ballots = {%(ballots)s}
local choices = {"for", "against", "abstain"}
local cookies, csrf = {}, {}
-- globals: done() reads them from the thread with thread:get
g, generated = first, 0
s2, s3, s4, s5 = 0, 0, 0, 0
threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines("%(sessions)s") do
    local token, mac = line:match("^(%%S+) (%%S+)$")
    table.insert(cookies, "yishi_home=" .. token)
    table.insert(csrf, mac)
  end
end

function request()
  local b = g %% #ballots
  local m = math.floor(g / #ballots) %% members
  local headers = {Cookie = cookies[m + 1]}
  local r
  if phase == "bare" then
    r = wrk.format("GET", "/", headers)
  elseif phase == "page" then
    r = wrk.format("GET", "/r/b/" .. ballots[b + 1], headers)
  else
    headers["Origin"] = origin
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    local body = "choice=" .. choices[(m + b) %% 3 + 1]
      .. "&nonce=" .. string.format("bench-%%010d", g) .. "&csrf=" .. csrf[m + 1]
    r = wrk.format("POST", "/r/b/" .. ballots[b + 1] .. "/vote", headers, body)
  end
  g = g + 1
  generated = generated + 1
  return r
end

function response(status, headers, body)
  if status < 300 then s2 = s2 + 1
  elseif status < 400 then s3 = s3 + 1
  elseif status < 500 then s4 = s4 + 1
  else s5 = s5 + 1 end
end

function done(summary, latency, requests)
  local gen, c2, c3, c4, c5 = 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    gen = gen + t:get("generated")
    c2, c3 = c2 + t:get("s2"), c3 + t:get("s3")
    c4, c5 = c4 + t:get("s4"), c5 + t:get("s5")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, '
    .. '"max_us": %%d, "generated": %%d, "s2": %%d, "s3": %%d, "s4": %%d, "s5": %%d, '
    .. '"errors": %%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, gen, c2, c3, c4, c5, e.connect + e.read + e.write + e.timeout))
end
"""


def write_sessions(seeded: Seeded, folder: Path) -> Path:
    path = folder / "sessions.txt"
    path.write_text("".join(f"{t} {c}\n" for t, c in zip(seeded.tokens, seeded.csrf, strict=True)))
    return path


def run_wrk(
    plan: Plan, phase: str, base: str, first: int, seconds: float, concurrency: int
) -> Load:
    script = plan.files / f"{phase}-{first}.lua"
    script.write_text(
        LUA
        % {
            "phase": phase,
            "first": first,
            "members": plan.members,
            "origin": base,
            "ballots": ", ".join(map(str, plan.ballots)),
            "sessions": str(plan.files / "sessions.txt"),
        }
    )
    command = [
        "wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s",
        "--timeout", f"{TIMEOUT_S}s", "-s", str(script), base,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    found = re.search(r"^WRK-JSON (.*)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    data = json.loads(found.group(1))
    return Load(
        phase=phase,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        statuses={k: data[f"s{k[0]}"] for k in ("2xx", "3xx", "4xx", "5xx") if data[f"s{k[0]}"]},
        errors=data["errors"],
        first=first,
        generated=data["generated"],
    )


async def run_httpx(
    plan: Plan,
    seeded: Seeded,
    phase: str,
    base: str,
    first: int,
    seconds: float,
    concurrency: int,
) -> Load:
    """The same requests as the Lua script's, from C concurrent workers of one
    ``httpx.AsyncClient`` (where wrk is not installed)."""
    import httpx

    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0
    counter = first
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=TIMEOUT_S) as client:

        async def worker() -> None:
            nonlocal counter, errors
            while time.perf_counter() < deadline:
                g = counter
                counter += 1
                m, b = plan.pair(g)
                cookie = {"cookie": f"yishi_home={seeded.tokens[m]}"}
                start = time.perf_counter()
                try:
                    if phase == "bare":
                        response = await client.get("/", headers=cookie)
                    elif phase == "page":
                        response = await client.get(f"/r/b/{plan.ballots[b]}", headers=cookie)
                    else:
                        response = await client.post(
                            f"/r/b/{plan.ballots[b]}/vote",
                            headers={**cookie, "origin": base},
                            data={
                                "choice": plan.choice(m, b),
                                "nonce": f"bench-{g:010d}",
                                "csrf": seeded.csrf[m],
                            },
                        )
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - start)
                kind = f"{response.status_code // 100}xx"
                statuses[kind] = statuses.get(kind, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    ms = [x * 1000 for x in latencies]
    return Load(
        phase=phase,
        requests=len(latencies),
        seconds=wall,
        p50_ms=percentile(ms, 50),
        p99_ms=percentile(ms, 99),
        max_ms=max(ms, default=float("nan")),
        statuses=statuses,
        errors=errors,
        first=first,
        generated=counter - first,
    )


# --- checks --------------------------------------------------------------------------------


@dataclass
class Check:
    """The votes in the database against what was posted.

    The timed phases (wrk) post each (member, ballot) pair once, with a nonce of its
    own; a request still in flight when wrk stops is abandoned (the server, reading a
    closed connection's form, drops it), so: every pair answered 303 must be counted
    (``lost``: answered − counted, when positive), nothing counted that was not posted
    or counted twice (``doubled``), and at most the abandoned ones missing. Then an
    exact round (httpx): ``exact_pairs`` fresh pairs, each posted twice at once with the
    same nonce (a double submit), each must be answered and counted exactly once."""

    posted: int = 0  # distinct pairs posted by the timed phases
    answered: int = 0  # their 303s
    counted: int = 0  # of those pairs, with a vote in the database
    abandoned: int = 0  # posted, never answered (in flight when wrk stopped)
    lost: int = 0
    doubled: int = 0
    wrong_choice: int = 0
    exact_pairs: int = 0
    exact_lost: int = 0
    exact_doubled: int = 0
    exact_unanswered: int = 0
    page_count: bool = False
    page_detail: str = ""

    @property
    def ok(self) -> bool:
        return (
            self.posted > 0
            and self.exact_pairs > 0
            and self.lost == 0
            and self.doubled == 0
            and self.wrong_choice == 0
            and self.counted <= self.posted
            and self.exact_lost == 0
            and self.exact_doubled == 0
            and self.exact_unanswered == 0
        )

    def detail(self) -> str:
        return (
            f"timed phases: {self.posted:,} pairs posted, {self.answered:,} answered, "
            f"{self.counted:,} counted, {self.lost} lost, {self.doubled} doubled, "
            f"{self.wrong_choice} with another choice ({self.abandoned} abandoned in flight "
            f"by the load generator at its stop); double submits: {self.exact_pairs:,} pairs "
            f"× 2, {self.exact_lost} lost, {self.exact_doubled} doubled, "
            f"{self.exact_unanswered} not answered 303"
        )


def _pair(seeded: Seeded, plan: Plan, g: int) -> tuple[tuple[int, int], str]:
    """The g-th pair of the timed phases, and its choice."""
    m, b = plan.pair(g)
    return (seeded.member_ids[m], plan.ballots[b]), plan.choice(m, b)


async def double_submits(
    seeded: Seeded, base: str, members: int, concurrency: int
) -> dict[int, int]:
    """The first ``members`` members each vote on the last ballot (kept out of the timed
    phases) by posting the form twice at once with one nonce, a double submit; how
    many of each member's two posts were answered 303."""
    import httpx

    ballot_id = seeded.ballot_ids[-1]
    answered: dict[int, int] = {}
    queue = list(range(members))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def post(m: int) -> None:
            for attempt in range(3):
                try:
                    response = await client.post(
                        f"/r/b/{ballot_id}/vote",
                        headers={"cookie": f"yishi_home={seeded.tokens[m]}", "origin": base},
                        data={
                            "choice": CHOICES[m % len(CHOICES)],
                            "nonce": f"twice-{m:010d}",
                            "csrf": seeded.csrf[m],
                        },
                    )
                except httpx.TransportError:
                    # A kept-alive connection the server had just closed: the same form
                    # again, as a browser retries (one nonce: still one vote).
                    if attempt == 2:
                        raise
                    continue
                if response.status_code == 303:
                    answered[m] = answered.get(m, 0) + 1
                return

        async def worker() -> None:
            while queue:
                m = queue.pop()
                await asyncio.gather(post(m), post(m))

        await asyncio.gather(*(worker() for _ in range(max(1, concurrency // 2))))
    return answered


async def check_votes(
    url: str,
    seeded: Seeded,
    plan: Plan,
    loads: list[Load],
    exact: tuple[int, dict[int, int]],
) -> Check:
    """The votes in the database against the pairs posted (see :class:`Check`)."""
    from sqlalchemy import func, select

    from storage.orm import VoteEventRow, VoteRow
    from storage.uow import Database

    posted: dict[tuple[int, int], str] = {}
    times: dict[tuple[int, int], int] = {}
    for load in loads:
        for g in range(load.first, load.first + load.generated):
            pair, choice = _pair(seeded, plan, g)
            posted[pair] = choice
            times[pair] = times.get(pair, 0) + 1
    exact_members, answered = exact
    twice = {
        (seeded.member_ids[m], seeded.ballot_ids[-1]): CHOICES[m % len(CHOICES)]
        for m in range(exact_members)
    }
    db = await Database.open(url, migrate=False)
    try:
        async with db.engine.connect() as connection:
            votes = {
                (row.member_id, row.ballot_id): row.choice
                for row in await connection.execute(
                    select(VoteRow.member_id, VoteRow.ballot_id, VoteRow.choice)
                )
            }
            events = {
                (row.member_id, row.ballot_id): int(row.n)
                for row in await connection.execute(
                    select(
                        VoteEventRow.member_id,
                        VoteEventRow.ballot_id,
                        func.count().label("n"),
                    ).group_by(VoteEventRow.member_id, VoteEventRow.ballot_id)
                )
            }
    finally:
        await db.dispose()
    check = Check(posted=len(posted))
    check.answered = sum(load.statuses.get("3xx", 0) for load in loads)
    check.counted = sum(1 for pair in posted if pair in votes)
    check.abandoned = sum(load.generated for load in loads) - sum(load.requests for load in loads)
    check.lost = max(0, check.answered - check.counted)
    allowed = {**times, **dict.fromkeys(twice, 1)}
    check.doubled = sum(1 for pair in votes if pair not in allowed) + sum(
        1 for pair, n in events.items() if n > allowed.get(pair, 0)
    )
    expected = {**posted, **twice}
    check.wrong_choice = sum(
        1 for pair, choice in votes.items() if expected.get(pair, choice) != choice
    )
    check.exact_pairs = len(twice)
    check.exact_lost = sum(1 for pair in twice if pair not in votes)
    check.exact_doubled = sum(1 for pair in twice if events.get(pair, 0) > 1)
    check.exact_unanswered = sum(2 - answered.get(m, 0) for m in range(exact_members))
    return check


async def drain(base: str, token: str, ballot_id: int) -> None:
    """Wait until the server has answered what wrk left queued: one page, answered."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        await client.get(f"/r/b/{ballot_id}", headers={"cookie": f"yishi_home={token}"})
    await asyncio.sleep(0.2)  # and the last batch of votes written


async def vote_counts(url: str) -> dict[int, int]:
    from sqlalchemy import func, select

    from storage.orm import VoteRow
    from storage.uow import Database

    db = await Database.open(url, migrate=False)
    try:
        async with db.engine.connect() as connection:
            rows = await connection.execute(
                select(VoteRow.ballot_id, func.count()).group_by(VoteRow.ballot_id)
            )
            return {int(b): int(n) for b, n in rows}
    finally:
        await db.dispose()


async def page_shows(
    base: str, token: str, ballot_id: int, count: int, members: int
) -> tuple[bool, str]:
    """The ballot page, as a member sees it, shows how many took part: ``count/members``."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        response = await client.get(f"/r/b/{ballot_id}", headers={"cookie": f"yishi_home={token}"})
    text = re.sub(r"<[^>]+>", " ", response.text)
    shown = re.search(rf"(?<![\d,]){count}\s*/\s*{members}(?![\d,])", text) is not None
    return (
        response.status_code == 200 and shown,
        f"ballot {ballot_id}: {count:,} votes in the database, page {response.status_code}, "
        f"{'shows' if shown else 'does not show'} {count}/{members}",
    )


# --- a database's runs ---------------------------------------------------------------------


@dataclass
class Result:
    database: str
    members: int
    ballots: int
    runs: list[dict[str, Load]] = field(default_factory=list)
    check: Check = field(default_factory=Check)
    seed_s: float = 0.0
    server_cpu_s: dict[str, float] = field(default_factory=dict)
    batches: int = 0
    dropped: int = 0  # requests the web dropped: their client had gone (wrk's stops)

    def median(self, phase: str, attribute: str) -> float:
        return float(statistics.median(getattr(run[phase], attribute) for run in self.runs))

    def total(self, phase: str, attribute: str) -> int:
        return sum(int(getattr(run[phase], attribute)) for run in self.runs)


def measure(kind: str, postgres_url: str | None, args: argparse.Namespace) -> Result:
    from storage import migrate

    result = Result(kind, args.members, args.ballots)
    with (
        fresh_database(kind, postgres_url) as url,
        tempfile.TemporaryDirectory(prefix="yishi-web-bench-") as tmp,
    ):
        started = time.perf_counter()
        asyncio.run(migrate.upgrade(url))
        seeded = asyncio.run(seed(url, args.members, args.ballots))
        result.seed_s = time.perf_counter() - started
        log(f"{kind}: seeded {args.members:,} members, {args.ballots} ballots, "
            f"{len(seeded.tokens):,} sessions in {result.seed_s:.1f} s")  # fmt: skip
        # The last ballot is kept for the double submits, after the timed phases.
        plan = Plan(args.members, seeded.ballot_ids[:-1], Path(tmp))
        write_sessions(seeded, plan.files)
        posted: list[Load] = []
        g = 0
        with Server("bare", None) as bare, Server("web", url, args.profile) as web:
            for run in range(args.runs):
                loads: dict[str, Load] = {}
                order = PHASES if run % 2 == 0 else tuple(reversed(PHASES))
                for phase in order:
                    base = bare.base if phase == "bare" else web.base
                    for warm in (True, False):
                        seconds = args.warmup if warm else args.seconds
                        server = bare if phase == "bare" else web
                        cpu = server.cpu_s()
                        if args.client == "wrk":
                            load = run_wrk(plan, phase, base, g, seconds, args.concurrency)
                        else:
                            load = asyncio.run(
                                run_httpx(plan, seeded, phase, base, g, seconds, args.concurrency)
                            )
                        if phase == "vote":
                            g += load.generated
                            posted.append(load)
                        if phase != "bare":
                            asyncio.run(drain(web.base, seeded.tokens[0], plan.ballots[0]))
                        spent = server.cpu_s() - cpu
                        load.cpu_ms = spent * 1000 / (load.generated + (phase != "bare"))
                        if not warm:
                            loads[phase] = load
                    log(f"  {kind} run {run + 1} {describe(loads[phase])}")
                result.runs.append(loads)
            exact_members = min(args.members, args.double_submits)
            log(f"  {kind}: {exact_members:,} double submits …")
            answered = asyncio.run(
                double_submits(seeded, web.base, exact_members, args.concurrency)
            )
            asyncio.run(drain(web.base, seeded.tokens[0], plan.ballots[0]))
            result.check = asyncio.run(
                check_votes(url, seeded, plan, posted, (exact_members, answered))
            )
            # The page shows the count: the busiest ballot, as its last member sees it.
            counts = asyncio.run(vote_counts(url))
            ballot_id = max(counts, key=lambda b: counts[b], default=plan.ballots[0])
            result.check.page_count, result.check.page_detail = asyncio.run(
                page_shows(
                    web.base, seeded.tokens[-1], ballot_id, counts.get(ballot_id, 0), args.members
                )
            )
        result.server_cpu_s = {
            "bare": float(bare.final.get("cpu_s", 0.0)),
            "web": float(web.final.get("cpu_s", 0.0)),
        }
        result.batches = int(web.final.get("batches", 0))
        result.dropped = int(web.final.get("abandoned", 0))
    return result


def describe(load: Load) -> str:
    statuses = " ".join(f"{k}:{v}" for k, v in sorted(load.statuses.items()))
    return (
        f"{load.phase:<5} {load.rps:8.0f} req/s  p50 {load.p50_ms:6.1f} ms  "
        f"p99 {load.p99_ms:6.1f} ms  max {load.max_ms:6.1f} ms  "
        f"server CPU {load.cpu_ms:5.1f} ms/request  ({load.requests} done, "
        f"{statuses}, {load.errors} socket errors)"
    )


# --- report --------------------------------------------------------------------------------


def targets(results: list[Result], concurrency: int) -> list[Target]:
    found: list[Target] = []
    for r in results:
        c = r.check
        found.append(
            Target(
                f"{r.database}: every vote POST counted exactly once",
                c.ok,
                c.detail(),
            )
        )
        unexpected = {p: r.total(p, "unexpected") for p in PHASES}
        found.append(
            Target(
                f"{r.database}: every response as expected (200; a vote 303)",
                not any(unexpected.values()),
                ", ".join(f"{p}: {n} not" for p, n in unexpected.items()),
            )
        )
        # A request not answered within wrk's timeout is the load's figure, not a wrong
        # answer: reported.
        errors = {p: r.total(p, "errors") for p in PHASES}
        found.append(
            Target(
                f"{r.database}: every request answered within {TIMEOUT_S} s, no socket error",
                not any(errors.values()),
                ", ".join(f"{p}: {n}" for p, n in errors.items()),
                correctness=False,
            )
        )
        found.append(
            Target(f"{r.database}: the ballot page shows the count", c.page_count, c.page_detail)
        )
    for r in results:
        ratio = r.median("page", "rps") / r.median("bare", "rps")
        found.append(
            Target(
                f"{r.database}: ballot page req/s ÷ bare req/s ≥ {RATIO_TARGET:g}",
                ratio >= RATIO_TARGET,
                f"{ratio:.2f} ({r.median('page', 'rps'):.0f} ÷ {r.median('bare', 'rps'):.0f}); "
                f"by the servers' CPU per request, which the machine's load sways less: "
                f"{r.median('bare', 'cpu_ms') / r.median('page', 'cpu_ms'):.3f} "
                f"({r.median('bare', 'cpu_ms'):.2f} ÷ {r.median('page', 'cpu_ms'):.2f} ms)",
                correctness=False,
            )
        )
        for phase in ("page", "vote"):
            p99 = r.median(phase, "p99_ms")
            # A run whose phase saw no answer within its seconds has no latency at all.
            answered = all(run[phase].requests > 0 for run in r.runs)
            found.append(
                Target(
                    f"{r.database}: {phase} p99 < {P99_TARGET_MS:g} ms at {concurrency} clients",
                    answered and p99 < P99_TARGET_MS,
                    f"{p99:.1f} ms" if answered else "a run answered none within its seconds",
                    correctness=False,
                )
            )
    return found


def print_table(results: list[Result], args: argparse.Namespace) -> None:
    print(
        f"web under load: {args.members:,} members, {args.ballots} ballots, "
        f"{args.concurrency} concurrent clients ({args.client}), {args.seconds:g} s a phase, "
        f"medians of {args.runs} run(s)"
    )
    print(f"{'database':<11}{'phase':<7}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
          f"{'ratio':>8}{'CPU ms/req':>12}")  # fmt: skip
    for r in results:
        bare = r.median("bare", "rps")
        for phase in PHASES:
            rps = r.median(phase, "rps")
            print(
                f"{r.database:<11}{phase:<7}{rps:>9.0f}{r.median(phase, 'p50_ms'):>9.1f}"
                f"{r.median(phase, 'p99_ms'):>9.1f}{r.median(phase, 'max_ms'):>9.1f}"
                f"{rps / bare:>8.2f}{r.median(phase, 'cpu_ms'):>12.2f}"
            )
        cpu = ", ".join(f"{k} {v:.1f} s" for k, v in r.server_cpu_s.items())
        print(
            f"{'':<11}seeding {r.seed_s:.1f} s; servers' CPU {cpu}; "
            f"vote batches written {r.batches:,}; requests dropped by the web because their "
            f"client had gone (in flight at wrk's stops) {r.dropped:,}"
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=None, help="council size (10,000)")
    parser.add_argument("--ballots", type=int, default=None, help="open ballots (50)")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=None, help="measured per phase (10)")
    parser.add_argument("--warmup", type=float, default=None, help="warm-up per phase (2)")
    parser.add_argument("--runs", type=int, default=None, help="runs per database (3)")
    parser.add_argument(
        "--client", choices=["auto", "wrk", "httpx"], default="auto",
        help="load generator (auto: wrk when installed, else httpx)",
    )  # fmt: skip
    parser.add_argument(
        "--double-submits", type=int, default=None,
        help="members posting a vote twice at once with one nonce (1,000)",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="smoke check: 500 members")
    parser.add_argument("--json", action="store_true", help="figures as JSON on stdout")
    parser.add_argument(
        "--profile", metavar="FILE", default=None, help="a cProfile of the web server's process"
    )
    parser.add_argument(
        "--phase", choices=["main", "serve"], default="main", help=argparse.SUPPRESS
    )
    parser.add_argument("--app", choices=["web", "bare"], default="web", help=argparse.SUPPRESS)
    parser.add_argument("--url", default=None, help=argparse.SUPPRESS)
    add_database_args(parser, runs_on="the web")
    args = parser.parse_args(argv)
    quick = args.quick
    for name, full, small in (
        ("members", 10_000, 500),
        ("ballots", 50, 5),
        ("seconds", 10.0, 2.0),
        ("warmup", 2.0, 1.0),
        ("runs", 3, 1),
        ("double_submits", 1_000, 200),
    ):
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "httpx"
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.phase == "serve":
        asyncio.run(serve(args.app, args.url, args.profile))
        return 0
    if args.client == "httpx":
        log("wrk is not installed (Debian: apt-get install wrk): the load comes from httpx")
    kinds, postgres_url, notes = databases(args)
    results = [measure(kind, postgres_url, args) for kind in kinds]
    found = targets(results, args.concurrency)
    if args.json:
        report = {
            "results": [
                {
                    **{k: v for k, v in asdict(r).items() if k != "runs"},
                    "runs": [
                        {p: {**asdict(load), "rps": load.rps} for p, load in run.items()}
                        for run in r.runs
                    ],
                }
                for r in results
            ],
            "notes": notes,
            "targets": targets_json(found),
        }
        print(json.dumps(report, default=str))
        return print_targets(found, file=sys.stderr)
    print_table(results, args)
    for note in notes:
        print(note)
    return print_targets(found)


if __name__ == "__main__":
    sys.exit(main())
