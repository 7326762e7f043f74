"""The Bot API clients share one TLS context, and it still verifies certificates."""

from __future__ import annotations

import ssl

from bot.telegram import app
from bot.telegram.local import LocalBot


def test_the_shared_tls_context_verifies_certificates_and_host_names() -> None:
    context = app._tls()
    assert context is app._tls()  # built once per process
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0  # a CA bundle is loaded


async def test_both_of_a_bot_s_clients_use_it(local: LocalBot) -> None:
    bot = local.application.bot
    for request in (bot.request, bot._request[0]):  # requests, and getUpdates
        client = request._client
        pool = client._transport._pool
        assert pool._ssl_context is app._tls()
