"""The messenger-neutral runtime: the scheduler and its leader, the inbox, the outbox,
the ballot box, process presence and the clock. It reaches the messenger only through
the port in :mod:`bot.runtime.messenger`."""
