"""Settings from the environment and ``.env`` (pydantic-settings)."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///yishi.sqlite3"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="YISHI_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    telegram_token: SecretStr | None = None
    # Passed to PTB's ``base_url``; PTB appends the token, as for api.telegram.org.
    telegram_base_url: str | None = None
    database_url: str = DEFAULT_DATABASE_URL
    timezone: str = "Asia/Shanghai"
    language: str = "zh-CN"
    # Seconds between two edits of one ballot message: a group may receive about
    # 20 messages a minute, so a burst of votes is shown in a few coalesced edits.
    tally_edit_interval: float = 3.0
    # Flood limits the bot keeps to (PTB's AIORateLimiter): Telegram's published ones.
    group_messages_per_minute: int = 20
    messages_per_second: int = 30
    # A reminder later than this (the bot was down) is skipped rather than sent late.
    reminder_grace_minutes: float = 15.0
    # Seconds between the scheduler's checks: leadership, and jobs other processes added.
    scheduler_poll: float = 10.0
    # Signs button data and deep links so forged ones are refused; derived from the token
    # if unset.
    secret: SecretStr | None = None

    # Webhook mode (``yishi run --webhook``): Telegram posts to ``webhook_url`` (the
    # reverse proxy's public HTTPS address), which forwards to webhook_listen:webhook_port
    # on the same path. The secret token is derived from the secret if unset.
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8081
    webhook_secret: SecretStr | None = None
    webhook_max_connections: int = 40

    # Per-member limits on what the bot posts for one member (0: no limit).
    limit_proposals_per_hour: int = 5
    limit_requests_per_hour: int = 3
    limit_group_commands: int = 20  # commands in a group ...
    limit_group_window_minutes: float = 10.0  # ... within this many minutes

    # Binding codes (绑定码) on printed cards: how many days one is valid, and how many
    # wrong codes one account may try within an hour before it is refused (0: no limit).
    binding_code_days: int = 30
    limit_binding_failures_per_hour: int = 5
    # A CJK font file (OpenType/TrueType, or a collection) for the cards' PDF; unset,
    # Debian's fonts-noto-cjk is looked for.
    cards_font: str | None = None

    # The web (``yishi web``, or ``yishi run`` with ``web_in_run``): the staff console
    # and the residents' page, served on web_host:web_port.
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    # The address people open (the reverse proxy's public HTTPS address): sign-in links,
    # the cards' second QR code and the Mini App buttons use it. Unset: http://host:port.
    web_url: str | None = None
    web_in_run: bool = False  # serve the web in the bot's process too
    web_link_minutes: float = 10.0  # a /console sign-in link is valid this long, once
    web_staff_hours: float = 12.0  # a console session
    web_resident_days: float = 180.0  # a household's browser stays signed in
    limit_web_failures_per_hour: int = 10  # refused links and keys per client address
    web_app_max_age_minutes: float = 60.0  # how old a Mini App's initData may be
    # The Mini App's short name given to BotFather (t.me/<bot>/<name>); unset, buttons in
    # a group open the bot's main Mini App (t.me/<bot>?startapp=...).
    web_app_name: str | None = None

    # A database that cannot be reached at start-up is waited for, trying again with
    # a growing pause up to this many seconds.
    database_retry_max: float = 30.0

    def public_web_url(self) -> str:
        """The web's address as people open it, without a trailing slash."""
        if self.web_url:
            return self.web_url.rstrip("/")
        host = self.web_host if ":" not in self.web_host else f"[{self.web_host}]"
        return f"http://{host}:{self.web_port}"
