#!/usr/bin/env bash
# Makes sure MariaDB and Redis answer on 127.0.0.1 for the tests: starts them where installed but
# stopped, installs them where missing (as root). Idempotent.
set -euo pipefail

wait_for() { # name, command
  for _ in $(seq 1 60); do
    if eval "$2" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "$1 did not come up" >&2
  return 1
}

apt_install() {
  if [ "$(id -u)" != 0 ]; then echo "Please install: $*" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

mysql_ok="mysqladmin --protocol=tcp -h127.0.0.1 -P3306 -uroot ping"
if ! eval "$mysql_ok" >/dev/null 2>&1; then
  command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server mariadb-client
  echo "Starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql \
    || /usr/sbin/mariadbd --user=mysql &
  wait_for MariaDB "$mysql_ok"
fi
# Root over TCP with no password, as on these machines; a fresh install uses unix_socket auth for root.
if ! mariadb --protocol=tcp -h127.0.0.1 -uroot -e "SELECT 1" >/dev/null 2>&1; then
  mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); FLUSH PRIVILEGES;" || true
fi

redis_ok="redis-cli -h 127.0.0.1 -p 6379 ping"
if ! eval "$redis_ok" 2>/dev/null | grep -q PONG; then
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server redis-tools
  echo "Starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis "$redis_ok"
fi
echo "MariaDB and Redis are up"
# The database the production profile uses on this machine (make bench, make cluster); tests make their own.
mariadb --protocol=tcp -h127.0.0.1 -uroot -e \
  "CREATE DATABASE IF NOT EXISTS switchboard CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" || true
