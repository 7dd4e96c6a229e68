#!/usr/bin/env bash
# Run a local Apache Kafka 4.x broker (single combined KRaft node) on 127.0.0.1 without
# Docker: the broker's jars come from Maven Central (kafka/pom.xml) and run with `java -cp`.
#
# Usage: scripts/kafka.sh {fetch|start|stop|status|wipe|bootstrap}
#   fetch      download the broker jars into $KAFKA_CACHE_DIR/lib (no-op when cached)
#   start      fetch, format storage on first use, start the broker, wait until it is up
#   stop       stop the broker started by `start` (TERM, then KILL after 20 s)
#   status     exit 0 if the broker accepts connections, 1 otherwise
#   wipe       stop and delete the run dir (topics, offsets, logs)
#   bootstrap  print the bootstrap address (host:port)
#
# Environment:
#   KAFKA_BOOTSTRAP_SERVERS  use an existing broker: start/stop do nothing, status probes it
#   KAFKA_PORT               PLAINTEXT port (default 9092)
#   KAFKA_CONTROLLER_PORT    controller port (default KAFKA_PORT+1)
#   KAFKA_CACHE_DIR          jar cache (default <repo>/.cache/kafka)
#   KAFKA_RUN_DIR            pid, log, data, server.properties (default <repo>/.run/kafka-$KAFKA_PORT)
#   KAFKA_START_TIMEOUT      seconds to wait for the broker (default 60)
#   KAFKA_HEAP_OPTS          default "-Xms256m -Xmx512m"
#   KAFKA_JVM_OPTS           extra JVM options
# Needs Java 17+ and Maven with access to Maven Central (only for the first fetch).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(dirname "$SCRIPT_DIR")"
KAFKA_DIR="$REPO_ROOT/kafka"
POM="$KAFKA_DIR/pom.xml"

# The pinned version lives in kafka/pom.xml only.
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1)"
DEP_PLUGIN_VERSION="$(sed -n 's:.*<dependency-plugin.version>\(.*\)</dependency-plugin.version>.*:\1:p' "$POM" | head -n1)"

KAFKA_PORT="${KAFKA_PORT:-9092}"
if ! [[ "$KAFKA_PORT" =~ ^[0-9]+$ ]]; then
  echo "kafka.sh: KAFKA_PORT must be a number, got '$KAFKA_PORT'" >&2
  exit 2
fi
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_CACHE_DIR="${KAFKA_CACHE_DIR:-$REPO_ROOT/.cache/kafka}"
LIB_DIR="$KAFKA_CACHE_DIR/lib"
KAFKA_RUN_DIR="${KAFKA_RUN_DIR:-$REPO_ROOT/.run/kafka-$KAFKA_PORT}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:-}"

PID_FILE="$KAFKA_RUN_DIR/kafka.pid"
LOG_FILE="$KAFKA_RUN_DIR/kafka.log"
DATA_DIR="$KAFKA_RUN_DIR/data"
PROPS_FILE="$KAFKA_RUN_DIR/server.properties"
HOST=127.0.0.1

log() { echo "kafka.sh: $*"; }
err() { echo "kafka.sh: $*" >&2; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# port_open HOST PORT: true if a TCP connection succeeds.
port_open() {
  # shellcheck disable=SC2016  # $1/$2 expand in the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }
MARKER="$LIB_DIR/.fetched"

fetched() {
  [[ -f "$LIB_DIR/kafka_2.13-$KAFKA_VERSION.jar" && -f "$MARKER" ]] &&
    [[ "$(cat "$MARKER")" == "kafka_2.13-$KAFKA_VERSION $(pom_hash)" ]]
}

fail_tools() {
  err "ERROR: $1"
  err "  Running a local Kafka broker needs Java 17+ and Maven (mvn) with access to Maven Central"
  err "  (the first run downloads org.apache.kafka:kafka_2.13:$KAFKA_VERSION into $LIB_DIR)."
  err "  Alternatively set KAFKA_BOOTSTRAP_SERVERS=host:port to use an existing broker."
  exit 1
}

check_java() {
  command -v java >/dev/null 2>&1 || fail_tools "java not found on PATH"
  local v major
  v="$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)"
  major="${v%%.*}"
  [[ "$major" == 1 ]] && major="$(echo "$v" | cut -d. -f2)"
  if ! [[ "$major" =~ ^[0-9]+$ ]] || ((major < 17)); then
    fail_tools "Java 17+ is required, found '${v:-unknown}' ($(command -v java))"
  fi
}

cmd_fetch() {
  [[ -n "$KAFKA_VERSION" ]] || fail_tools "could not read <kafka.version> from $POM"
  if fetched; then
    return 0
  fi
  mkdir -p "$KAFKA_CACHE_DIR"
  # Serialize concurrent fetches (e.g. two brokers started at once).
  exec 8>"$KAFKA_CACHE_DIR/.fetch.lock"
  flock 8
  if fetched; then
    exec 8>&-
    return 0
  fi
  # Leftovers of an interrupted fetch.
  rm -rf "$KAFKA_CACHE_DIR"/lib.tmp.* "$KAFKA_CACHE_DIR"/lib.old.*
  check_java
  command -v mvn >/dev/null 2>&1 || fail_tools "mvn (Maven) not found on PATH"
  local t0 tmp mvn_log
  t0="$(now)"
  tmp="$(mktemp -d "$KAFKA_CACHE_DIR/lib.tmp.XXXXXX")"
  chmod 755 "$tmp"
  mvn_log="$tmp.mvn.log"
  log "fetching Kafka $KAFKA_VERSION from Maven Central into $LIB_DIR ..."
  # Fully qualified goal: no plugin-prefix lookup, and the plugin version pinned in the pom.
  if ! mvn -q -B -Dstyle.color=never -f "$POM" \
    "org.apache.maven.plugins:maven-dependency-plugin:$DEP_PLUGIN_VERSION:copy-dependencies" \
    -Dkafka.lib.dir="$tmp" >"$mvn_log" 2>&1; then
    tail -n 30 "$mvn_log" | sed $'s/\e\\[[0-9;]*m//g' >&2 || true
    rm -rf "$tmp" "$mvn_log"
    fail_tools "mvn could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION (see the Maven output above)"
  fi
  if [[ ! -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]]; then
    rm -rf "$tmp" "$mvn_log"
    fail_tools "mvn finished but kafka_2.13-$KAFKA_VERSION.jar is missing from its output"
  fi
  echo "kafka_2.13-$KAFKA_VERSION $(pom_hash)" >"$tmp/.fetched"
  # Move into place: a half-finished fetch never sits at $LIB_DIR.
  local old=""
  if [[ -e "$LIB_DIR" ]]; then
    old="$KAFKA_CACHE_DIR/lib.old.$$"
    mv "$LIB_DIR" "$old"
  fi
  mv "$tmp" "$LIB_DIR"
  [[ -n "$old" ]] && rm -rf "$old"
  rm -f "$mvn_log"
  exec 8>&-
  log "fetched $(find "$LIB_DIR" -name '*.jar' | wc -l) jars in $(elapsed "$t0")s"
}

# kill_pid PID: TERM, wait up to 20 s, then KILL.
kill_pid() {
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  err "broker (pid $pid) did not stop after 20s; sending KILL"
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 25); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
}

# our_pid: print the pid from our pid file if that process is alive and is our broker.
our_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against pid reuse: the process must be kafka.Kafka with our server.properties.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $PROPS_FILE" || return 1
  echo "$pid"
}

render_props() {
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" \
    -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
    -e "s|@LOG_DIRS@|$DATA_DIR|g" \
    "$KAFKA_DIR/server.properties.template" >"$PROPS_FILE.tmp"
  mv "$PROPS_FILE.tmp" "$PROPS_FILE"
}

# wait_ready PID: wait until the broker logged its start and accepts connections.
wait_ready() {
  local pid="$1" deadline
  deadline=$(($(date +%s) + KAFKA_START_TIMEOUT))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      err "ERROR: the broker (pid $pid) exited during startup; last 40 lines of $LOG_FILE:"
      tail -n 40 "$LOG_FILE" >&2 || true
      rm -f "$PID_FILE"
      return 1
    fi
    # "Kafka Server started (kafka.server.KafkaRaftServer)" is logged once the broker
    # and controller are up and the broker is unfenced, i.e. it serves requests.
    if grep -q "Kafka Server started" "$LOG_FILE" 2>/dev/null && port_open "$HOST" "$KAFKA_PORT"; then
      return 0
    fi
    if (($(date +%s) >= deadline)); then
      err "ERROR: the broker (pid $pid) was not up after ${KAFKA_START_TIMEOUT}s; last 40 lines of $LOG_FILE:"
      tail -n 40 "$LOG_FILE" >&2 || true
      err "stopping it (raise KAFKA_START_TIMEOUT on a slow machine)"
      kill_pid "$pid"
      rm -f "$PID_FILE"
      return 1
    fi
    sleep 0.2
  done
}

cmd_start() {
  if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
    log "using KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS, not starting a broker"
    return 0
  fi
  local t0 pid
  t0="$(now)"
  mkdir -p "$KAFKA_RUN_DIR"
  # Serialize start/stop of the same broker. The broker must not inherit this fd.
  exec 9>"$KAFKA_RUN_DIR/.lock"
  flock 9

  if pid="$(our_pid)"; then
    if port_open "$HOST" "$KAFKA_PORT"; then
      log "already running on $HOST:$KAFKA_PORT (pid $pid)"
      return 0
    fi
    log "broker (pid $pid) is starting; waiting for it"
    wait_ready "$pid" || exit 1
    log "broker up on $HOST:$KAFKA_PORT (pid $pid)"
    return 0
  fi
  rm -f "$PID_FILE"
  if port_open "$HOST" "$KAFKA_PORT"; then
    log "something else already listens on $HOST:$KAFKA_PORT (not started by this script);" \
      "not starting a broker. Stop it, or pick another KAFKA_PORT."
    return 0
  fi
  if port_open "$HOST" "$KAFKA_CONTROLLER_PORT"; then
    err "ERROR: controller port $HOST:$KAFKA_CONTROLLER_PORT is already in use; set KAFKA_CONTROLLER_PORT"
    exit 1
  fi

  cmd_fetch
  check_java
  render_props
  local cp="$LIB_DIR/*"
  if [[ ! -f "$DATA_DIR/meta.properties" ]]; then
    local cluster_id
    cluster_id="$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>>"$KAFKA_RUN_DIR/format.log")"
    if ! java -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" -cp "$cp" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$PROPS_FILE" \
      >>"$KAFKA_RUN_DIR/format.log" 2>&1; then
      err "ERROR: formatting $DATA_DIR failed:"
      tail -n 40 "$KAFKA_RUN_DIR/format.log" >&2 || true
      exit 1
    fi
  fi

  [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.prev"
  local t1
  t1="$(now)"
  # The inner bash writes its own pid ($$), then execs java: the pid file holds java's pid.
  # shellcheck disable=SC2086,SC2016  # heap/JVM options are word lists; $$ is the inner bash's
  setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
    java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
    $KAFKA_JVM_OPTS \
    -cp "$cp" kafka.Kafka "$PROPS_FILE" \
    </dev/null >"$LOG_FILE" 2>&1 9>&- 8>&- &
  # Wait for the launcher to write the pid file.
  for _ in $(seq 50); do
    [[ -s "$PID_FILE" ]] && break
    sleep 0.05
  done
  pid="$(cat "$PID_FILE")"
  wait_ready "$pid" || exit 1
  log "broker up on $HOST:$KAFKA_PORT in $(elapsed "$t1")s ($(elapsed "$t0")s in all; pid $pid, log $LOG_FILE)"
}

cmd_stop() {
  if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
    log "using KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS, no broker of ours to stop"
    return 0
  fi
  if [[ ! -d "$KAFKA_RUN_DIR" ]]; then
    log "not running (no $KAFKA_RUN_DIR)"
    return 0
  fi
  exec 9>"$KAFKA_RUN_DIR/.lock"
  flock 9
  local pid
  if ! pid="$(our_pid)"; then
    rm -f "$PID_FILE"
    log "not running on port $KAFKA_PORT"
    return 0
  fi
  kill_pid "$pid"
  rm -f "$PID_FILE"
  log "stopped broker on port $KAFKA_PORT (pid $pid)"
}

cmd_status() {
  if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
    local first="${KAFKA_BOOTSTRAP_SERVERS%%,*}"
    if port_open "${first%:*}" "${first##*:}"; then
      log "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS accepts connections"
      return 0
    fi
    log "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS does not accept connections"
    return 1
  fi
  local pid=""
  pid="$(our_pid)" || pid=""
  if port_open "$HOST" "$KAFKA_PORT"; then
    if [[ -n "$pid" ]]; then
      log "running on $HOST:$KAFKA_PORT (pid $pid)"
    else
      log "$HOST:$KAFKA_PORT accepts connections (not started by this script)"
    fi
    return 0
  fi
  if [[ -n "$pid" ]]; then
    log "broker process $pid is alive but $HOST:$KAFKA_PORT does not accept connections"
  else
    log "not running on $HOST:$KAFKA_PORT"
  fi
  return 1
}

cmd_wipe() {
  cmd_stop
  if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
    return 0
  fi
  rm -rf "$KAFKA_RUN_DIR"
  log "deleted $KAFKA_RUN_DIR"
}

cmd_bootstrap() {
  echo "${KAFKA_BOOTSTRAP_SERVERS:-$HOST:$KAFKA_PORT}"
}

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  wipe) cmd_wipe ;;
  bootstrap) cmd_bootstrap ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
