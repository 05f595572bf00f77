#!/usr/bin/env bash
# One machine, the production shape: N daphne processes behind nginx, Celery workers per queue, one
# Celery beat, one Redis, one MySQL.
#   scripts/cluster.sh start   (DAPHNE_PROCS=2 CLUSTER_PORT=8080 by default)
#   scripts/cluster.sh stop | status
# Its environment: CLUSTER_DATABASE_URL (default the local `switchboard` database), CLUSTER_REDIS_URL
# (default Redis database 1). Logs and pid files under var/cluster/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUN="$ROOT/var/cluster"
PROCS=${DAPHNE_PROCS:-2}
PORT=${CLUSTER_PORT:-8080}
FIRST=${DAPHNE_FIRST_PORT:-8101}

export DATABASE_URL=${CLUSTER_DATABASE_URL:-mysql://root@127.0.0.1:3306/switchboard}
export REDIS_URL=${CLUSTER_REDIS_URL:-redis://127.0.0.1:6379/1}
export SECRET_KEY=${SECRET_KEY:-cluster-secret-key-for-this-machine-only-0123456789}
export ALLOWED_HOSTS=${ALLOWED_HOSTS:-127.0.0.1,localhost}
export SECURE_COOKIES=${SECURE_COOKIES:-0}
# nginx listens on plain HTTP on loopback here; a real deployment ends TLS in nginx (docs/deployment.md).
export SECURE_SSL_REDIRECT=${SECURE_SSL_REDIRECT:-0}
export DEBUG=0
BIN="$ROOT/.venv/bin"

start() {
  mkdir -p "$RUN"
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || {
    [ "$(id -u)" = 0 ] || { echo "Please install nginx"; exit 1; }
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
  }
  bash scripts/services.sh >/dev/null
  "$BIN/python" manage.py migrate --noinput -v0
  "$BIN/python" manage.py collectstatic --noinput -v0
  upstreams=()
  for i in $(seq 0 $((PROCS - 1))); do
    port=$((FIRST + i))
    nohup "$BIN/daphne" --proxy-headers -b 127.0.0.1 -p "$port" config.asgi:application >"$RUN/daphne-$port.log" 2>&1 &
    echo $! >"$RUN/daphne-$port.pid"
    upstreams+=("127.0.0.1:$port")
  done
  nohup "$BIN/celery" -A config worker -Q default,gateway,routing,media,bots,webhooks -c 2 -n "worker1@%h" \
    --loglevel=INFO >"$RUN/worker1.log" 2>&1 &
  echo $! >"$RUN/worker1.pid"
  nohup "$BIN/celery" -A config beat --loglevel=INFO -s "$RUN/celerybeat-schedule" \
    >"$RUN/beat.log" 2>&1 &
  echo $! >"$RUN/beat.pid"
  static_root=$("$BIN/python" -c "import django,os;os.environ.setdefault('DJANGO_SETTINGS_MODULE','config.settings');django.setup();from django.conf import settings;print(settings.STATIC_ROOT)")
  "$BIN/python" deploy/nginx_conf.py "$RUN" "$PORT" "$static_root" "${upstreams[@]}" >/dev/null
  nginx -c "$RUN/nginx.conf" -p "$RUN"
  for _ in $(seq 1 60); do
    curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && { echo "Cluster up on http://127.0.0.1:$PORT ($PROCS daphne)"; return 0; }
    sleep 0.5
  done
  echo "Cluster did not answer on :$PORT; see $RUN/*.log" >&2
  exit 1
}

stop() {
  [ -f "$RUN/nginx.pid" ] && nginx -c "$RUN/nginx.conf" -p "$RUN" -s quit 2>/dev/null || true
  for pidfile in "$RUN"/*.pid; do
    [ -e "$pidfile" ] || continue
    [ "$(basename "$pidfile")" = nginx.pid ] && continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
  echo "Cluster stopped"
}

status() {
  for pidfile in "$RUN"/*.pid; do
    [ -e "$pidfile" ] || continue
    name=$(basename "$pidfile" .pid)
    if kill -0 "$(cat "$pidfile")" 2>/dev/null; then echo "$name up"; else echo "$name down"; fi
  done
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status"; exit 2 ;;
esac
