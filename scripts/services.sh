#!/usr/bin/env bash
# Real services for sillage's integration tests, all on 127.0.0.1.
#
#   scripts/services.sh up       start/prepare everything (idempotent); prints export lines on stdout
#   scripts/services.sh down     stop only what this checkout started (pid files); Postgres is never stopped
#   scripts/services.sh status   one line per service; exit 1 if any is down
#
#   postgres  127.0.0.1:5432  (machine's cluster; made wal_level=logical, restarted once if needed)
#   redis     127.0.0.1:6379  (machine's server; started only if it is not running)
#   kafka     127.0.0.1:9092  (Apache Kafka, single KRaft broker+controller, jars from Maven Central)
#   s3        127.0.0.1:9000  (S3Proxy with the filesystem backend, jar from Maven Central)
#
# State lives in .cache/ (gitignored): jars, data, logs, pid files, services.env.
# Logs go to stderr prefixed with [services]; stdout carries only the export line(s),
# so `eval "$(scripts/services.sh up)"` works, and .cache/services.env can be sourced.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRIPTS="$ROOT/scripts"
CACHE="$ROOT/.cache"

HOST=127.0.0.1
# Ports can be moved with SERVICES_<NAME>_PORT (e.g. to try things beside a running set).
PG_PORT="${SERVICES_PG_PORT:-5432}"
REDIS_PORT="${SERVICES_REDIS_PORT:-6379}"
KAFKA_PORT="${SERVICES_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${SERVICES_KAFKA_CONTROLLER_PORT:-9093}"
S3_PORT="${SERVICES_S3_PORT:-9000}"
S3_ACCESS_KEY_ID=sillage
S3_SECRET_ACCESS_KEY=sillage-secret
S3_REGION=us-east-1
TEST_S3_BUCKET=sillage-test

KAFKA_DIR="$CACHE/kafka"
KAFKA_LIB="$KAFKA_DIR/lib"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_PID="$KAFKA_DIR/kafka.pid"
KAFKA_LOG="$KAFKA_DIR/kafka.log"
KAFKA_CONF="$KAFKA_DIR/server.properties"
KAFKA_CHECK_CLASSES="$KAFKA_DIR/check-classes"
# Fixed cluster id (base64url of 16 bytes "sillage-dev-clus"); storage is formatted once.
KAFKA_CLUSTER_ID=c2lsbGFnZS1kZXYtY2x1cw
KAFKA_HEAP="${SERVICES_KAFKA_HEAP:--Xms128m -Xmx512m}"

S3_DIR="$CACHE/s3"
S3_LIB="$S3_DIR/lib"
S3_DATA="$S3_DIR/data"
S3_PID="$S3_DIR/s3proxy.pid"
S3_LOG="$S3_DIR/s3proxy.log"
S3_CONF="$S3_DIR/s3proxy.conf"
S3_HEAP="${SERVICES_S3_HEAP:--Xms64m -Xmx256m}"

REDIS_MARK="$CACHE/redis/started-by-services.pid"
ENV_FILE="$CACHE/services.env"

log() { echo "[services] $*" >&2; }
die() { echo "[services] ERROR: $*" >&2; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH ($2)"; }

# ---------------------------------------------------------------- helpers

# pid_alive PIDFILE MARKER: true if the pid file names a live process whose
# command line contains MARKER (guards against pid reuse).
pid_alive() {
  local f="$1" marker="$2" pid
  [[ -s "$f" ]] || return 1
  pid="$(cat "$f")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker"
}

# port_open PORT: something accepts TCP connections on HOST:PORT
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null; }

# stop_pidfile NAME PIDFILE MARKER: SIGTERM, wait (up to 60s), then SIGKILL.
stop_pidfile() {
  local name="$1" f="$2" marker="$3" pid i
  if ! pid_alive "$f" "$marker"; then
    [[ -e "$f" ]] && { log "$name: stale pid file removed"; rm -f "$f"; }
    log "$name: not running (nothing of ours to stop)"
    return 0
  fi
  pid="$(cat "$f")"
  log "$name: stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 600; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name: still alive after 60s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$f"
  log "$name: stopped"
}

# mvn_fetch NAME POM OUTDIR: copy the pom's dependencies into OUTDIR, once per pom content.
mvn_fetch() {
  local name="$1" pom="$2" out="$3" want have=""
  want="$(sha256sum "$pom" | cut -d' ' -f1)"
  [[ -f "$out/.pom.sha256" ]] && have="$(cat "$out/.pom.sha256")"
  if [[ "$want" == "$have" ]] && compgen -G "$out/*.jar" >/dev/null; then
    return 0
  fi
  need mvn "Maven is needed to fetch the $name jars"
  log "$name: fetching jars with Maven ($pom -> ${out#"$ROOT"/})"
  local t0; t0="$(now_ms)"
  rm -rf "$out.tmp"
  mkdir -p "$out.tmp"
  local mvnlog="$CACHE/maven-$name.log"
  if ! mvn -B -Dstyle.color=never --no-transfer-progress -f "$pom" \
      dependency:copy-dependencies -DoutputDirectory="$out.tmp" </dev/null >"$mvnlog" 2>&1; then
    grep -E 'ERROR|FAIL' "$mvnlog" | head -n 20 >&2 || tail -n 20 "$mvnlog" >&2
    rm -rf "$out.tmp"
    die "$name: Maven could not fetch the jars (full output: ${mvnlog#"$ROOT"/})"
  fi
  rm -rf "$out"
  mv "$out.tmp" "$out"
  echo "$want" >"$out/.pom.sha256"
  log "$name: $(find "$out" -name '*.jar' | wc -l) jar(s) in $(( $(now_ms) - t0 )) ms"
}

# ---------------------------------------------------------------- postgres

# shellcheck disable=SC2012  # plain version directory names
pg_version() {
  if [[ -n "${SERVICES_PG_VERSION:-}" ]]; then echo "$SERVICES_PG_VERSION"
  elif [[ -d /etc/postgresql/15 ]]; then echo 15
  else ls /etc/postgresql 2>/dev/null | sort -V | tail -n1
  fi
}

pg_ready() { pg_isready -h "$HOST" -p "$PG_PORT" -q 2>/dev/null; }

psql_q() { psql -h "$HOST" -p "$PG_PORT" -U postgres -d postgres -XAtq -v ON_ERROR_STOP=1 -c "$1"; }

pg_wait() {
  local i
  for ((i = 0; i < 600; i++)); do pg_ready && return 0; sleep 0.1; done
  die "postgres: not ready on $HOST:$PG_PORT after 60s (see /var/log/postgresql/)"
}

pg_up() {
  need psql "PostgreSQL client"; need pg_isready "PostgreSQL client"
  local ver; ver="$(pg_version)"
  if ! pg_ready; then
    [[ -n "$ver" ]] || die "postgres: not running and no cluster under /etc/postgresql"
    if pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1 == v && $2 == "main" {print $4}' | grep -q '^down$'; then
      log "postgres: stopped; starting cluster $ver/main"
      pg_ctlcluster --skip-systemctl-redirect "$ver" main start >&2 || true
    fi
    pg_wait
  fi
  local wal slots senders changed=0
  wal="$(psql_q 'SHOW wal_level')"
  slots="$(psql_q 'SHOW max_replication_slots')"
  senders="$(psql_q 'SHOW max_wal_senders')"
  if [[ "$wal" != logical ]]; then
    log "postgres: wal_level=$wal -> ALTER SYSTEM SET wal_level = logical"
    psql_q "ALTER SYSTEM SET wal_level = logical"; changed=1
  fi
  if (( slots < 10 )); then
    log "postgres: max_replication_slots=$slots -> 10"
    psql_q "ALTER SYSTEM SET max_replication_slots = 10"; changed=1
  fi
  if (( senders < 10 )); then
    log "postgres: max_wal_senders=$senders -> 10"
    psql_q "ALTER SYSTEM SET max_wal_senders = 10"; changed=1
  fi
  if (( changed )); then
    [[ -n "$ver" ]] || die "postgres: cannot find the cluster version to restart"
    log "postgres: restarting cluster $ver/main to apply settings"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main restart >&2
    pg_wait
    wal="$(psql_q 'SHOW wal_level')"
    [[ "$wal" == logical ]] || die "postgres: wal_level is still '$wal' after restart"
  fi
  log "postgres: ok (wal_level=$wal, max_replication_slots=$(psql_q 'SHOW max_replication_slots'), max_wal_senders=$(psql_q 'SHOW max_wal_senders'))"
}

pg_status() {
  if pg_ready; then echo "postgres ok (wal_level=$(psql_q 'SHOW wal_level' 2>/dev/null || echo '?'))"
  else echo "postgres down"; return 1
  fi
}

# ---------------------------------------------------------------- redis

redis_ping() { [[ "$(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }

redis_up() {
  need redis-cli "Redis client"
  if redis_ping; then log "redis: ok"; return 0; fi
  need redis-server "Redis server"
  port_open "$REDIS_PORT" && die "redis: something listens on $HOST:$REDIS_PORT but does not answer PING"
  log "redis: not running; starting redis-server"
  mkdir -p /var/lib/redis /var/log/redis "$(dirname "$REDIS_MARK")"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log >&2
  local i
  for ((i = 0; i < 100; i++)); do redis_ping && break; sleep 0.1; done
  redis_ping || die "redis: did not answer PING within 10s (see /var/log/redis/ci.log)"
  redis-cli -h "$HOST" -p "$REDIS_PORT" info server | tr -d '\r' | awk -F: '$1 == "process_id" {print $2}' >"$REDIS_MARK"
  log "redis: started (pid $(cat "$REDIS_MARK"))"
}

redis_down() {
  if pid_alive "$REDIS_MARK" redis-server; then
    local pid; pid="$(cat "$REDIS_MARK")"
    log "redis: shutting down the server we started (pid $pid)"
    redis-cli -h "$HOST" -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$REDIS_MARK"
  else
    rm -f "$REDIS_MARK"
    log "redis: left running (not started by this script)"
  fi
}

redis_status() { if redis_ping; then echo "redis ok"; else echo "redis down"; return 1; fi; }

# ---------------------------------------------------------------- kafka

# A real Kafka protocol round trip without a JVM: ApiVersions v0 (api key 18),
# correlation id 42; expect the same correlation id and error_code 0 back.
kafka_probe() {
  timeout 3 bash -c '
    exec 3<>/dev/tcp/'"$HOST"'/'"$KAFKA_PORT"' || exit 1
    printf "\x00\x00\x00\x0d\x00\x12\x00\x00\x00\x00\x00\x2a\x00\x03svc" >&3
    head -c 10 <&3 | od -An -tx1 | tr -d " \n"
  ' 2>/dev/null | grep -qE '^[0-9a-f]{8}0000002a0000$'
}

kafka_check() { # kafka_check [--transactions]
  local src="$SCRIPTS/kafka/KafkaCheck.java" want have=""
  want="$(cat "$src" "$KAFKA_LIB/.pom.sha256" | sha256sum | cut -d' ' -f1)"
  [[ -f "$KAFKA_CHECK_CLASSES/.sha256" ]] && have="$(cat "$KAFKA_CHECK_CLASSES/.sha256")"
  if [[ "$want" != "$have" ]]; then
    need javac "a JDK is needed to compile scripts/kafka/KafkaCheck.java"
    rm -rf "$KAFKA_CHECK_CLASSES"; mkdir -p "$KAFKA_CHECK_CLASSES"
    javac -nowarn -cp "$KAFKA_LIB/*" -d "$KAFKA_CHECK_CLASSES" "$src" >&2
    echo "$want" >"$KAFKA_CHECK_CLASSES/.sha256"
  fi
  java -Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j.configuration="file:$KAFKA_DIR/tools-log4j.properties" \
    -cp "$KAFKA_LIB/*:$KAFKA_CHECK_CLASSES" KafkaCheck "$HOST:$KAFKA_PORT" "$@" >&2
}

kafka_server_properties() {
  cat <<EOF
# generated by scripts/services.sh -- edits are overwritten
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DATA
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
auto.create.topics.enable=false
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
# after a crash (kill -9) the new incarnation can only register once the old
# broker session expires: keep that short (defaults 2000/9000 ms)
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=4500
log.retention.hours=24
EOF
}

kafka_write_config() {
  mkdir -p "$KAFKA_DATA"
  kafka_server_properties >"$KAFKA_CONF.tmp"
  mv "$KAFKA_CONF.tmp" "$KAFKA_CONF"
  cat >"$KAFKA_DIR/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.state.change.logger=WARN
EOF
  cat >"$KAFKA_DIR/tools-log4j.properties" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[services] kafka-check %p %m (%c)%n
log4j.logger.org.apache.kafka.clients.NetworkClient=ERROR
log4j.logger.org.apache.kafka.clients.admin.AdminClientConfig=ERROR
log4j.logger.org.apache.kafka.clients.producer.ProducerConfig=ERROR
log4j.logger.org.apache.kafka.clients.consumer.ConsumerConfig=ERROR
EOF
}

kafka_up() {
  # The jars are fetched even when a broker already runs: the fault suite starts private brokers from them.
  need java "Java 17+ runs the Kafka broker"
  mvn_fetch kafka "$SCRIPTS/kafka/pom.xml" "$KAFKA_LIB"
  if pid_alive "$KAFKA_PID" kafka.Kafka; then
    if [[ -f "$KAFKA_CONF" ]] && ! kafka_server_properties | cmp -s - "$KAFKA_CONF"; then
      log "kafka: WARNING the running broker uses an older server.properties; run 'scripts/services.sh down' then 'up' to apply"
    fi
    if kafka_probe; then log "kafka: already running (pid $(cat "$KAFKA_PID"))"; return 0; fi
    log "kafka: pid $(cat "$KAFKA_PID") alive but not answering yet; waiting"
    kafka_wait "$(cat "$KAFKA_PID")"
    kafka_check --transactions || die "kafka: broker is up but the transactional check failed (see ${KAFKA_LOG#"$ROOT"/})"
    return 0
  fi
  rm -f "$KAFKA_PID"
  if port_open "$KAFKA_PORT"; then
    kafka_probe || die "kafka: $HOST:$KAFKA_PORT is taken by something that does not speak Kafka"
    log "kafka: a broker not started by this checkout already answers on $HOST:$KAFKA_PORT; using it (down will not stop it)"
    return 0
  fi
  port_open "$KAFKA_CONTROLLER_PORT" && die "kafka: controller port $HOST:$KAFKA_CONTROLLER_PORT is taken"

  kafka_write_config

  if [[ ! -f "$KAFKA_DATA/meta.properties" ]]; then
    log "kafka: formatting storage in ${KAFKA_DATA#"$ROOT"/} (cluster id $KAFKA_CLUSTER_ID)"
    java -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j.configuration="file:$KAFKA_DIR/tools-log4j.properties" \
      -cp "$KAFKA_LIB/*" kafka.tools.StorageTool format --ignore-formatted \
      -t "$KAFKA_CLUSTER_ID" -c "$KAFKA_CONF" >&2
  fi

  [[ -f "$KAFKA_LOG" ]] && mv -f "$KAFKA_LOG" "$KAFKA_LOG.1"
  log "kafka: starting broker+controller on $HOST:$KAFKA_PORT (log ${KAFKA_LOG#"$ROOT"/})"
  # shellcheck disable=SC2086
  setsid nohup java $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" \
    -Dsillage.services="$ROOT" \
    -cp "$KAFKA_LIB/*" kafka.Kafka "$KAFKA_CONF" </dev/null >"$KAFKA_LOG" 2>&1 &
  local pid=$!
  echo "$pid" >"$KAFKA_PID"
  kafka_wait "$pid"
  kafka_check --transactions || die "kafka: broker is up but the transactional check failed (see ${KAFKA_LOG#"$ROOT"/})"
}

kafka_wait() {
  local pid="$1" i
  for ((i = 0; i < 1200; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$KAFKA_LOG" >&2 || true
      rm -f "$KAFKA_PID"
      die "kafka: broker exited during startup (see ${KAFKA_LOG#"$ROOT"/})"
    fi
    if grep -qF 'Kafka Server started' "$KAFKA_LOG" 2>/dev/null && kafka_probe; then
      log "kafka: broker started (pid $pid)"
      return 0
    fi
    sleep 0.1
  done
  tail -n 30 "$KAFKA_LOG" >&2 || true
  die "kafka: not ready after 120s (pid $pid still running; see ${KAFKA_LOG#"$ROOT"/})"
}

kafka_status() {
  if kafka_probe; then echo "kafka ok $HOST:$KAFKA_PORT"; else echo "kafka down"; return 1; fi
}

# ---------------------------------------------------------------- s3 (S3Proxy)

s3_answers() { # any HTTP answer at all (403 without credentials is normal)
  local code
  code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$HOST:$S3_PORT/" 2>/dev/null || true)"
  [[ "$code" =~ ^[1-5][0-9][0-9]$ ]]
}

s3_check() {
  if command -v bun >/dev/null 2>&1; then
    # run from scripts/ so that no bunfig.toml / .env of the app is picked up
    (cd "$SCRIPTS" && S3_ENDPOINT="http://$HOST:$S3_PORT" S3_ACCESS_KEY_ID="$S3_ACCESS_KEY_ID" \
      S3_SECRET_ACCESS_KEY="$S3_SECRET_ACCESS_KEY" S3_REGION="$S3_REGION" TEST_S3_BUCKET="$TEST_S3_BUCKET" \
      bun ./s3-check.ts) || die "s3: bucket/write/read check with Bun.S3Client failed (see ${S3_LOG#"$ROOT"/})"
  else
    # filesystem backend: a bucket is a directory under the basedir
    log "s3: bun not found; creating bucket directory directly"
    mkdir -p "$S3_DATA/$TEST_S3_BUCKET"
  fi
}

s3_up() {
  need curl "curl probes the S3 endpoint"
  if pid_alive "$S3_PID" org.gaul.s3proxy; then
    s3_wait "$(cat "$S3_PID")"
    log "s3: already running (pid $(cat "$S3_PID"))"
    s3_check
    return 0
  fi
  rm -f "$S3_PID"
  if port_open "$S3_PORT"; then
    s3_answers || die "s3: $HOST:$S3_PORT is taken by something that does not answer HTTP"
    log "s3: a server not started by this checkout already answers on $HOST:$S3_PORT; using it (down will not stop it)"
    s3_check
    return 0
  fi
  need java "Java 17+ runs S3Proxy"
  mvn_fetch s3proxy "$SCRIPTS/s3proxy/pom.xml" "$S3_LIB"
  local jar; jar="$(find "$S3_LIB" -name 's3proxy-*.jar' | head -n1)"
  [[ -n "$jar" ]] || die "s3: no s3proxy jar in ${S3_LIB#"$ROOT"/}"
  mkdir -p "$S3_DATA"
  cat >"$S3_CONF" <<EOF
# generated by scripts/services.sh -- edits are overwritten
s3proxy.endpoint=http://$HOST:$S3_PORT
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$S3_ACCESS_KEY_ID
s3proxy.credential=$S3_SECRET_ACCESS_KEY
jclouds.provider=filesystem
jclouds.filesystem.basedir=$S3_DATA
EOF
  [[ -f "$S3_LOG" ]] && mv -f "$S3_LOG" "$S3_LOG.1"
  log "s3: starting S3Proxy on http://$HOST:$S3_PORT (data ${S3_DATA#"$ROOT"/}, log ${S3_LOG#"$ROOT"/})"
  # shellcheck disable=SC2086
  setsid nohup java $S3_HEAP -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true \
    -Dsillage.services="$ROOT" \
    -cp "$jar" org.gaul.s3proxy.Main --properties "$S3_CONF" </dev/null >"$S3_LOG" 2>&1 &
  local pid=$!
  echo "$pid" >"$S3_PID"
  s3_wait "$pid"
  log "s3: started (pid $pid)"
  s3_check
}

s3_wait() {
  local pid="$1" i
  for ((i = 0; i < 600; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$S3_LOG" >&2 || true
      rm -f "$S3_PID"
      die "s3: S3Proxy exited during startup (see ${S3_LOG#"$ROOT"/})"
    fi
    s3_answers && return 0
    sleep 0.1
  done
  die "s3: no HTTP answer on $HOST:$S3_PORT after 60s (see ${S3_LOG#"$ROOT"/})"
}

s3_status() {
  if s3_answers; then echo "s3 ok http://$HOST:$S3_PORT"; else echo "s3 down"; return 1; fi
}

# ---------------------------------------------------------------- main

env_line() {
  printf 'export DATABASE_URL=%s KAFKA_BOOTSTRAP_SERVERS=%s REDIS_URL=%s S3_ENDPOINT=%s S3_ACCESS_KEY_ID=%s S3_SECRET_ACCESS_KEY=%s S3_REGION=%s TEST_S3_BUCKET=%s\n' \
    "postgres://postgres@$HOST:$PG_PORT/postgres" "$HOST:$KAFKA_PORT" "redis://$HOST:$REDIS_PORT" \
    "http://$HOST:$S3_PORT" "$S3_ACCESS_KEY_ID" "$S3_SECRET_ACCESS_KEY" "$S3_REGION" "$TEST_S3_BUCKET"
}

# Serialize concurrent up/down runs of this checkout: re-run this script under
# flock(1). -o keeps the lock's fd out of everything the script starts (Kafka,
# S3Proxy, and Postgres/Redis when restarted here), so they can't hold it.
with_lock() {
  if [[ "${_SILLAGE_SERVICES_LOCKED:-}" == locked ]]; then unset _SILLAGE_SERVICES_LOCKED; return 0; fi
  need flock "util-linux"
  mkdir -p "$CACHE"
  local rc=0
  _SILLAGE_SERVICES_LOCKED=locked flock -o -w 300 -E 75 "$CACHE/services.lock" bash "${BASH_SOURCE[0]}" "$@" || rc=$?
  (( rc == 75 )) && die "another scripts/services.sh $1 still holds ${CACHE#"$ROOT"/}/services.lock after 300s"
  exit "$rc"
}

cmd_up() {
  local t0 t; t0="$(now_ms)"
  t="$(now_ms)"; pg_up;    log "postgres: $(( $(now_ms) - t )) ms"
  t="$(now_ms)"; redis_up; log "redis: $(( $(now_ms) - t )) ms"
  t="$(now_ms)"; kafka_up; log "kafka: $(( $(now_ms) - t )) ms"
  t="$(now_ms)"; s3_up;    log "s3: $(( $(now_ms) - t )) ms"
  env_line >"$ENV_FILE.tmp" && mv "$ENV_FILE.tmp" "$ENV_FILE"
  log "all services up in $(( $(now_ms) - t0 )) ms; environment in ${ENV_FILE#"$ROOT"/}"
  env_line
}

cmd_down() {
  stop_pidfile s3 "$S3_PID" org.gaul.s3proxy
  stop_pidfile kafka "$KAFKA_PID" kafka.Kafka
  redis_down
  log "postgres: left running (not started by this script)"
}

cmd_status() {
  local rc=0
  pg_status || rc=1
  redis_status || rc=1
  kafka_status || rc=1
  s3_status || rc=1
  return "$rc"
}

case "${1:-}" in
  up) with_lock up; cmd_up ;;
  down) with_lock down; cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
