#!/usr/bin/env bash
# Load benchmark of AIProxy's filters on the hot path, in one run on this machine: the same
# requests (the client key of the filters issue's example config, a user field, model
# gpt-4o-mini) through
#
#   none     AIProxy with the replay filter only (the binary without a config file)
#   example  AIProxy with the filters issue's example filter list and client keys
#            (bench/server -filters example)
#   hold     AIProxy as none plus one no-op response filter, which holds each stream
#            (bench/server -hold); only in the time-to-first-token part
#
# all three logging into SQLite files. hey measures CPU per request and latency of none
# against example for {non-stream, 20-chunk stream} × CONCURRENCY (the proxy's CPU read after
# its log writer drained, so the log-side work of the filters, the redaction of the log and
# the budget settlement, counts too). The ttfb driver then measures the time to the first
# event of a stream relayed (none, example) against a held one (hold), with the fake sending
# its events at once and 5 ms apart.
#
# Environment: N (requests per non-stream scenario, default 4000), N_STREAM (per stream
# scenario, default 3000), CONCURRENCY (default "1 50"), TTFB_N (streams per ttfb run without
# delay, default 500), TTFB_SLOW_N (with 5 ms between events, default 30), CLIENT_KEY (the key
# sent, default the example's team-a key), BENCH_USER (the request's user field, default
# bench-user). All traffic goes to 127.0.0.1. Results go to stdout and
# bench/results/filters.txt.
set -euo pipefail

N=${N:-4000}
N_STREAM=${N_STREAM:-3000}
CONCURRENCY=${CONCURRENCY:-"1 50"}
TTFB_N=${TTFB_N:-500}
TTFB_SLOW_N=${TTFB_SLOW_N:-30}
CLIENT_KEY=${CLIENT_KEY:-sk-team-a-0123456789}
BENCH_USER=${BENCH_USER:-bench-user}
RESULTS=bench/results/filters.txt
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

header "AIProxy filters benchmark"
out "load:    N=$N (non-stream), N_STREAM=$N_STREAM (20-chunk stream), CONCURRENCY=\"$CONCURRENCY\", TTFB_N=$TTFB_N, TTFB_SLOW_N=$TTFB_SLOW_N"
out ""

start fake -mode fake -addr 127.0.0.1:0 -key "$KEY"
for t in none example hold; do
	args=()
	[[ $t == example ]] && args=(-filters example)
	[[ $t == hold ]] && args=(-hold)
	start "$t" -mode aiproxy -addr 127.0.0.1:0 -upstream "http://$ADDR_fake" -key "$KEY" \
		-db "$WORK/$t.db" "${args[@]}"
done
declare -A ADDR=([none]=$ADDR_none [example]=$ADDR_example [hold]=$ADDR_hold)
declare -A PID=([none]=$PID_none [example]=$PID_example [hold]=$PID_hold)
declare -A SENT=([none]=0 [example]=0 [hold]=0) # requests sent, warm-ups included

user=$(printf '%s' "$BENCH_USER" | sed 's/[\\"]/\\&/g')
printf '%s' '{"model":"gpt-4o-mini","user":"'"$user"'","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"Say hello to the benchmark, please"}]}' >"$WORK/chat.json"
printf '%s' '{"model":"gpt-4o-mini","user":"'"$user"'","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"Say hello to the benchmark, please"}]}' >"$WORK/stream.json"

# scenario KIND TARGET C N prints "rps p50 p99 proxy_cpu" (CPU in µs per request, read after
# the log writer drained).
scenario() {
	local kind=$1 t=$2 c=$3 n=$4
	local body="$WORK/chat.json" hdr=(-H "Authorization: Bearer $CLIENT_KEY")
	if [[ $kind == stream ]]; then
		body="$WORK/stream.json"
		hdr+=(-H "X-Fake-Chunks: 20")
	fi
	local p0 p1 res
	drain "${ADDR[$t]}" >/dev/null || exit 1
	p0=$(cpu "${PID[$t]}")
	res=$(hey_run "http://${ADDR[$t]}" "$c" "$n" "$body" "${hdr[@]}") || exit 1
	drain "${ADDR[$t]}" >/dev/null || exit 1
	p1=$(cpu "${PID[$t]}")
	awk -v n="$n" -v tick="$TICK" -v p0="$p0" -v p1="$p1" -v res="$res" \
		'BEGIN { printf "%s %.1f\n", res, (p1 - p0) * 1e6 / tick / n }'
}

# --- warm-up -------------------------------------------------------------------------------
for t in none example hold; do
	scenario chat "$t" 10 500 >/dev/null || exit 1
	scenario stream "$t" 10 200 >/dev/null || exit 1
	SENT[$t]=$((SENT[$t] + 700))
done

# --- hey scenarios -------------------------------------------------------------------------
declare -A R
for kind in chat stream; do
	n=$N
	[[ $kind == stream ]] && n=$N_STREAM
	for c in $CONCURRENCY; do
		for t in none example; do
			R[$kind,$c,$t]=$(scenario "$kind" "$t" "$c" "$n") || exit 1
			SENT[$t]=$((SENT[$t] + n))
		done
	done
done

fmt='%-10s %-8s %3s %7s %7s %7s %10s %7s %8s %8s %9s'
out "## hey: CPU per request and latency, no filters against the example's (p50/p99 at hey's 100 µs resolution)"
out "proxy CPU: user+system CPU of the proxy process per request, read after its log writer drained."
out "mean µs: 1e6 / req/s (at c=1 the exact mean latency, hey's own time included)."
out ""
out "$(printf "$fmt" scenario filters c 'req/s' 'p50 µs' 'p99 µs' 'proxy CPU' 'CPU' '+CPU' '+p50 µs' '+mean µs')"
out "$(printf "$fmt" '' '' '' '' '' '' 'µs/req' '×none' 'µs/req' '' '')"
for kind in chat stream; do
	label=non-stream
	[[ $kind == stream ]] && label=stream-20
	for c in $CONCURRENCY; do
		read -r nrps np50 _ ncpu <<<"${R[$kind,$c,none]}"
		for t in none example; do
			read -r rps p50 p99 pcpu <<<"${R[$kind,$c,$t]}"
			ratio=- added=- ap50=- amean=-
			if [[ $t == example ]]; then
				ratio=$(awk -v a="$pcpu" -v b="$ncpu" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
				added=$(awk -v a="$pcpu" -v b="$ncpu" 'BEGIN { printf "%+.1f", a - b }')
				ap50=$(awk -v a="$p50" -v b="$np50" 'BEGIN { printf "%+.0f", a - b }')
				amean=$(awk -v a="$rps" -v b="$nrps" 'BEGIN { printf "%+.0f", 1e6 / a - 1e6 / b }')
			fi
			out "$(printf "$fmt" "$label" "$t" "$c" "$rps" "$p50" "$p99" "$pcpu" "$ratio" "$added" "$ap50" "$amean")"
		done
	done
done
out ""

# --- time to first token -------------------------------------------------------------------
# ttfb LABEL ARGS... runs the driver against each proxy and prints one line per proxy.
ttfb() {
	local label=$1
	shift
	local t f0=0 d0=0
	for t in none example hold; do
		timeout 120 "$SERVER" -mode ttfb -url "http://${ADDR[$t]}" -key "$KEY" -client-key "$CLIENT_KEY" \
			-user "$BENCH_USER" "$@" >"$WORK/ttfb.json"
		SENT[$t]=$((SENT[$t] + $(jget "$WORK/ttfb.json" sent)))
		local h50 f50 f99 d50 d99 added=-
		h50=$(jget "$WORK/ttfb.json" headers_p50_us)
		f50=$(jget "$WORK/ttfb.json" first_p50_us)
		f99=$(jget "$WORK/ttfb.json" first_p99_us)
		d50=$(jget "$WORK/ttfb.json" done_p50_us)
		d99=$(jget "$WORK/ttfb.json" done_p99_us)
		if [[ $t == none ]]; then
			f0=$f50 d0=$d50
		else
			added=$(awk -v a="$f50" -v b="$f0" -v x="$d50" -v y="$d0" 'BEGIN { printf "%+.0f / %+.0f", a - b, x - y }')
		fi
		out "$(printf '%-22s %-8s %9.0f %9.0f %9.0f %9.0f %9.0f %18s' "$label" "$t" "$h50" "$f50" "$f99" "$d50" "$d99" "$added")"
	done
}

out "## ttfb driver: time to first token of a 20-chunk stream, concurrency 1 (µs)"
out "none and example relay each event as it comes; hold has a response filter that holds the stream."
out "$(printf '%-22s %-8s %9s %9s %9s %9s %9s %18s' case proxy 'hdr p50' 'TTFT p50' 'TTFT p99' 'done p50' 'done p99' '+p50 vs none')"
out "$(printf '%-22s %-8s %9s %9s %9s %9s %9s %18s' '' '' '' '' '' '' '' 'TTFT / done')"
ttfb "stream-20, no delay" -n "$TTFB_N" -c 1 -chunks 20
ttfb "stream-20, 5ms/event" -n "$TTFB_SLOW_N" -c 1 -chunks 20 -chunk-delay 5ms
out ""
out "uptime:  $(uptime) (after the load)"
out ""

# --- the logs ------------------------------------------------------------------------------
out "## access logs after SIGTERM (the writer's counts at exit, then the rows in the database)"
for t in none example hold; do
	stop "$t"
	out "$(printf '%-10s writer %s' "$t" "$(grep '^{' "$WORK/$t.out" | tail -1)")"
done
for t in none example hold; do
	check_rows "$t" "$WORK/$t.db" "${SENT[$t]}"
done
check_stderr fake none example hold
out "results written to $RESULTS"
