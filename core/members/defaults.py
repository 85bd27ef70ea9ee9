"""Always-on hookimpls of the members domain (registered as a core module)."""

from __future__ import annotations

from core.commerce import Benefit, MemberView
from core.hookspecs import hookimpl


@hookimpl(tryfirst=True)
def member_benefits(member: MemberView) -> list[Benefit]:
    """The member's level and its discount, first in the member centre."""
    if member.level_id is None:
        return []
    percent = member.level_discount_percent
    return [
        Benefit(
            source="core.level",
            title=member.level_name,
            detail=f"{percent}% off every order" if percent else "no level discount",
        )
    ]
