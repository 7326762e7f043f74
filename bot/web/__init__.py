"""The web front end (Starlette, Jinja2): the staff console and the residents' page,
over the same use cases, unit of work and audit trail as the chat."""
