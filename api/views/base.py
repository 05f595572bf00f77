"""What every view of the integrator API shares: the authentication, the permission, the error shape
and the cursor (set once in settings.REST_FRAMEWORK), and here, for every view whatever it declares: the
rate limit per token (api/throttling.py), `Idempotency-Key` on every POST (api/idempotency.py), and no
caching of personal data."""

from __future__ import annotations

from django.utils.cache import add_never_cache_headers

from api import idempotency
from api.throttling import ApiRateThrottle


class ApiMixin:
    """Every view of the API inherits this first: what all of them do beyond settings.REST_FRAMEWORK.
    Cache-Control: no-store on every answer, refusals too (the console's API does the same)."""

    _rate_throttle: ApiRateThrottle | None = None
    # Fields of a POST's answer that a replay answers as null (a secret shown once is not kept).
    idempotency_unkept_fields: tuple[str, ...] = ()

    def get_throttles(self):
        # The API's own limit always applies; a view's throttle_classes can only add to it.
        self._rate_throttle = ApiRateThrottle()
        return [self._rate_throttle, *super().get_throttles()]

    def dispatch(self, request, *args, **kwargs):
        """DRF's APIView.dispatch with one step between the checks (authentication, permissions, rate
        limit) and the handler: a POST's Idempotency-Key is claimed, replayed or refused, and the
        handler's answer kept on it. The handler runs as it would without a key (no transaction of ours
        around it: the services own theirs, as for the console's calls)."""
        self.args = args
        self.kwargs = kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        claim = None
        try:
            self.initial(request, *args, **kwargs)
            method = request.method.lower()
            handler = getattr(self, method, None) if method in self.http_method_names else None
            if handler is None:
                response = self.http_method_not_allowed(request, *args, **kwargs)
            else:
                claim = idempotency.begin(request)
                response = handler(request, *args, **kwargs)
        except idempotency.Replay as replay:
            response = replay.response()
        except Exception as exc:
            try:
                response = self.handle_exception(exc)
            except Exception:
                if claim is not None:
                    idempotency.release(claim)
                raise
        if claim is not None:
            # Keep the answer, a refusal too; forget a failure (5xx) and a "slow down" (429, which a retry
            # after Retry-After must not get again), so that their retry runs again.
            if response.status_code < 500 and response.status_code != 429:
                idempotency.finish(claim, response, self.idempotency_unkept_fields)
            else:
                idempotency.release(claim)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)
        throttle = self._rate_throttle
        if throttle is not None and throttle.remaining is not None:
            response["X-RateLimit-Limit"] = str(throttle.limit)
            response["X-RateLimit-Remaining"] = str(throttle.remaining)
            response["X-RateLimit-Reset"] = str(throttle.reset_s)
        return response


MAX_ID = 2**63 - 1  # the largest id a BigAutoField holds: anything above is no object, not a database error


def object_id(raw) -> int | None:
    """An id written in a path or a query string: ASCII digits within MAX_ID, else None (a Unicode digit
    such as "²" passes str.isdigit but not int(); a huge number overflows the column)."""
    raw = str(raw)
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        return None
    return int(raw)
