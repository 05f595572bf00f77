"""The project-wide pages: the landing redirect, the health check of CONTRACT.md and the metrics."""

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


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    failing: dict[str, str] = {}
    error = _check_database()
    checks["database"] = "ok" if error is None else "down"
    if error:
        failing["database"] = error
    if settings.REDIS_URL:
        error = _check_redis()
        checks["redis"] = "ok" if error is None else "down"
        if error:
            failing["redis"] = error
    status = 200 if not failing else 503
    body: dict = {"status": "ok" if status == 200 else "fail", "checks": checks}
    if failing:
        logger.warning("healthz failing: %s", failing)
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
