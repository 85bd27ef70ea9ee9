"""The leaders plugin's problem codes, one factory each."""

from __future__ import annotations

from core.errors import AppError, Conflict, Forbidden, Invalid, NotFound

ROUND_CLOSED = "leaders.round_closed"
ROUND_NOT_STARTED = "leaders.round_not_started"
NOT_IN_ROUND = "leaders.not_in_round"
MIXED_ROUNDS = "leaders.mixed_rounds"
LEADER_POINT_REQUIRED = "leaders.leader_point_required"
ROUND_ONLY = "leaders.round_only"


def leader_not_found() -> AppError:
    return NotFound("no such leader", code="leaders.leader_not_found")


def not_applied() -> AppError:
    return NotFound("you have not applied to be a leader", code="leaders.not_applied")


def not_a_leader() -> AppError:
    return Forbidden("only an active leader may do this", code="leaders.not_a_leader")


def leader_not_active() -> AppError:
    return Conflict("this leader is not active", code="leaders.leader_not_active")


def already_applied(status: str) -> AppError:
    return Conflict(f"you are already a leader ({status})", code="leaders.already_applied")


def wrong_status(action: str, status: str) -> AppError:
    return Conflict(f"a leader who is {status} cannot be {action}", code="leaders.wrong_status")


def unknown_level(code: str) -> AppError:
    return Invalid(f"no leader level {code!r} in the settings", code="leaders.unknown_level")


def round_not_found() -> AppError:
    return NotFound("no such round", code="leaders.round_not_found")


def round_closed() -> AppError:
    return Conflict("this round is closed", code=ROUND_CLOSED)


def round_open() -> AppError:
    return Conflict(
        "this round still takes orders: confirm the arrival after its cut-off",
        code="leaders.round_open",
    )


def delivery_not_found() -> AppError:
    return NotFound("nothing of this round goes to this leader", code="leaders.delivery_not_found")
