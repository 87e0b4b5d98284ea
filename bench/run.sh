#!/usr/bin/env bash
# Load benchmark of AIProxy against two baselines, in one run on this machine:
#
#   direct   hey → fake OpenAI upstream
#   bare     hey → httputil.ReverseProxy → fake
#   aiproxy  hey → AIProxy (full SQLite logging) → fake
#
# for {non-stream, 20-chunk stream} × {concurrency 1, 50}. It prints requests/s, p50/p99
# latency and the proxy's and the fake's CPU time per request, the ratios to the bare proxy,
# the latency of the ttfb driver (bench/server -mode ttfb, µs resolution), and checks that
# AIProxy logged two rows per request. See bench/README.md.
#
# Environment: N (requests per non-stream scenario, default 10000), N_STREAM (per stream
# scenario, default 5000), CONCURRENCY (default "1 50"), TTFB_N (requests per ttfb run,
# default 500), TTFB_SLOW_N (per ttfb run with 5ms between events, default 30), PROFILE=1
# (write CPU profiles of the bare proxy and of aiproxy to bench/results/ and print their tops;
# profiling costs a few per cent of CPU, so leave it off for the figures).
# All traffic goes to 127.0.0.1. The results go to stdout and bench/results/latest.txt.
set -euo pipefail

N=${N:-10000}
N_STREAM=${N_STREAM:-5000}
CONCURRENCY=${CONCURRENCY:-"1 50"}
TTFB_N=${TTFB_N:-500}
TTFB_SLOW_N=${TTFB_SLOW_N:-30}
PROFILE=${PROFILE:-0}
HEY_TIMEOUT=180 # seconds: the most one hey run may take
RESULTS=bench/results/latest.txt
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # cleanup, out, start, cpu, jget; builds $SERVER

out "# AIProxy load benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
out "go:      $(go version)"
out "hey:     $(dpkg-query -W -f='${Version}' hey 2>/dev/null || echo unknown)"
out "nproc:   $(nproc)   cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
out "kernel:  $(uname -r)   CLK_TCK: $TICK"
out "loadavg: $(cut -d' ' -f1-3 /proc/loadavg) (before; other work on the machine skews every figure)"
out "load:    N=$N (non-stream), N_STREAM=$N_STREAM (20-chunk stream), CONCURRENCY=\"$CONCURRENCY\", TTFB_N=$TTFB_N"
out ""

# --- servers -------------------------------------------------------------------------------

prof_bare=() prof_aiproxy=()
if [[ $PROFILE == 1 ]]; then
	prof_bare=(-cpuprofile bench/results/bare.cpu.pprof)
	prof_aiproxy=(-cpuprofile bench/results/aiproxy.cpu.pprof)
fi
start fake -mode fake -addr 127.0.0.1:0 -key "$KEY"
start bare -mode bare -addr 127.0.0.1:0 -upstream "http://$ADDR_fake" "${prof_bare[@]}"
start aiproxy -mode aiproxy -addr 127.0.0.1:0 -upstream "http://$ADDR_fake" -db "$WORK/aiproxy.db" -key "$KEY" "${prof_aiproxy[@]}"

declare -A URL=([direct]="http://$ADDR_fake" [bare]="http://$ADDR_bare" [aiproxy]="http://$ADDR_aiproxy")
declare -A PID=([direct]="$PID_fake" [bare]="$PID_bare" [aiproxy]="$PID_aiproxy")
AIPROXY_SENT=0 # every request sent to aiproxy, warm-ups included: each must leave two rows

printf '%s' '{"model":"gpt-4o-mini","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"Say hello to the benchmark, please"}]}' >"$WORK/chat.json"
printf '%s' '{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"Say hello to the benchmark, please"}]}' >"$WORK/stream.json"


# load KIND TARGET C N runs hey and prints "rps p50_us p99_us proxy_cpu_us fake_cpu_us" per
# request (proxy CPU is "-" for direct). It runs in a subshell: the caller counts what went to
# aiproxy.
load() {
	local kind=$1 target=$2 c=$3 n=$4
	local body="$WORK/chat.json" hdr=()
	if [[ $kind == stream ]]; then
		body="$WORK/stream.json"
		hdr=(-H "X-Fake-Chunks: 20")
	fi
	local fake0 proxy0=0 fake1 proxy1=0
	fake0=$(cpu "$PID_fake")
	[[ $target != direct ]] && proxy0=$(cpu "${PID[$target]}")
	timeout "$HEY_TIMEOUT" hey -n "$n" -c "$c" -m POST -T application/json -disable-compression \
		-H "Authorization: Bearer $KEY" "${hdr[@]}" -D "$body" \
		"${URL[$target]}/v1/chat/completions" >"$WORK/hey.txt"
	fake1=$(cpu "$PID_fake")
	[[ $target != direct ]] && proxy1=$(cpu "${PID[$target]}")
	if ! grep -q "^  \[200\]	$n responses" "$WORK/hey.txt" || grep -q 'Error distribution' "$WORK/hey.txt"; then
		echo "hey: not all $n requests to $target answered 200:" >&2
		cat "$WORK/hey.txt" >&2
		exit 1
	fi
	awk -v n="$n" -v tick="$TICK" -v direct="$([[ $target == direct ]] && echo 1 || echo 0)" \
		-v f0="$fake0" -v f1="$fake1" -v p0="$proxy0" -v p1="$proxy1" '
		/Requests\/sec:/ { rps = $2 }
		/ 50% in / { p50 = $3 * 1e6 }
		/ 99% in / { p99 = $3 * 1e6 }
		END {
			fake = (f1 - f0) * 1e6 / tick / n
			proxy = direct ? "-" : sprintf("%.1f", (p1 - p0) * 1e6 / tick / n)
			printf "%.0f %.0f %.0f %s %.1f\n", rps, p50, p99, proxy, fake
		}' "$WORK/hey.txt"
}

# --- warm-up -------------------------------------------------------------------------------
for t in direct bare aiproxy; do
	load chat "$t" 10 500 >/dev/null
	load stream "$t" 10 200 >/dev/null
	[[ $t == aiproxy ]] && AIPROXY_SENT=$((AIPROXY_SENT + 700))
done

# --- hey scenarios -------------------------------------------------------------------------
declare -A R
for kind in chat stream; do
	n=$N
	[[ $kind == stream ]] && n=$N_STREAM
	for c in $CONCURRENCY; do
		for t in direct bare aiproxy; do
			R[$kind,$c,$t]=$(load "$kind" "$t" "$c" "$n") || exit 1
			if [[ $t == aiproxy ]]; then AIPROXY_SENT=$((AIPROXY_SENT + n)); fi
		done
	done
done

out "## hey: the same load through each path (latency p50/p99 at hey's 100 µs resolution)"
out "CPU µs/req: user+system CPU of the server process over the run, divided by its requests."
out ""
hdr=$(printf '%-10s %-8s %4s %9s %8s %8s %11s %10s %10s %10s' \
	scenario target c 'req/s' 'p50 µs' 'p99 µs' 'proxy CPU' 'fake CPU' 'CPU ×bare' '+p50 µs')
out "$hdr"
out "$(printf '%-10s %-8s %4s %9s %8s %8s %11s %10s %10s %10s' '' '' '' '' '' '' 'µs/req' 'µs/req' '' 'vs bare')"
for kind in chat stream; do
	label=non-stream
	[[ $kind == stream ]] && label=stream-20
	for c in $CONCURRENCY; do
		read -r _ bp50 _ bcpu _ <<<"${R[$kind,$c,bare]}"
		for t in direct bare aiproxy; do
			read -r rps p50 p99 pcpu fcpu <<<"${R[$kind,$c,$t]}"
			ratio=- added=-
			if [[ $t == aiproxy ]]; then
				ratio=$(awk -v a="$pcpu" -v b="$bcpu" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
				added=$(awk -v a="$p50" -v b="$bp50" 'BEGIN { printf "%+.0f", a - b }')
			fi
			out "$(printf '%-10s %-8s %4s %9s %8s %8s %11s %10s %10s %10s' \
				"$label" "$t" "$c" "$rps" "$p50" "$p99" "$pcpu" "$fcpu" "$ratio" "$added")"
		done
	done
done
out ""

# Mean latency at concurrency 1 is 1/(req/s) and is exact where hey's percentiles are not.
if [[ " $CONCURRENCY " == *" 1 "* ]]; then
	out "## mean latency at c=1 from hey's req/s (1e6 / req/s, includes hey's own time per request)"
	for kind in chat stream; do
		label=non-stream
		[[ $kind == stream ]] && label=stream-20
		read -r drps _ <<<"${R[$kind,1,direct]}"
		read -r brps _ <<<"${R[$kind,1,bare]}"
		read -r arps _ <<<"${R[$kind,1,aiproxy]}"
		out "$(awk -v l="$label" -v d="$drps" -v b="$brps" -v a="$arps" 'BEGIN {
			printf "%-10s direct %6.0f µs   bare %6.0f µs (+%.0f vs direct)   aiproxy %6.0f µs (%+.0f vs bare)\n",
				l, 1e6/d, 1e6/b, 1e6/b - 1e6/d, 1e6/a, 1e6/a - 1e6/b }')"
	done
	out ""
fi

# --- ttfb driver ---------------------------------------------------------------------------

# ttfb LABEL ARGS... runs the driver against each target and prints one line per target.
ttfb() {
	local label=$1
	shift
	local t b50=0 bd50=0
	for t in direct bare aiproxy; do
		timeout 120 "$SERVER" -mode ttfb -url "${URL[$t]}" -key "$KEY" "$@" >"$WORK/ttfb.json"
		[[ $t == aiproxy ]] && AIPROXY_SENT=$((AIPROXY_SENT + $(jget "$WORK/ttfb.json" sent)))
		local h50 f50 f99 d50 d99
		h50=$(jget "$WORK/ttfb.json" headers_p50_us)
		f50=$(jget "$WORK/ttfb.json" first_p50_us)
		f99=$(jget "$WORK/ttfb.json" first_p99_us)
		d50=$(jget "$WORK/ttfb.json" done_p50_us)
		d99=$(jget "$WORK/ttfb.json" done_p99_us)
		[[ $t == bare ]] && b50=$f50 && bd50=$d50
		local added=-
		if [[ $t == aiproxy ]]; then
			added=$(awk -v a="$f50" -v b="$b50" -v x="$d50" -v y="$bd50" 'BEGIN { printf "%+.0f / %+.0f", a - b, x - y }')
		fi
		out "$(printf '%-24s %-8s %9.0f %9.0f %9.0f %9.0f %9.0f %16s' "$label" "$t" "$h50" "$f50" "$f99" "$d50" "$d99" "$added")"
	done
}

out "## ttfb driver, concurrency 1 (bench/server -mode ttfb; µs; 'first' = first body line = first event of a stream)"
out "$(printf '%-24s %-8s %9s %9s %9s %9s %9s %16s' case target 'hdr p50' 'first p50' 'first p99' 'done p50' 'done p99' '+p50 vs bare')"
out "$(printf '%-24s %-8s %9s %9s %9s %9s %9s %16s' '' '' '' '' '' '' '' 'first / done')"
ttfb "non-stream" -n "$TTFB_N" -c 1 -stream=false
ttfb "stream-20" -n "$TTFB_N" -c 1 -chunks 20
ttfb "stream-20, 5ms/event" -n "$TTFB_SLOW_N" -c 1 -chunks 20 -chunk-delay 5ms
out ""

out "loadavg: $(cut -d' ' -f1-3 /proc/loadavg) (after)"
out ""

# --- the log -------------------------------------------------------------------------------
kill -TERM "$PID_aiproxy"
for _ in $(seq 600); do
	kill -0 "$PID_aiproxy" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$PID_aiproxy" 2>/dev/null; then
	echo "aiproxy did not exit within 60s of SIGTERM" >&2
	exit 1
fi
wait "$PID_aiproxy" || { echo "aiproxy exited with status $?:" >&2; cat "$WORK/aiproxy.err" >&2; exit 1; }
stats=$(grep '^{' "$WORK/aiproxy.out" | tail -1)
counts=$("$SERVER" -mode count -db "$WORK/aiproxy.db")
rows=$(jget <(echo "$counts") rows)
ok=$(jget <(echo "$counts") response_200)
expected=$((2 * AIPROXY_SENT))
out "## access log"
out "aiproxy writer on SIGTERM: $stats"
out "db: $counts"
out "rows: $rows / expected $expected (responses with status 200: $ok / $AIPROXY_SENT)"
# A proxy that cuts a stream logs it; hey itself does not notice a short stream.
warned=0
for name in fake bare aiproxy; do
	if [[ -s $WORK/$name.err ]]; then
		warned=1
		out "$name stderr ($(wc -l <"$WORK/$name.err") lines):"
		out "$(head -5 "$WORK/$name.err")"
	fi
done
if [[ $rows != "$expected" || $ok != "$AIPROXY_SENT" ]]; then
	out "FAIL: the access log lost rows"
	exit 1
fi
if ((warned)); then
	out "FAIL: a server logged errors: some responses were cut"
	exit 1
fi

if [[ $PROFILE == 1 ]]; then
	kill -TERM "$PID_bare"
	wait "$PID_bare" || true
	for name in bare aiproxy; do
		out ""
		out "## CPU profile of $name over the whole run (bench/results/$name.cpu.pprof)"
		out "$(go tool pprof -top -cum -nodecount=40 "$SERVER" "bench/results/$name.cpu.pprof" 2>/dev/null | sed -n '4,50p')"
	done
fi
out "results written to $RESULTS"
