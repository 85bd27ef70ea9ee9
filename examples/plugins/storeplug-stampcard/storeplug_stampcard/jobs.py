"""The stamp card's job: ``stampcard.retry_rewards``, hourly, for every tenant with the plugin
on, issues the coupons full cards could not get when they filled (the template was sold out
or stopped). Safe to repeat: a card with its coupon is never rewarded again."""

from __future__ import annotations

import logging

from core.context import Principal
from core.jobs import JobSpec
from core.runtime import Runtime

from storeplug_stampcard import service

log = logging.getLogger("storeplug.stampcard")
RETRY_JOB = "stampcard.retry_rewards"


async def retry_rewards(rt: Runtime) -> int:
    """The coupons issued now, over all tenants."""
    issued = 0
    for tenant in await rt.tenants.with_plugin(service.PLUGIN):
        principal = Principal(kind="job", id=RETRY_JOB, tenant_id=tenant.id)
        try:
            async with rt.tenant_context(tenant, principal) as ctx:
                issued += await service.retry_rewards(ctx)
        except Exception:  # one tenant's failure does not stop the others
            log.exception("stampcard: retrying the rewards of tenant %s failed", tenant.id)
    return issued


def job_specs() -> list[JobSpec]:
    return [JobSpec(name=RETRY_JOB, function=retry_rewards, retries=0, timeout_s=600)]
