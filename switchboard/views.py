"""The project-wide pages: the landing redirect, the health checks (`/healthz` of CONTRACT.md, and the
liveness and readiness answers for nginx and load balancers) and the metrics."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from core import lifecycle
from core import metrics as metrics_module
from core.client_ip import client_ip
from core.redis import redis_client

logger = logging.getLogger(__name__)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("crm:contact_list")


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"
        return f"{type(exc).__name__}: {exc}"
    return None


def _check_redis() -> str | None:
    try:
        client = redis_client(socket_connect_timeout=1, socket_timeout=1, max_connections=1, timeout=1)
        try:
            client.ping()
        finally:
            client.close()
            client.connection_pool.disconnect()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


HEALTHZ_GROUP = "sb-healthz"  # a group nobody joins: publishing to it reaches the layer and no socket


def _check_channel_layer() -> str | None:
    """The channel layer takes a publish (the same path a Celery task's group send takes)."""
    from realtime import switch_layer

    try:
        layer = switch_layer()
        if layer is None:
            return "no channel layer configured"
        layer.group_send_blocking(HEALTHZ_GROUP, {"type": "healthz.probe"})
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _checked(checks: dict[str, str], failing: dict[str, str], name: str, error: str | None) -> None:
    checks[name] = "ok" if error is None else "down"
    if error:
        failing[name] = error


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The database and Redis answer (CONTRACT.md; kept as it was before the split below)."""
    checks: dict[str, str] = {}
    failing: dict[str, str] = {}
    _checked(checks, failing, "database", _check_database())
    if settings.REDIS_URL:
        _checked(checks, failing, "redis", _check_redis())
    return _health_answer(request, "healthz", checks, failing)


@never_cache
@require_GET
def healthz_live(request: HttpRequest) -> JsonResponse:
    """Liveness: the process runs and answers. No dependency is asked (a database outage is no reason
    to restart every process), nothing is read from the session or the database."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def healthz_ready(request: HttpRequest) -> JsonResponse:
    """Readiness: this process may be given work. The database, Redis and the channel layer answer, and
    the process is not draining before a stop (core.lifecycle); 503 otherwise."""
    checks: dict[str, str] = {}
    failing: dict[str, str] = {}
    if lifecycle.draining():
        checks["draining"] = "yes"
        failing["draining"] = "the process is stopping (SIGTERM)"
    _checked(checks, failing, "database", _check_database())
    if settings.REDIS_URL:
        _checked(checks, failing, "redis", _check_redis())
    _checked(checks, failing, "channel_layer", _check_channel_layer())
    return _health_answer(request, "healthz/ready", checks, failing)


def _health_answer(request: HttpRequest, name: str, checks: dict[str, str], failing: dict[str, str]) -> JsonResponse:
    status = 200 if not failing else 503
    body: dict = {"status": "ok" if status == 200 else "fail", "checks": checks}
    if failing and set(failing) != {"draining"}:
        logger.warning("%s failing: %s", name, failing)
    # Exception text names hosts, users and versions: only the operators' machines and staff see it.
    if _may_see_details(request):
        body["profile"] = settings.PROFILE
        if failing:
            body["errors"] = failing
    return JsonResponse(body, status=status)


def _may_see_details(request: HttpRequest) -> bool:
    if client_ip(request) in settings.METRICS_ALLOWED_IPS:
        return True
    try:  # the session lives in the database, which may be the part that is down
        user = request.user
        return bool(user.is_authenticated and user.is_staff)
    except Exception:
        return False


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format. Reachable from the addresses in METRICS_ALLOWED_IPS only."""
    if client_ip(request) not in settings.METRICS_ALLOWED_IPS:
        return HttpResponse("Forbidden", status=403, content_type="text/plain")
    return HttpResponse(metrics_module.render(), content_type=CONTENT_TYPE_LATEST)
