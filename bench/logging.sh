#!/usr/bin/env bash
# Load benchmark of AIProxy's access log, in one run on this machine: the same hey load through
#
#   bare      httputil.ReverseProxy → fake (the floor)
#   nolog     AIProxy without an access log
#   sqlite    AIProxy logging into a SQLite file
#   postgres  AIProxy logging into PostgreSQL (a schema of its own, dropped at exit)
#
# for {non-stream, 20-chunk stream} × CONCURRENCY. Both logging proxies have a spill
# directory, so a writer that cannot keep up shows as spilled records rather than as waiting
# requests. After each scenario the script waits until the writer has stored everything
# (the time that took is "drain ms"), then reads the writer's counts from /bench/stats: the
# rows written in the scenario (must be 2 per request), spilled, blocked and failed, and the
# longest queue seen. CPU per request is the proxy process's, measured after the drain so
# that it includes the writer's work; for PostgreSQL also the CPU of the server backends
# serving the proxy's connections. At the end it counts the rows in each database, and runs
# the accesslog package's raw insert benchmarks (rows/s) for SQLite and PostgreSQL.
#
# Environment: N (requests per non-stream scenario, default 4000), N_STREAM (per stream
# scenario, default 3000), CONCURRENCY (default "1 50"), PG (base PostgreSQL URL, default
# $AIPROXY_TEST_POSTGRES or postgres://postgres@127.0.0.1:5432/test?sslmode=disable),
# GOBENCH (0 skips the go test benchmarks), BENCHTIME (their -benchtime, default 2s).
# All traffic goes to 127.0.0.1. Results go to stdout and bench/results/logging.txt.
set -euo pipefail

N=${N:-4000}
N_STREAM=${N_STREAM:-3000}
CONCURRENCY=${CONCURRENCY:-"1 50"}
PG=${PG:-${AIPROXY_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}}
GOBENCH=${GOBENCH:-1}
BENCHTIME=${BENCHTIME:-2s}
RESULTS=bench/results/logging.txt
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v psql >/dev/null || { echo "psql is needed to create the benchmark's schema" >&2; exit 1; }
case $PG in
*127.0.0.1* | *localhost*) ;;
*) echo "PG must point at 127.0.0.1: $PG" >&2; exit 1 ;;
esac
SCHEMA="bench_$(date +%s)_$$"
APP="aiproxy-bench-$SCHEMA" # application_name of the proxy's connections, to find its backends
sep='?'
[[ $PG == *'?'* ]] && sep='&'
PG_DSN="$PG${sep}search_path=$SCHEMA&application_name=$APP"
psql "$PG" -qc "CREATE SCHEMA $SCHEMA"
EXIT_HOOKS+=("psql '$PG' -qc 'DROP SCHEMA IF EXISTS $SCHEMA CASCADE' >/dev/null 2>&1")

header "AIProxy access log benchmark"
out "postgres: $(psql "$PG" -Atc 'SHOW server_version') at 127.0.0.1, schema $SCHEMA; synchronous_commit=$(psql "$PG" -Atc 'SHOW synchronous_commit')"
out "load:    N=$N (non-stream), N_STREAM=$N_STREAM (20-chunk stream), CONCURRENCY=\"$CONCURRENCY\""
out ""

TARGETS="bare nolog sqlite postgres"
start fake -mode fake -addr 127.0.0.1:0 -key "$KEY"
start bare -mode bare -addr 127.0.0.1:0 -upstream "http://$ADDR_fake"
start nolog -mode aiproxy -addr 127.0.0.1:0 -upstream "http://$ADDR_fake" -key "$KEY" -nolog
start sqlite -mode aiproxy -addr 127.0.0.1:0 -upstream "http://$ADDR_fake" -key "$KEY" \
	-db "$WORK/aiproxy.db" -spill-dir "$WORK/sqlite-spill"
start postgres -mode aiproxy -addr 127.0.0.1:0 -upstream "http://$ADDR_fake" -key "$KEY" \
	-db "$PG_DSN" -spill-dir "$WORK/postgres-spill"
declare -A ADDR=([bare]=$ADDR_bare [nolog]=$ADDR_nolog [sqlite]=$ADDR_sqlite [postgres]=$ADDR_postgres)
declare -A PID=([bare]=$PID_bare [nolog]=$PID_nolog [sqlite]=$PID_sqlite [postgres]=$PID_postgres)
declare -A SENT=([sqlite]=0 [postgres]=0) # requests sent to each logging proxy, warm-ups included

printf '%s' '{"model":"gpt-4o-mini","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"Say hello to the benchmark, please"}]}' >"$WORK/chat.json"
printf '%s' '{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"Say hello to the benchmark, please"}]}' >"$WORK/stream.json"

# pg_backends prints the pids of the PostgreSQL backends of the proxy's connections.
pg_backends() { psql "$PG" -Atc "SELECT pid FROM pg_stat_activity WHERE application_name = '$APP'" | tr '\n' ' '; }

# scenario KIND TARGET C N prints "rps p50 p99 proxy_cpu pg_cpu drain_ms written spilled
# blocked failed max_queued" (CPU in µs per request; "-" where it does not apply).
scenario() {
	local kind=$1 t=$2 c=$3 n=$4
	local body="$WORK/chat.json" hdr=(-H "Authorization: Bearer $KEY")
	if [[ $kind == stream ]]; then
		body="$WORK/stream.json"
		hdr+=(-H "X-Fake-Chunks: 20")
	fi
	local logs=0 pgb="" w0=0 s0=0 b0=0 f0=0
	[[ $t == sqlite || $t == postgres ]] && logs=1
	if ((logs)); then
		writer_stats "${ADDR[$t]}" # also resets its longest queue
		w0=$(jget "$WORK/stats.json" written) s0=$(jget "$WORK/stats.json" spilled)
		b0=$(jget "$WORK/stats.json" blocked) f0=$(jget "$WORK/stats.json" failed)
	fi
	[[ $t == postgres ]] && pgb=$(pg_backends)
	local p0 g0=0 p1 g1=0 res drain_ms=-
	p0=$(cpu "${PID[$t]}")
	[[ $t == postgres ]] && g0=$(cpu $pgb)
	res=$(hey_run "http://${ADDR[$t]}" "$c" "$n" "$body" "${hdr[@]}") || exit 1
	((logs)) && { drain_ms=$(drain "${ADDR[$t]}") || exit 1; }
	p1=$(cpu "${PID[$t]}")
	if [[ $t == postgres ]]; then
		local pid all="$pgb"
		for pid in $(pg_backends); do [[ " $pgb " == *" $pid "* ]] || all+=" $pid"; done
		g1=$(cpu $all)
	fi
	local w=- s=- b=- f=- mq=-
	if ((logs)); then
		w=$(($(jget "$WORK/stats.json" written) - w0)) s=$(($(jget "$WORK/stats.json" spilled) - s0))
		b=$(($(jget "$WORK/stats.json" blocked) - b0)) f=$(($(jget "$WORK/stats.json" failed) - f0))
		mq=$(jget "$WORK/stats.json" max_queued)
	fi
	awk -v n="$n" -v tick="$TICK" -v p0="$p0" -v p1="$p1" -v g0="$g0" -v g1="$g1" -v pg="$([[ $t == postgres ]] && echo 1 || echo 0)" \
		-v res="$res" -v rest="$drain_ms $w $s $b $f $mq" 'BEGIN {
		pcpu = (p1 - p0) * 1e6 / tick / n
		gcpu = pg ? sprintf("%.1f", (g1 - g0) * 1e6 / tick / n) : "-"
		printf "%s %.1f %s %s\n", res, pcpu, gcpu, rest }'
}

# --- warm-up -------------------------------------------------------------------------------
for t in $TARGETS; do
	scenario chat "$t" 10 500 >/dev/null || exit 1
	scenario stream "$t" 10 200 >/dev/null || exit 1
	[[ -v SENT[$t] ]] && SENT[$t]=$((SENT[$t] + 700))
done

# --- hey scenarios -------------------------------------------------------------------------
declare -A R
FAILS=()
for kind in chat stream; do
	n=$N
	[[ $kind == stream ]] && n=$N_STREAM
	for c in $CONCURRENCY; do
		for t in $TARGETS; do
			R[$kind,$c,$t]=$(scenario "$kind" "$t" "$c" "$n") || exit 1
			if [[ -v SENT[$t] ]]; then
				SENT[$t]=$((SENT[$t] + n))
				read -r _ _ _ _ _ _ w s _ f _ <<<"${R[$kind,$c,$t]}"
				[[ $w != $((2 * n)) ]] && FAILS+=("$kind c=$c $t: $w rows written, want $((2 * n))")
				[[ $s != 0 ]] && FAILS+=("$kind c=$c $t: $s records spilled")
				[[ $f != 0 ]] && FAILS+=("$kind c=$c $t: $f records failed")
			fi
		done
	done
done

fmt='%-10s %-8s %3s %7s %7s %7s %9s %7s %6s %6s %6s %6s %5s %5s %6s %6s'
out "## hey: the same load through each path (p50/p99 at hey's 100 µs resolution)"
out "proxy CPU: user+system CPU of the proxy process per request, measured after the log writer"
out "drained (so including it); pg CPU: the PostgreSQL backends of the proxy's connections."
out "×nolog: proxy CPU (plus pg CPU for postgres) / nolog's; rps ×nolog likewise. rows: written"
out "by the writer in the scenario (2 per request); spill/blk/fail: records spilled, Write calls"
out "that waited, records lost; maxQ: longest queue seen (2 ms samples); drain: ms after the"
out "last response until the queue was empty."
out ""
out "$(printf "$fmt" scenario target c 'req/s' 'p50 µs' 'p99 µs' 'proxy CPU' 'pg CPU' 'CPU' 'rps' rows spill blk fail maxQ drain)"
out "$(printf "$fmt" '' '' '' '' '' '' 'µs/req' 'µs/req' '×nolog' '×nolog' '' '' '' '' '' 'ms')"
for kind in chat stream; do
	label=non-stream
	[[ $kind == stream ]] && label=stream-20
	for c in $CONCURRENCY; do
		read -r nrps _ _ ncpu _ <<<"${R[$kind,$c,nolog]}"
		for t in $TARGETS; do
			read -r rps p50 p99 pcpu gcpu dms w s b f mq <<<"${R[$kind,$c,$t]}"
			ratio=$(awk -v a="$pcpu" -v g="$gcpu" -v b="$ncpu" 'BEGIN { if (g != "-") a += g; printf "%.2f", (b > 0 ? a / b : 0) }')
			rr=$(awk -v a="$rps" -v b="$nrps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
			out "$(printf "$fmt" "$label" "$t" "$c" "$rps" "$p50" "$p99" "$pcpu" "$gcpu" "$ratio" "$rr" "$w" "$s" "$b" "$f" "$mq" "$dms")"
		done
	done
done
out ""
out "uptime:  $(uptime) (after the load)"
out ""

# --- the logs ------------------------------------------------------------------------------
out "## access logs after SIGTERM (the writer's counts at exit, then the rows in the database)"
for t in sqlite postgres; do
	stop "$t"
	out "$(printf '%-10s writer %s' "$t" "$(grep '^{' "$WORK/$t.out" | tail -1)")"
done
check_rows sqlite "$WORK/aiproxy.db" "${SENT[sqlite]}"
check_rows postgres "$PG_DSN" "${SENT[postgres]}"
check_stderr fake bare nolog sqlite postgres
out ""
if ((${#FAILS[@]})); then
	out "FAIL: the writer did not keep up:"
	for f in "${FAILS[@]}"; do out "  $f"; done
	exit 1
fi
out "every scenario: 2 rows per request written, none spilled, none failed"
out ""

# --- raw writer throughput -----------------------------------------------------------------
if [[ $GOBENCH == 1 ]]; then
	out "## raw insert throughput (accesslog package benchmarks; the load above is stopped)"
	bench_cmd="AIPROXY_TEST_POSTGRES=$PG go test -run xxx -bench 'SQLiteInsertRandomIDs|PostgresInsertRandomIDs|SQLiteInsertSmall|PostgresInsertSmall' -benchtime $BENCHTIME ./accesslog/"
	out "\$ $bench_cmd"
	out "$(AIPROXY_TEST_POSTGRES=$PG go test -run xxx -bench 'SQLiteInsertRandomIDs|PostgresInsertRandomIDs|SQLiteInsertSmall|PostgresInsertSmall' -benchtime "$BENCHTIME" ./accesslog/ 2>&1)"
	out ""
fi
out "uptime:  $(uptime) (end)"
out "results written to $RESULTS"
