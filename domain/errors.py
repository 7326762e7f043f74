"""Refusals the domain can give.

Each refusal carries a stable ``code`` and the values a message needs, so the
front end can say *why* in the member's language; the domain never words
messages itself.
"""

from __future__ import annotations


class DomainError(Exception):
    """A use case refused: nothing was changed."""

    code = "error"

    def __init__(self, **params: object) -> None:
        super().__init__(self.code, params)
        self.params: dict[str, object] = params


class NotFound(DomainError):
    code = "not_found"


class CouncilNotSetUp(DomainError):
    code = "council_not_set_up"


class CouncilAlreadySetUp(DomainError):
    code = "council_already_set_up"


class NotGroupAdmin(DomainError):
    code = "not_group_admin"


class NotChair(DomainError):
    code = "not_chair"


class NotStaff(DomainError):
    """Only chairs and staff (社工 / 网格员) may do this."""

    code = "not_staff"


class NotMember(DomainError):
    code = "not_member"


class MembershipPending(DomainError):
    code = "membership_pending"


class AlreadyMember(DomainError):
    code = "already_member"


class AccountTaken(DomainError):
    """The messenger account is already another member's on this council's roll;
    ``params``: ``messenger``, ``account``."""

    code = "account_taken"


class InvalidInput(DomainError):
    """Bad text typed by a user; ``params['field']`` names what was wrong."""

    code = "invalid_input"


class TextTooLong(DomainError):
    code = "text_too_long"


class TopicNotFound(DomainError):
    code = "topic_not_found"


class NoOpenTopic(DomainError):
    code = "no_open_topic"


class WrongPhase(DomainError):
    """The topic is not in the phase this action needs."""

    code = "wrong_phase"


class ProposalNotFound(DomainError):
    code = "proposal_not_found"


class OwnProposal(DomainError):
    code = "own_proposal"


class NotEditable(DomainError):
    """An edited message cannot change what it made; ``params['field']`` says why:
    ``no_proposal`` (it made none), ``not_author``, ``phase`` (the topic no longer
    collects proposals; ``topic``, ``phase``) or ``seconded`` (``count``)."""

    code = "not_editable"


class BallotNotFound(DomainError):
    code = "ballot_not_found"


class BallotClosed(DomainError):
    code = "ballot_closed"


class InvalidChoice(DomainError):
    code = "invalid_choice"


class TooFewOptions(DomainError):
    code = "too_few_options"


class UnknownRule(DomainError):
    code = "unknown_rule"


class Redelivered(DomainError):
    """The same update arrived again; its first delivery already took effect."""

    code = "redelivered"


class StaleButton(DomainError):
    """Button data that does not belong to the message it was pressed on."""

    code = "stale_button"


class MeetingNotFound(DomainError):
    code = "meeting_not_found"


class MeetingCancelled(DomainError):
    code = "meeting_cancelled"


class AlreadyExists(DomainError):
    code = "already_exists"


class NotVolunteer(DomainError):
    code = "not_volunteer"


class TaskNotFound(DomainError):
    code = "task_not_found"


class UnknownSkill(DomainError):
    code = "unknown_skill"


class NoDecidedTopic(DomainError):
    code = "no_decided_topic"


class NotAssignee(DomainError):
    code = "not_assignee"


class NotRequester(DomainError):
    code = "not_requester"


class TooMany(DomainError):
    """A member reached the council's limit on something the bot posts for them;
    ``params``: ``field`` (what: proposals, requests), ``limit`` and ``minutes``."""

    code = "too_many"


class StaleLink(DomainError):
    """A deep link that is forged, outdated, or not meant for this person."""

    code = "stale_link"


class NotVoter(DomainError):
    """A participant (列席) may propose and take tasks, but has no vote."""

    code = "not_voter"


class LastChair(DomainError):
    """The council's only chair cannot lose the role: it would have nobody to run it."""

    code = "last_chair"


class RoleUnchanged(DomainError):
    """The person already has the role (``field``: the role) or has not
    (``field``: ``not_<role>``); ``params['name']`` names them."""

    code = "role_unchanged"


class NotPending(DomainError):
    """A join already decided (``params['field']``: active or removed)."""

    code = "not_pending"


class SelfJoinClosed(DomainError):
    """The council's roll is kept by its staff: residents do not /join themselves."""

    code = "self_join_closed"


class Ambiguous(DomainError):
    """What a command names fits several; ``params['choices']`` lists them."""

    code = "ambiguous"
