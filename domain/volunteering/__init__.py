"""Use cases of volunteers and dispatch: register, order help, offer, accept, finish.

A task comes from a resolution (``create_task``) or a resident's request
(``request_service``) and has one life cycle (``domain.task_rules.TaskState``).
Offers go out in rounds to the best-ranked candidates as private notices with
Accept / Decline buttons; a round ends when everyone in it declined, could not
be reached, or did not answer in time (the ``OFFER_EXPIRY`` job), and the next
round goes to the next candidates. When nobody is left, the group is told.

Every answer locks the task (``Lock.UPDATE``), so of two volunteers pressing
Accept at the same instant exactly one gets it and the other is told it is taken.

One module per part: ``reading`` (the member acting, skills, texts), ``roster``
(volunteers, teams, units), ``sources`` (where tasks come from), ``offers`` (the
rounds and their answers) and ``hours`` (done, hours, lists). Callers use the
package: ``volunteering.create_task(...)``.
"""

from __future__ import annotations

from domain.volunteering.hours import (
    MAX_HOURS,
    RECENT_TASKS,
    HoursView,
    TaskView,
    TopicCard,
    cancel_task,
    complete_task,
    confirm_task,
    hours_view,
    offer_of,
    offer_view,
    task_view,
    tasks_of_council,
    topic_card,
)
from domain.volunteering.offers import (
    Answered,
    Dispatched,
    answer_offer,
    expire_round,
    offer_sent,
    offer_unreachable,
    remember_offer_message,
)
from domain.volunteering.roster import (
    Registered,
    Registry,
    add_skill,
    add_team,
    add_unit,
    register_volunteer,
    registry,
    toggle_skill,
    volunteer_of,
)
from domain.volunteering.sources import MAX_ASSIGNEES, Assignee, create_task, request_service

__all__ = [
    "MAX_ASSIGNEES",
    "MAX_HOURS",
    "RECENT_TASKS",
    "Answered",
    "Assignee",
    "Dispatched",
    "HoursView",
    "Registered",
    "Registry",
    "TaskView",
    "TopicCard",
    "add_skill",
    "add_team",
    "add_unit",
    "answer_offer",
    "cancel_task",
    "complete_task",
    "confirm_task",
    "create_task",
    "expire_round",
    "hours_view",
    "offer_of",
    "offer_sent",
    "offer_unreachable",
    "offer_view",
    "register_volunteer",
    "registry",
    "remember_offer_message",
    "request_service",
    "task_view",
    "tasks_of_council",
    "toggle_skill",
    "topic_card",
    "volunteer_of",
]
