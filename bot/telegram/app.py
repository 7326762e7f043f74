"""Build the Telegram application: handlers registered in one place."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
from telegram import Bot, BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.config import Settings
from bot.i18n import EN_US, ZH_CN, language_of, t
from bot.runtime.ballot_box import BallotBox
from bot.runtime.bus import MessageBus
from bot.runtime.inbox import Inbox
from bot.runtime.outbox import Outbox
from bot.runtime.presence import Presence
from bot.runtime.scheduler import Scheduler
from bot.telegram.buttons import Signer
from bot.telegram.cards import refresh_meeting_card, refresh_topic_card
from bot.telegram.context import Clock, Deps, utcnow
from bot.telegram.handlers import (
    admission,
    ballots,
    binding,
    console,
    council,
    edits,
    meetings,
    recorded,
    roles,
    roster,
    sign_in,
    tasks,
    topics,
    volunteers,
)
from bot.telegram.limits import MemberLimits
from bot.telegram.messenger import TelegramMessenger
from bot.telegram.notices import NoticeRenderer
from bot.telegram.notices_proposals import refresh_proposal_message
from bot.telegram.polling import Poller
from bot.telegram.processor import PerUserUpdateProcessor
from bot.telegram.ratelimit import NO_RETRY, RateLimiter
from bot.telegram.render import plain
from bot.telegram.startup_calls import retrying
from bot.telegram.tally import TallyRefresher
from domain import services
from domain.events import (
    BallotChanged,
    MeetingChanged,
    NoticesQueued,
    ProposalChanged,
    RemindersChanged,
    ScheduleChanged,
    SignInChanged,
    TopicChanged,
    VoteCast,
)
from domain.model import Notice, NoticeKind
from storage.errors import is_unavailable
from storage.uow import Database

if TYPE_CHECKING:  # aiohttp (~0.1 s to import) is loaded only in webhook mode
    from bot.telegram.webhook import WebhookConfig, WebhookServer

log = logging.getLogger(__name__)

CONCURRENT_UPDATES = 64
SHUTDOWN_GRACE = 30.0  # seconds to finish the updates in hand; the rest wait in the inbox

# (command, catalogue key of its description); the order is the menu's order.
COMMANDS = (
    ("start", "cmd.start"),
    ("help", "cmd.help"),
    ("setup", "cmd.setup"),
    ("join", "cmd.join"),
    ("roll", "cmd.roll"),
    ("cards", "cmd.cards"),
    ("console", "cmd.console"),
    ("rules", "cmd.rules"),
    ("roles", "cmd.roles"),
    ("grant", "cmd.grant"),
    ("revoke", "cmd.revoke"),
    ("pending", "cmd.pending"),
    ("verify", "cmd.verify"),
    ("remove", "cmd.remove"),
    ("settings", "cmd.settings"),
    ("topic", "cmd.topic"),
    ("propose", "cmd.propose"),
    ("done", "cmd.done"),
    ("cancel", "cmd.cancel"),
    ("ballot", "cmd.ballot"),
    ("close", "cmd.close"),
    ("result", "cmd.result"),
    ("signin", "cmd.signin"),
    ("rollcall", "cmd.rollcall"),
    ("assist", "cmd.assist"),
    ("paper", "cmd.paper"),
    ("deadline", "cmd.deadline"),
    ("meeting", "cmd.meeting"),
    ("agenda", "cmd.agenda"),
    ("reminders", "cmd.reminders"),
    ("request", "cmd.request"),
    ("volunteer", "cmd.volunteer"),
    ("tasks", "cmd.tasks"),
    ("hours", "cmd.hours"),
    ("finish", "cmd.finish"),
    ("task", "cmd.task"),
    ("volunteers", "cmd.volunteers"),
    ("skills", "cmd.skills"),
    ("team", "cmd.team"),
    ("unit", "cmd.unit"),
)


def register(application: Application) -> None:  # type: ignore[type-arg]
    handlers = {
        "start": council.start,
        "help": council.help_command,
        "setup": council.setup,
        "join": council.join,
        "roll": council.roll,
        "cards": binding.cards,
        "console": console.console,
        "rules": council.rules,
        "roles": roles.roles,
        "grant": roles.grant,
        "revoke": roles.revoke,
        "pending": admission.pending,
        "verify": admission.verify,
        "remove": admission.remove,
        "settings": admission.settings,
        "topic": topics.topic,
        "propose": topics.propose,
        "done": topics.done,
        "cancel": topics.cancel,
        "ballot": ballots.ballot,
        "close": ballots.close,
        "result": ballots.result,
        "signin": sign_in.signin,
        "rollcall": recorded.rollcall,
        "assist": recorded.assist,
        "paper": recorded.paper,
        "deadline": meetings.deadline,
        "meeting": meetings.meeting,
        "agenda": meetings.agenda,
        "reminders": meetings.reminders,
        "request": tasks.request,
        "volunteer": volunteers.volunteer,
        "tasks": tasks.task_list,
        "hours": volunteers.hours,
        "finish": tasks.finish,
        "task": tasks.task,
        "volunteers": volunteers.volunteers,
        "skills": volunteers.skills,
        "team": volunteers.team,
        "unit": volunteers.unit,
    }
    # Before anything else: a member over the limit of commands in the group is ignored.
    group_commands = filters.ChatType.GROUPS & filters.COMMAND
    application.add_handler(MessageHandler(group_commands, council.limit_commands), group=-2)
    # Then, in a group of its own: note who may be written to privately.
    application.add_handler(TypeHandler(Update, council.note_contact), group=-1)
    # The group became a supergroup: its council moves to the new chat id.
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, council.chat_migrated))
    # A command runs when it is sent. PTB's CommandHandler would run it again for every
    # edit of the message: edits go to their own handler (an edited /propose edits the
    # proposal; other commands are not run again, and the member is told so once).
    sent = filters.UpdateType.MESSAGE
    for name, callback in handlers.items():
        application.add_handler(CommandHandler(name, callback, filters=sent))
    application.add_handler(
        MessageHandler(filters.UpdateType.EDITED_MESSAGE, edits.edited_messages(handlers))
    )
    application.add_handler(CallbackQueryHandler(ballots.vote, pattern=r"^v:"))
    application.add_handler(CallbackQueryHandler(topics.second, pattern=r"^s:"))
    application.add_handler(CallbackQueryHandler(meetings.toggle_agenda, pattern=r"^a:"))
    application.add_handler(CallbackQueryHandler(meetings.calendar, pattern=r"^i:"))
    application.add_handler(CallbackQueryHandler(tasks.answer_offer, pattern=r"^o:"))
    application.add_handler(CallbackQueryHandler(tasks.done_button, pattern=r"^d:"))
    application.add_handler(CallbackQueryHandler(tasks.confirm_button, pattern=r"^c:"))
    application.add_handler(CallbackQueryHandler(volunteers.toggle_skill, pattern=r"^k:"))
    application.add_handler(CallbackQueryHandler(council.roll_button, pattern=r"^r:"))
    application.add_handler(CallbackQueryHandler(roster.pick_for_import, pattern=r"^rc:"))
    application.add_handler(CallbackQueryHandler(roster.pick_for_export, pattern=r"^rx:"))
    application.add_handler(CallbackQueryHandler(roster.decide, pattern=r"^ri:"))
    application.add_handler(CallbackQueryHandler(admission.entry_button, pattern=r"^j:"))
    # A chair who is no longer a group admin stops chairing (Telegram tells admin bots).
    application.add_handler(ChatMemberHandler(roles.admins_changed, ChatMemberHandler.CHAT_MEMBER))
    # Votes from the meeting room and the doorstep (render_recorded names the actions).
    for action, callback in (
        ("qi", sign_in.check_in),
        ("qa", sign_in.attendance),
        ("qt", sign_in.toggle),
        ("qx", sign_in.close),
        ("qp", recorded.rollcall_page),
        ("qm", recorded.rollcall_member),
        ("qr", recorded.record_raised_hand),
        ("qw", recorded.own_vote),
        ("qc", recorded.paper_confirm),
        ("qn", recorded.paper_cancel),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=rf"^{action}:"))
    # A file of paper ballots, captioned "/paper [ballot]", in a private chat.
    paper_file = filters.Document.ALL & filters.CaptionRegex(r"^/paper(@\w+)?(\s|$)")
    application.add_handler(
        MessageHandler(sent & filters.ChatType.PRIVATE & paper_file, recorded.paper)
    )
    # Any other file sent privately (not captioned with a command): a roll to check.
    roll_file = filters.Document.ALL & ~filters.CaptionRegex(r"^/")
    application.add_handler(
        MessageHandler(sent & filters.ChatType.PRIVATE & roll_file, roster.document)
    )
    # A photo captioned "/request …" or "/finish …": the command with a picture.
    for command, callback in (("request", tasks.request), ("finish", tasks.finish)):
        caption = filters.CaptionRegex(rf"^/{command}(@\w+)?(\s|$)")
        application.add_handler(MessageHandler(sent & filters.PHOTO & caption, callback))
    application.add_handler(CallbackQueryHandler(ballots.vote))  # anything else: refused as stale
    application.add_handler(
        MessageHandler(
            sent & filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, topics.draft_text
        )
    )
    application.add_error_handler(on_error)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure and tell the person truthfully, so no button is left spinning.

    The database away: "暂时无法记录" — the transaction was rolled back, nothing is
    half-written. Telegram unreachable (a timeout, a lost connection): say nothing,
    since the use case may well have taken effect and its answer was what failed.
    """
    error = context.error
    # PTB's BadRequest is a NetworkError too, but it is Telegram refusing: a bug of ours.
    if isinstance(error, NetworkError) and not isinstance(error, BadRequest):
        log.warning(
            "update %s: Telegram unreachable (%s)", getattr(update, "update_id", "?"), error
        )
        return
    unavailable = is_unavailable(error)
    if unavailable:
        log.warning(
            "update %s: the database is unavailable (%s)", getattr(update, "update_id", "?"), error
        )
    else:
        log.error("update %s failed", getattr(update, "update_id", "?"), exc_info=error)
    if not isinstance(update, Update):
        return
    user = update.effective_user
    lang = language_of(user.language_code if user else None)
    try:
        if update.callback_query is not None:
            key = "error.unavailable_press" if unavailable else "error.internal"
            await update.callback_query.answer(plain(t(lang, key)), show_alert=True)
        elif update.effective_message is not None:
            key = "error.unavailable_message" if unavailable else "error.internal"
            await update.effective_message.reply_text(t(lang, key))
    except TelegramError:
        log.debug("could not report the failure", exc_info=True)


def signer_for(settings: Settings, token: str) -> Signer:
    return Signer(hashlib.sha256(_secret(settings, token).encode()).digest())


def _secret(settings: Settings, token: str) -> str:
    return settings.secret.get_secret_value() if settings.secret else token


def webhook_config(settings: Settings, token: str) -> WebhookConfig:
    """The webhook from the settings; its secret token, unless given, is derived from the
    secret, so every process of a deployment checks the same one."""
    from bot.telegram.webhook import WebhookConfig

    assert settings.webhook_url is not None
    if settings.webhook_secret is not None:
        secret_token = settings.webhook_secret.get_secret_value()
    else:
        derived = hashlib.sha256(b"yishi-webhook:" + _secret(settings, token).encode())
        secret_token = derived.hexdigest()
    return WebhookConfig(
        url=settings.webhook_url,
        secret_token=secret_token,
        listen=settings.webhook_listen,
        port=settings.webhook_port,
        max_connections=settings.webhook_max_connections,
    )


@functools.cache
def _tls() -> ssl.SSLContext:
    """The TLS context every Bot API client of this process shares: httpx's default
    (certifi's CA bundle, or SSL_CERT_FILE), which httpx would otherwise build again
    for each client, reading the bundle each time (~30 ms of CPU, twice per bot)."""
    return httpx.create_ssl_context()


def _request(connections: int) -> HTTPXRequest:
    """PTB's own HTTP client with its default timeouts, on the shared TLS context."""
    return HTTPXRequest(connection_pool_size=connections, httpx_kwargs={"verify": _tls()})


def build_application(
    settings: Settings,
    database: Database,
    *,
    token: str,
    clock: Clock = utcnow,
    rate_limiter: bool = True,
) -> Application:  # type: ignore[type-arg]
    builder = (
        ApplicationBuilder()
        .token(token)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .concurrent_updates(PerUserUpdateProcessor(CONCURRENT_UPDATES))
        # Scheduled work is bot.runtime.scheduler's, persisted; PTB's in-memory JobQueue (which
        # it makes whenever APScheduler is installed) would be a second, idle scheduler.
        .job_queue(None)
        # Updates come through the durable inbox (bot.telegram.polling, bot.telegram.webhook): PTB's
        # Updater confirms a batch to Telegram before it is handled.
        .updater(None)
        # One connection per update in flight; past ~128 open connections httpx
        # stalls requests for seconds, which then reach Telegram in bursts.
        .request(_request(CONCURRENT_UPDATES))
        .get_updates_request(_request(1))
    )
    if rate_limiter:
        limiter = RateLimiter(
            overall_max_rate=settings.messages_per_second,
            group_max_rate=settings.group_messages_per_minute,
            max_retries=5,
        )
        builder = builder.rate_limiter(limiter)  # type: ignore[arg-type]  # typed for None
    if settings.telegram_base_url:
        # As PTB does with its default "https://api.telegram.org/bot": the token is appended.
        base = settings.telegram_base_url
        builder = builder.base_url(base)
        if base.endswith("/bot"):
            builder = builder.base_file_url(base.removesuffix("/bot") + "/file/bot")
    application = builder.build()
    signer = signer_for(settings, token)
    presence = Presence(database.url)
    refresher = TallyRefresher(
        application.bot, database.uow, signer, settings.tally_edit_interval, settings=settings
    )
    ballot_box = BallotBox(database.uow, clock)
    notices = NoticeRenderer(
        application.bot,
        database.uow,
        signer,
        refresher,
        chart_font=settings.cards_font,
        settings=settings,
    )

    async def chat_moved(old: int, new: int) -> None:
        await services.move_chat(database.uow(), old_chat_id=old, new_chat_id=new, now=clock())

    async def in_doubt(notice: Notice) -> None:
        # An outcome is never announced twice; its ballot message, frozen with the
        # result by an edit (safe to repeat), stands for it.
        if notice.kind is NoticeKind.BALLOT_OUTCOME:
            await refresher.refresh(notice.subject, force=True)

    # A 429 comes back to the outbox (the notice waits alone) instead of holding every send.
    messenger = TelegramMessenger(application.bot, rate_limit_args=NO_RETRY)
    outbox = Outbox(messenger, database.uow, clock, notices, presence, chat_moved, in_doubt)
    inbox = Inbox(
        database, presence, bot_id_of(token), clock, functools.partial(handle, application)
    )

    async def housekeeping() -> None:
        await outbox.recover()
        await inbox.housekeeping()
        await refresher.follow_others()  # votes another process (the web) wrote

    scheduler = Scheduler(
        database.url,
        database.uow,
        clock=clock,
        on_notices=outbox.kick,
        on_lead=outbox.recover,
        on_tick=housekeeping,
        grace=timedelta(minutes=settings.reminder_grace_minutes),
        poll=settings.scheduler_poll,
    )
    bus = MessageBus()
    database.publish_to(bus.handle)
    _follow(bus, application.bot, database, signer, scheduler, outbox, refresher, settings)
    application.bot_data["deps"] = Deps(
        settings,
        database,
        signer,
        refresher,
        ballot_box,
        scheduler,
        outbox,
        clock,
        presence,
        inbox,
        MemberLimits.from_settings(settings),
        bus,
    )
    register(application)
    return application


def _follow(
    bus: MessageBus,
    bot: Bot,
    database: Database,
    signer: Signer,
    scheduler: Scheduler,
    outbox: Outbox,
    refresher: TallyRefresher,
    settings: Settings | None = None,
) -> None:
    """What follows each domain event, in one place (``bot.runtime.bus``)."""

    async def reconcile(_event: RemindersChanged) -> None:
        await scheduler.reconcile()

    async def topic_card(event: TopicChanged) -> None:
        await refresh_topic_card(bot, database.uow, signer, event.topic_id, settings=settings)

    async def meeting_card(event: MeetingChanged) -> None:
        await refresh_meeting_card(bot, database.uow, signer, event.meeting_id)

    async def ballot_message(event: BallotChanged) -> None:
        await refresher.refresh(event.ballot_id, force=True)

    bus.subscribe(ScheduleChanged, scheduler.follow)
    bus.subscribe(RemindersChanged, reconcile)
    bus.subscribe(NoticesQueued, lambda _event: outbox.kick())
    bus.subscribe(VoteCast, lambda event: refresher.request(event.ballot_id))
    bus.subscribe(BallotChanged, ballot_message)
    bus.subscribe(TopicChanged, topic_card)

    async def proposal_message(event: ProposalChanged) -> None:
        await refresh_proposal_message(bot, database.uow, signer, event.proposal_id)

    bus.subscribe(ProposalChanged, proposal_message)
    bus.subscribe(MeetingChanged, meeting_card)

    async def sign_in_card(event: SignInChanged) -> None:
        await sign_in.refresh_card(bot, database.uow, signer, event.meeting_id)

    bus.subscribe(SignInChanged, sign_in_card)


def bot_id_of(token: str) -> int:
    """A bot's id is the part of its token before the colon."""
    return int(token.split(":", 1)[0])


async def handle(application: Application, payload: dict[str, Any], parsed: object | None) -> None:  # type: ignore[type-arg]
    """Handle one stored update with the application's handlers, in the per-user order."""
    update = parsed if isinstance(parsed, Update) else Update.de_json(payload, application.bot)
    await application.update_processor.process_update(update, _handled(application, update))


async def _handled(application: Application, update: Update) -> None:  # type: ignore[type-arg]
    """The handlers' work on one update; what its committed events set off follows it."""
    deps: Deps = application.bot_data["deps"]
    async with deps.bus.held():
        await application.process_update(update)


@asynccontextmanager
async def running(
    application: Application,  # type: ignore[type-arg]
    *,
    poll_timeout: int = 10,
    webhook: WebhookConfig | None = None,
) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """The bot from start-up (command menu, catch-up, what a crash left) to a clean
    shutdown, receiving updates by long polling or, with ``webhook``, by a webhook.

    Start-up order matters: the updates a previous run stored but did not handle are
    handled before new ones are fetched, and new ones are confirmed to Telegram only
    once stored. At shutdown, fetching stops first, then what is in hand is finished.
    """
    deps: Deps = application.bot_data["deps"]
    # ``async with`` initializes too (getMe); done first so a passing fault is retried.
    await retrying(application.initialize, what="getMe")
    async with application:
        await deps.presence.announce()
        await startup(application)
        await application.start()
        receiver: Poller | WebhookServer
        try:
            await deps.inbox.recover()
            await deps.inbox.prune(force=True)
            if webhook is None:
                receiver = Poller(
                    application.bot,
                    deps.inbox,
                    timeout=poll_timeout,
                    language=deps.settings.language,
                )
            else:
                from bot.telegram.webhook import WebhookServer

                receiver = WebhookServer(
                    application.bot, deps.inbox, webhook, deps.settings.language
                )
            await receiver.start()
            application.bot_data["receiver"] = receiver
            try:
                yield application
            finally:
                await receiver.stop()
                await deps.inbox.drain(timeout=SHUTDOWN_GRACE)
        finally:
            await application.stop()
            await shutdown(application)
            await deps.presence.close()


async def startup(application: Application) -> None:  # type: ignore[type-arg]
    """After the bot is initialized: publish the command menu, catch up on ballots, start
    the scheduler. The menu needs only Telegram, so it is published while the rest works
    on the database, instead of adding its round trips to the start-up."""
    deps: Deps = application.bot_data["deps"]
    menu = asyncio.create_task(publish_menu(application.bot), name="yishi:menu")
    try:
        await deps.refresher.catch_up()
        await deps.scheduler.start()
    except BaseException:
        menu.cancel()
        raise
    await menu


async def publish_menu(bot: Bot) -> None:
    """The command menu in each language; without it the bot still works, so a
    menu Telegram keeps refusing is logged, not fatal. One after another: at once, each
    would open a connection of its own (a TLS handshake each, with Telegram), where one
    after another they reuse getMe's."""
    menus: list[tuple[str | None, list[BotCommand]]] = [
        (code, [BotCommand(name, t(language, key)) for name, key in COMMANDS])
        for language, code in ((ZH_CN, "zh"), (EN_US, "en"))
    ]
    menus.append((None, [BotCommand(n, t(ZH_CN, k)) for n, k in COMMANDS]))
    for code, commands in menus:
        try:
            await retrying(
                functools.partial(bot.set_my_commands, commands, language_code=code),
                attempts=3,
                what="setMyCommands",
            )
        except TelegramError as error:
            log.warning("the command menu (%s) was not published: %s", code or "default", error)


async def shutdown(application: Application) -> None:  # type: ignore[type-arg]
    deps: Deps = application.bot_data["deps"]
    await deps.scheduler.stop()
    await deps.ballot_box.close()
    await deps.outbox.drain()
    await deps.refresher.drain()
