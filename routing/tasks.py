"""Celery tasks of the queuing machine (the "routing" queue). Beat runs `routing.tick` every second."""

from celery import shared_task

from routing import services


@shared_task(name="routing.tick", ignore_result=True)
def routing_tick() -> int:
    return services.routing_tick()


@shared_task(name="routing.rebuild", ignore_result=True)
def routing_rebuild() -> dict:
    return services.routing_rebuild()


@shared_task(name="routing.consoles_expect", ignore_result=True)
def consoles_expect() -> list[int]:
    """At the start of an embedded default's server process (INPROCESS_AT_START): the console presence of
    that profile lived in the process that ended, so every agent counted connected gets the grace to
    reconnect (consoles do at once)."""
    return services.agent_consoles_expect()
