#!/usr/bin/env bash
# A second local Apache Kafka 4.x broker, secured, for the tests of the Kafka security settings
# (tests/integration/test_secured.py). Beside the PLAINTEXT broker of scripts/kafka.sh, never
# instead of it: its own ports, run dir and data; the same cached jars.
#
# Every `start` makes it afresh, in its run dir: a CA and a broker certificate (openssl,
# SAN 127.0.0.1 and localhost), a client certificate with an encrypted key, random
# passwords, SCRAM users formatted into the storage (kafka-storage format --add-scram), then
# the broker. Listeners:
#   SASL_SSL  127.0.0.1:$KAFKA_SECURED_PORT         SCRAM-SHA-512 (users `admin`: inter-broker,
#                                                    and `client`) and OAUTHBEARER (unsecured
#                                                    JWTs, Kafka's development validator)
#   SSL       127.0.0.1:$KAFKA_SECURED_PORT+2       mutual TLS (a client certificate is required)
#   controller 127.0.0.1:$KAFKA_SECURED_PORT+1      PLAINTEXT, loopback only
# No authorizer: any authenticated client may do anything. Not for production.
#
# Usage: scripts/kafka_secured.sh {start|stop|status|wipe|env [sasl|mtls|oauth]}
#   start      fetch the jars (scripts/kafka.sh fetch), make the certificates and users, start
#              the broker, wait until it is up; print the client settings (sasl)
#   stop       stop it (TERM, then KILL after 20 s)
#   status     exit 0 if it is running and accepts connections
#   wipe       stop and delete the run dir
#   env        print the client settings of a listener, as OPTOUT_* lines (default sasl):
#              $KAFKA_SECURED_RUN_DIR/{sasl,mtls,oauth}.env. The password is in a file
#              (OPTOUT_KAFKA_SASL_PASSWORD_FILE), never printed.
#
# Environment:
#   KAFKA_SECURED_PORT        SASL_SSL port (default 19093); the controller takes +1, mTLS +2
#   KAFKA_SECURED_RUN_DIR     certificates, passwords, data, log (default <repo>/.run/kafka-secured-$PORT)
#   KAFKA_CACHE_DIR           jar cache, shared with scripts/kafka.sh (default <repo>/.cache/kafka)
#   KAFKA_START_TIMEOUT       seconds to wait for the broker (default 60)
#   KAFKA_HEAP_OPTS           default "-Xms128m -Xmx384m"
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(dirname "$SCRIPT_DIR")"
KAFKA_DIR="$REPO_ROOT/kafka"

PORT="${KAFKA_SECURED_PORT:-19093}"
if ! [[ "$PORT" =~ ^[0-9]+$ ]]; then
  echo "kafka_secured.sh: KAFKA_SECURED_PORT must be a number, got '$PORT'" >&2
  exit 2
fi
CONTROLLER_PORT=$((PORT + 1))
MTLS_PORT=$((PORT + 2))
KAFKA_CACHE_DIR="${KAFKA_CACHE_DIR:-$REPO_ROOT/.cache/kafka}"
export KAFKA_CACHE_DIR
LIB_DIR="$KAFKA_CACHE_DIR/lib"
RUN_DIR="${KAFKA_SECURED_RUN_DIR:-$REPO_ROOT/.run/kafka-secured-$PORT}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms128m -Xmx384m}"
HOST=127.0.0.1

PID_FILE="$RUN_DIR/kafka.pid"
LOG_FILE="$RUN_DIR/kafka.log"
DATA_DIR="$RUN_DIR/data"
TLS_DIR="$RUN_DIR/tls"
PROPS_FILE="$RUN_DIR/server.properties"

log() { echo "kafka_secured.sh: $*"; }
err() { echo "kafka_secured.sh: $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

port_open() {
  # shellcheck disable=SC2016  # $1/$2 expand in the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

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

# our_pid: the pid of our broker (alive, and kafka.Kafka with our server.properties).
our_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $PROPS_FILE" || return 1
  echo "$pid"
}

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

# make_tls: a CA, the broker's certificate (PEM key store: key + chain), a client certificate
# whose key is encrypted (its password in a file), all in $TLS_DIR.
make_tls() {
  local d="$TLS_DIR"
  mkdir -p "$d"
  chmod 700 "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" -days 3 \
    -subj "/CN=sms-optout local test CA $(date +%s)" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth,clientAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$d/broker.ext"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$d/broker.key" 2>/dev/null
  openssl req -new -key "$d/broker.key" -subj "/CN=localhost" -out "$d/broker.csr"
  openssl x509 -req -in "$d/broker.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 3 \
    -extfile "$d/broker.ext" -out "$d/broker.pem" 2>/dev/null
  # Kafka's PEM key store: an unencrypted PKCS#8 key, then the certificate chain
  cat "$d/broker.key" "$d/broker.pem" "$d/ca.pem" >"$d/broker-keystore.pem"
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=clientAuth" >"$d/client.ext"
  openssl rand -hex 16 >"$d/client-key.password"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -aes-256-cbc \
    -pass "file:$d/client-key.password" -out "$d/client.key" 2>/dev/null
  openssl req -new -key "$d/client.key" -passin "file:$d/client-key.password" -subj "/CN=client" \
    -out "$d/client.csr"
  openssl x509 -req -in "$d/client.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 3 \
    -extfile "$d/client.ext" -out "$d/client.pem" 2>/dev/null
  rm -f "$d"/*.csr "$d"/*.ext "$d/ca.srl"
  chmod 600 "$d"/*
}

render_props() {
  local admin_password="$1"
  cat >"$PROPS_FILE" <<EOF
# Rendered by scripts/kafka_secured.sh: a secured single-node KRaft broker for tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=SASL_SSL://$HOST:$PORT,MTLS://$HOST:$MTLS_PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=SASL_SSL://$HOST:$PORT,MTLS://$HOST:$MTLS_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,MTLS:SSL
inter.broker.listener.name=SASL_SSL
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
sasl.enabled.mechanisms=SCRAM-SHA-512,OAUTHBEARER
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,OAUTHBEARER
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin_password";
listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="admin";
ssl.keystore.type=PEM
ssl.keystore.location=$TLS_DIR/broker-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$TLS_DIR/ca.pem
ssl.endpoint.identification.algorithm=https
listener.name.mtls.ssl.client.auth=required

log.dirs=$DATA_DIR
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
default.replication.factor=1
group.initial.rebalance.delay.ms=0
offsets.topic.num.partitions=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.num.partitions=1
num.partitions=1
auto.create.topics.enable=true
delete.topic.enable=true
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
EOF
  chmod 600 "$PROPS_FILE"
}

# write_env: the client settings of each listener, one OPTOUT_* variable a line.
write_env() {
  local now_s token
  now_s="$(date +%s)"
  # an unsecured JWT (alg none), as Kafka's development validator takes; valid for 2 days
  token="$(printf '{"alg":"none"}' | b64url).$(printf '{"sub":"client","iat":%s,"exp":%s}' \
    "$now_s" "$((now_s + 172800))" | b64url)."
  printf '%s\n' "$token" >"$TLS_DIR/oauth.token"
  chmod 600 "$TLS_DIR/oauth.token"
  cat >"$RUN_DIR/sasl.env" <<EOF
KAFKA_BOOTSTRAP_SERVERS=$HOST:$PORT
OPTOUT_KAFKA_SECURITY_PROTOCOL=SASL_SSL
OPTOUT_KAFKA_SASL_MECHANISM=SCRAM-SHA-512
OPTOUT_KAFKA_SASL_USERNAME=client
OPTOUT_KAFKA_SASL_PASSWORD_FILE=$TLS_DIR/client.password
OPTOUT_KAFKA_SSL_CA_FILE=$TLS_DIR/ca.pem
EOF
  cat >"$RUN_DIR/mtls.env" <<EOF
KAFKA_BOOTSTRAP_SERVERS=$HOST:$MTLS_PORT
OPTOUT_KAFKA_SECURITY_PROTOCOL=SSL
OPTOUT_KAFKA_SSL_CA_FILE=$TLS_DIR/ca.pem
OPTOUT_KAFKA_SSL_CERT_FILE=$TLS_DIR/client.pem
OPTOUT_KAFKA_SSL_KEY_FILE=$TLS_DIR/client.key
OPTOUT_KAFKA_SSL_KEY_PASSWORD_FILE=$TLS_DIR/client-key.password
EOF
  cat >"$RUN_DIR/oauth.env" <<EOF
KAFKA_BOOTSTRAP_SERVERS=$HOST:$PORT
OPTOUT_KAFKA_SECURITY_PROTOCOL=SASL_SSL
OPTOUT_KAFKA_SASL_MECHANISM=OAUTHBEARER
OPTOUT_KAFKA_SASL_OAUTH_TOKEN_FILE=$TLS_DIR/oauth.token
OPTOUT_KAFKA_SSL_CA_FILE=$TLS_DIR/ca.pem
EOF
}

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
    if grep -q "Kafka Server started" "$LOG_FILE" 2>/dev/null && port_open "$HOST" "$PORT" &&
      port_open "$HOST" "$MTLS_PORT"; then
      return 0
    fi
    if (($(date +%s) >= deadline)); then
      err "ERROR: the broker (pid $pid) was not up after ${KAFKA_START_TIMEOUT}s; last 40 lines of $LOG_FILE:"
      tail -n 40 "$LOG_FILE" >&2 || true
      kill_pid "$pid"
      rm -f "$PID_FILE"
      return 1
    fi
    sleep 0.2
  done
}

cmd_start() {
  local t0 pid
  t0="$(now)"
  mkdir -p "$RUN_DIR"
  chmod 700 "$RUN_DIR"
  exec 9>"$RUN_DIR/.lock"
  flock 9
  if pid="$(our_pid)"; then
    if port_open "$HOST" "$PORT"; then
      log "already running on $HOST:$PORT (pid $pid); client settings: $RUN_DIR/sasl.env"
      cat "$RUN_DIR/sasl.env"
      return 0
    fi
    log "broker (pid $pid) is starting; waiting for it"
    wait_ready "$pid" || exit 1
    cat "$RUN_DIR/sasl.env"
    return 0
  fi
  rm -f "$PID_FILE"
  local port
  for port in "$PORT" "$CONTROLLER_PORT" "$MTLS_PORT"; do
    if port_open "$HOST" "$port"; then
      err "ERROR: $HOST:$port is already in use (not by this script's broker); set KAFKA_SECURED_PORT"
      exit 1
    fi
  done
  bash "$SCRIPT_DIR/kafka.sh" fetch 9>&-
  command -v openssl >/dev/null 2>&1 || { err "ERROR: openssl not found on PATH"; exit 1; }
  command -v java >/dev/null 2>&1 || { err "ERROR: java (17+) not found on PATH"; exit 1; }

  # afresh every time: certificates, passwords, users and data
  rm -rf "$DATA_DIR" "$TLS_DIR" "$RUN_DIR"/*.env "$RUN_DIR/format.log"
  make_tls
  local admin_password client_password
  admin_password="$(openssl rand -hex 16)"
  client_password="$(openssl rand -hex 16)"
  printf '%s\n' "$client_password" >"$TLS_DIR/client.password"
  chmod 600 "$TLS_DIR/client.password"
  render_props "$admin_password"
  local cp="$LIB_DIR/*" cluster_id
  cluster_id="$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>>"$RUN_DIR/format.log")"
  if ! java -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" -cp "$cp" \
    kafka.tools.StorageTool format -t "$cluster_id" -c "$PROPS_FILE" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=$admin_password]" \
    --add-scram "SCRAM-SHA-512=[name=client,password=$client_password]" \
    >>"$RUN_DIR/format.log" 2>&1; then
    err "ERROR: formatting $DATA_DIR failed:"
    tail -n 40 "$RUN_DIR/format.log" >&2 || true
    exit 1
  fi
  write_env

  [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.prev"
  local t1
  t1="$(now)"
  # shellcheck disable=SC2086,SC2016  # heap options are a word list; $$ is the inner bash's
  setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
    java $HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -XX:TieredStopAtLevel=1 \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
    -cp "$cp" kafka.Kafka "$PROPS_FILE" \
    </dev/null >"$LOG_FILE" 2>&1 9>&- &
  for _ in $(seq 50); do
    [[ -s "$PID_FILE" ]] && break
    sleep 0.05
  done
  pid="$(cat "$PID_FILE")"
  wait_ready "$pid" || exit 1
  log "secured broker up in $(elapsed "$t1")s ($(elapsed "$t0")s in all; pid $pid, log $LOG_FILE):" \
    "SASL_SSL $HOST:$PORT, mTLS $HOST:$MTLS_PORT; client settings in $RUN_DIR/{sasl,mtls,oauth}.env"
  cat "$RUN_DIR/sasl.env"
}

cmd_stop() {
  if [[ ! -d "$RUN_DIR" ]]; then
    log "not running (no $RUN_DIR)"
    return 0
  fi
  exec 9>"$RUN_DIR/.lock"
  flock 9
  local pid
  if ! pid="$(our_pid)"; then
    rm -f "$PID_FILE"
    log "not running on port $PORT"
    return 0
  fi
  kill_pid "$pid"
  rm -f "$PID_FILE"
  log "stopped the secured broker on port $PORT (pid $pid)"
}

cmd_status() {
  local pid
  if pid="$(our_pid)" && port_open "$HOST" "$PORT"; then
    log "running on $HOST:$PORT (pid $pid)"
    return 0
  fi
  log "not running on $HOST:$PORT"
  return 1
}

cmd_env() {
  local which="${1:-sasl}"
  case "$which" in
    sasl | mtls | oauth) ;;
    *) err "env: sasl, mtls or oauth, not '$which'"; exit 2 ;;
  esac
  if [[ ! -f "$RUN_DIR/$which.env" ]]; then
    err "no client settings yet ($RUN_DIR/$which.env): run scripts/kafka_secured.sh start"
    exit 1
  fi
  cat "$RUN_DIR/$which.env"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  wipe) cmd_stop; rm -rf "$RUN_DIR"; log "deleted $RUN_DIR" ;;
  env) cmd_env "${2:-}" ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
