#!/bin/sh
# Starts the runtime in the container. With a config mounted at
# $CHI_SERVER_CONF (default /etc/chimaera/chimaera.yaml), ${VAR} in it are
# replaced from the environment; without one, the config is written from
# environment variables (names below, defaults in brackets). Then the
# runtime replaces this shell (exec), so `docker stop` reaches it.
set -eu

MOUNTED="${CHI_SERVER_CONF:-/etc/chimaera/chimaera.yaml}"
CONFIG=/run/chimaera/chimaera.yaml
mkdir -p /run/chimaera

if [ -f "$MOUNTED" ]; then
  # ${NAME} -> the variable's value (unset ones stay as written).
  perl -pe 's/\$\{(\w+)\}/exists $ENV{$1} ? $ENV{$1} : $&/ge' "$MOUNTED" > "$CONFIG"
else
  cat > "$CONFIG" <<YAML
workers:
  sched_threads: ${CHI_SCHED_THREADS:-2}
  slow_threads: ${CHI_SLOW_THREADS:-2}
memory:
  main_segment_size: ${CHI_MAIN_SEGMENT_SIZE:-256M}
  client_data_segment_size: ${CHI_CLIENT_DATA_SEGMENT_SIZE:-128M}
  runtime_data_segment_size: ${CHI_RUNTIME_DATA_SEGMENT_SIZE:-128M}
networking:
  port: ${CHI_PORT:-5555}
  wait_for_restart: ${CHI_WAIT_FOR_RESTART:-30}
  wait_for_restart_poll_period: ${CHI_WAIT_FOR_RESTART_POLL_PERIOD:-1}
YAML
  if [ -n "${CHI_HOSTFILE:-}" ]; then
    echo "  hostfile: ${CHI_HOSTFILE}" >> "$CONFIG"
  fi
  cat >> "$CONFIG" <<YAML
logging:
  level: ${CHI_LOG_LEVEL:-info}
  file: ""
runtime:
  heartbeat_interval: ${CHI_HEARTBEAT_INTERVAL:-1000}
YAML
  if [ -n "${CHI_COMPOSE_FILE:-}" ]; then
    # A file holding a `compose:` section, appended as it is.
    cat "$CHI_COMPOSE_FILE" >> "$CONFIG"
  fi
fi

export CHI_SERVER_CONF="$CONFIG"
exec chimaera_start_runtime "$@"
