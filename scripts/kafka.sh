#!/usr/bin/env bash
# A development Apache Kafka broker for bgpsentry: one KRaft node that is
# both broker and controller, on loopback, run from the jars Maven Central
# serves (no download outside Maven, no Docker). The bgpfeed/kafka tests
# start and stop one through this script.
#
# Usage: scripts/kafka.sh fetch|start|stop|status|clean|env
#   fetch   download Kafka and its runtime dependencies with mvn into the
#           cache (once; does nothing when the cache is complete)
#   start   fetch, format the KRaft storage when new, start the broker in
#           the background, wait until it serves, write a pid file
#   stop    stop it: SIGTERM, SIGKILL after KAFKA_STOP_TIMEOUT seconds;
#           succeeds whatever the state (not running, stale pid file)
#   status  say whether it runs (exit 0) or not (exit 3), and where it logs
#   clean   stop, then remove the state directory (topics, offsets, logs)
#   env     print BGPSENTRY_KAFKA=host:port for the tests
#
# Environment (defaults in brackets):
#   KAFKA_VERSION          org.apache.kafka:kafka_2.13 version [4.4.0]
#   KAFKA_CACHE            jar cache [REPO/.cache/kafka], VERSION/libs inside
#   KAFKA_PORT             client (PLAINTEXT) port on 127.0.0.1 [19092]
#   KAFKA_CONTROLLER_PORT  KRaft controller port [KAFKA_PORT+1]
#   KAFKA_STATE            state dir: data/, server.properties, kafka.log,
#                          kafka.pid [${TMPDIR:-/tmp}/bgpsentry-kafka-PORT]
#   KAFKA_HEAP             [-Xmx512m -Xms256m]
#   KAFKA_JVM_OPTS         more JVM options
#   KAFKA_PROPERTIES       lines appended to server.properties
#   KAFKA_START_TIMEOUT    seconds to wait for the broker to serve [90]
#   KAFKA_STOP_TIMEOUT     seconds between SIGTERM and SIGKILL [20]
#   KAFKA_WATCH_PID        if set at start: stop the broker when this
#                          process exits (tests pass their own pid, so a
#                          killed test run leaves no broker behind)
#   JAVA                   java binary [$JAVA_HOME/bin/java or java], 17+
#   MVN                    mvn binary [mvn]
#
# The broker keeps its data between stop and start (state dir); `clean`
# removes it. Topics are not created automatically
# (auto.create.topics.enable=false): bgpsentry creates the topics it uses.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
POM=$ROOT/scripts/kafka/pom.xml
LOG4J_CONF=$ROOT/scripts/kafka/log4j2.properties

KAFKA_VERSION=${KAFKA_VERSION:-4.4.0}
KAFKA_CACHE=${KAFKA_CACHE:-$ROOT/.cache/kafka}
LIBS=$KAFKA_CACHE/$KAFKA_VERSION/libs
KAFKA_HOST=127.0.0.1
KAFKA_PORT=${KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
KAFKA_STATE=${KAFKA_STATE:-${TMPDIR:-/tmp}/bgpsentry-kafka-$KAFKA_PORT}
KAFKA_HEAP=${KAFKA_HEAP:--Xmx512m -Xms256m}
KAFKA_JVM_OPTS=${KAFKA_JVM_OPTS:-}
KAFKA_PROPERTIES=${KAFKA_PROPERTIES:-}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
KAFKA_STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-20}
if [ -z "${JAVA:-}" ]; then
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then JAVA=$JAVA_HOME/bin/java; else JAVA=java; fi
fi
MVN=${MVN:-mvn}

PROPS=$KAFKA_STATE/server.properties
DATA=$KAFKA_STATE/data
LOG=$KAFKA_STATE/kafka.log
PIDFILE=$KAFKA_STATE/kafka.pid
WATCHFILE=$KAFKA_STATE/watch.pid

say() { echo "kafka: $*" >&2; }
die() {
  say "$*"
  exit 1
}

# log_tail prints the end of a log file, for a failure message.
log_tail() {
  [ -f "$1" ] || return 0
  echo "---- last lines of $1 ----" >&2
  tail -n "${2:-40}" "$1" >&2
  echo "----" >&2
}

# pom_sum identifies what the cache was fetched for (version and pom).
pom_sum() { { echo "$KAFKA_VERSION"; cat "$POM"; } | sha256sum | cut -c1-16; }

cache_ok() { [ -f "$LIBS/.complete" ] && [ "$(head -n1 "$LIBS/.complete")" = "$(pom_sum)" ]; }

fetch() {
  cache_ok && return 0
  command -v "$MVN" >/dev/null 2>&1 || die "mvn not found: fetch needs Maven (and Maven Central) to download Kafka $KAFKA_VERSION"
  mkdir -p "$KAFKA_CACHE"
  # One fetch at a time (parallel test runs share the cache).
  exec 9>"$KAFKA_CACHE/.lock"
  flock -w 900 9 || die "another fetch holds $KAFKA_CACHE/.lock"
  if cache_ok; then
    exec 9>&-
    return 0
  fi
  local t0=$SECONDS tmp n
  tmp=$(mktemp -d "$KAFKA_CACHE/.fetch.XXXXXX")
  say "fetching org.apache.kafka:kafka_2.13:$KAFKA_VERSION and its runtime dependencies with mvn..."
  if ! "$MVN" -B -q -Dstyle.color=never -f "$POM" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp/libs" >"$tmp/mvn.log" 2>&1; then
    log_tail "$tmp/mvn.log" 60
    rm -rf "$tmp"
    die "fetch failed: mvn could not resolve Kafka $KAFKA_VERSION (is Maven Central reachable?)"
  fi
  [ -f "$tmp/libs/kafka_2.13-$KAFKA_VERSION.jar" ] || {
    rm -rf "$tmp"
    die "fetch failed: kafka_2.13-$KAFKA_VERSION.jar missing from the resolved jars"
  }
  n=$(find "$tmp/libs" -name '*.jar' | wc -l)
  printf '%s\nkafka_2.13 %s, %s jars\n' "$(pom_sum)" "$KAFKA_VERSION" "$n" >"$tmp/libs/.complete"
  rm -rf "$KAFKA_CACHE/$KAFKA_VERSION"
  mkdir -p "$KAFKA_CACHE/$KAFKA_VERSION"
  mv "$tmp/libs" "$LIBS"
  rm -rf "$tmp"
  exec 9>&-
  say "fetched Kafka $KAFKA_VERSION: $n jars into $LIBS in $((SECONDS - t0))s"
}

need_java() {
  command -v "$JAVA" >/dev/null 2>&1 || die "java not found ($JAVA): Kafka $KAFKA_VERSION needs Java 17 or newer"
  local v major
  v=$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)
  major=${v%%.*}
  [ "$major" = 1 ] && major=$(echo "$v" | cut -d. -f2)
  [[ "$major" =~ ^[0-9]+$ ]] && [ "$major" -ge 17 ] || die "java $v found ($JAVA): Kafka $KAFKA_VERSION needs Java 17 or newer"
}

# pid_of prints the broker's pid when the pid file names a live broker of
# this state dir (a stale file, or a pid reused by another process, is not).
pid_of() {
  local pid
  [ -f "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$PROPS" || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$KAFKA_HOST/$1") 2>/dev/null; }

# cluster_id makes a random KRaft cluster id (16 bytes, base64url, no
# padding: what `kafka-storage random-uuid` prints) without starting a JVM.
# One that starts with '-' (1 in 64) would be read as an option by the
# storage tool: draw again.
cluster_id() {
    local id
    while :; do
        id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
        [[ $id != -* ]] && break
    done
    printf '%s' "$id"
}

write_props() {
  cat >"$PROPS" <<EOF
# Generated by scripts/kafka.sh; rewritten at every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
$KAFKA_PROPERTIES
EOF
}

# java_args sets JAVA_ARGS: the JVM command line up to the main class.
java_args() {
  local heap opts
  read -r -a heap <<<"$KAFKA_HEAP"
  read -r -a opts <<<"$KAFKA_JVM_OPTS"
  JAVA_ARGS=("$JAVA" "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
    -Djava.awt.headless=true "-Dlog4j2.configurationFile=$LOG4J_CONF" "-Dkafka.logs.dir=$KAFKA_STATE"
    "${opts[@]}" -cp "$LIBS/*")
}

start_watch() {
  local watched=$1 broker=$2
  # The watcher has its own session and no stdout, so that a caller reading
  # this script's output is not held open by it.
  setsid bash -c '
    echo $$ >"$1"
    while kill -0 "$2" 2>/dev/null && kill -0 "$3" 2>/dev/null; do sleep 1; done
    if kill -0 "$3" 2>/dev/null; then
      kill -TERM "$3" 2>/dev/null
      for _ in $(seq "$4"); do kill -0 "$3" 2>/dev/null || exit 0; sleep 1; done
      kill -KILL "$3" 2>/dev/null
    fi
  ' _ "$WATCHFILE" "$watched" "$broker" "$KAFKA_STOP_TIMEOUT" </dev/null >/dev/null 2>&1 &
}

start() {
  fetch
  need_java
  local pid
  if pid=$(pid_of); then
    say "already running: pid $pid, broker $KAFKA_HOST:$KAFKA_PORT, log $LOG"
    echo "BGPSENTRY_KAFKA=$KAFKA_HOST:$KAFKA_PORT"
    return 0
  fi
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT on $KAFKA_HOST is in use (set KAFKA_PORT)"
  port_open "$KAFKA_CONTROLLER_PORT" && die "controller port $KAFKA_CONTROLLER_PORT on $KAFKA_HOST is in use (set KAFKA_CONTROLLER_PORT)"
  mkdir -p "$KAFKA_STATE"
  rm -f "$PIDFILE"
  write_props
  java_args
  local t0=$SECONDS
  if [ ! -f "$DATA/meta.properties" ]; then
    if ! "${JAVA_ARGS[@]}" kafka.tools.StorageTool format --cluster-id="$(cluster_id)" -c "$PROPS" >"$KAFKA_STATE/format.log" 2>&1; then
      log_tail "$KAFKA_STATE/format.log"
      die "formatting the KRaft storage in $DATA failed"
    fi
  fi
  [ -f "$LOG" ] && mv -f "$LOG" "$LOG.1"
  # The broker writes its own pid (exec keeps it) in a session of its own,
  # so that the terminal's or test runner's signals do not reach it: stop
  # (or the watcher) ends it.
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PIDFILE" "${JAVA_ARGS[@]}" kafka.Kafka "$PROPS" \
    </dev/null >"$LOG" 2>&1 &
  local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  pid=""
  while :; do
    [ -z "$pid" ] && [ -s "$PIDFILE" ] && pid=$(cat "$PIDFILE")
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      log_tail "$LOG" 60
      rm -f "$PIDFILE"
      die "the broker exited during startup; log: $LOG"
    fi
    if [ -n "$pid" ] && grep -q 'Kafka Server started' "$LOG" 2>/dev/null && port_open "$KAFKA_PORT"; then
      break
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log_tail "$LOG" 60
      stop >/dev/null 2>&1 || true
      die "the broker did not serve on $KAFKA_HOST:$KAFKA_PORT within ${KAFKA_START_TIMEOUT}s; log: $LOG"
    fi
    sleep 0.3
  done
  if [ -n "${KAFKA_WATCH_PID:-}" ]; then
    start_watch "$KAFKA_WATCH_PID" "$pid"
  fi
  say "Kafka $KAFKA_VERSION serving on $KAFKA_HOST:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT), pid $pid, started in $((SECONDS - t0))s"
  say "state $KAFKA_STATE, log $LOG"
  echo "BGPSENTRY_KAFKA=$KAFKA_HOST:$KAFKA_PORT"
}

stop() {
  local pid w
  if [ -f "$WATCHFILE" ]; then
    w=$(cat "$WATCHFILE" 2>/dev/null || true)
    if [[ "$w" =~ ^[0-9]+$ ]]; then kill -TERM "$w" 2>/dev/null || true; fi
    rm -f "$WATCHFILE"
  fi
  if ! pid=$(pid_of); then
    rm -f "$PIDFILE"
    say "not running (state $KAFKA_STATE)"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "no exit ${KAFKA_STOP_TIMEOUT}s after SIGTERM: SIGKILL $pid"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  rm -f "$PIDFILE"
  say "stopped pid $pid (log $LOG)"
}

status() {
  local pid
  if pid=$(pid_of); then
    say "running: pid $pid, Kafka $KAFKA_VERSION, broker $KAFKA_HOST:$KAFKA_PORT, controller $KAFKA_CONTROLLER_PORT"
    say "state $KAFKA_STATE, log $LOG"
    return 0
  fi
  if [ -f "$LOG" ]; then say "not running (state $KAFKA_STATE, last log $LOG)"; else say "not running (state $KAFKA_STATE)"; fi
  if cache_ok; then say "cache: $(sed -n 2p "$LIBS/.complete") in $LIBS"; else say "cache: not fetched ($LIBS)"; fi
  return 3
}

clean() {
  stop
  case "$KAFKA_STATE" in
  "" | / | "$HOME" | "$ROOT") die "refusing to remove state dir '$KAFKA_STATE'" ;;
  esac
  rm -rf "$KAFKA_STATE"
  say "removed $KAFKA_STATE"
}

case "${1:-}" in
fetch) fetch ;;
start) start ;;
stop) stop ;;
status) status ;;
clean) clean ;;
env) echo "BGPSENTRY_KAFKA=$KAFKA_HOST:$KAFKA_PORT" ;;
*)
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
  ;;
esac
