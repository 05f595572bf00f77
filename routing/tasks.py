"""Celery tasks of the queuing machine (the "routing" queue). Beat runs `routing.tick` every second."""

from celery import shared_task

from routing import services


@shared_task(name="routing.tick", ignore_result=True)
def routing_tick() -> int:
    return services.routing_tick()


@shared_task(name="routing.rebuild", ignore_result=True)
def routing_rebuild() -> dict:
    return services.routing_rebuild()
