# Shared by bench/logging.sh and bench/filters.sh; sourced, not run. The caller sets RESULTS
# (the results file) before sourcing, and may set HEY_TIMEOUT (default 180 s).
#
# After sourcing: $WORK is a temporary directory removed at exit, $SERVER the bench/server
# binary built into it, $TICK the kernel's CLK_TCK; servers started with `start` are stopped
# at exit (SIGTERM, then SIGKILL after 5 s), and EXIT_HOOKS (commands) run after them.

HEY_TIMEOUT=${HEY_TIMEOUT:-180}
KEY="sk-bench-upstream-0123456789abcdefXYZ" # the fake's upstream key

cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p bench/results
: >"$RESULTS"
WORK=$(mktemp -d)
PIDS=()
EXIT_HOOKS=()

cleanup() {
	local pid hook
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	for hook in "${EXIT_HOOKS[@]}"; do
		eval "$hook" || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# out prints a line and appends it to the results file.
out() { printf '%s\n' "$*" | tee -a "$RESULTS"; }

if ! command -v hey >/dev/null; then
	echo "installing hey from Debian..." >&2
	apt-get install -y hey >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y hey >/dev/null; }
fi
command -v hey >/dev/null || { echo "hey is missing and could not be installed" >&2; exit 1; }

go build -o "$WORK/server" ./bench/server
SERVER="$WORK/server"
TICK=$(getconf CLK_TCK)

# header prints the machine and the load average.
header() {
	out "# $1, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	out "go:      $(go version)"
	out "hey:     $(dpkg-query -W -f='${Version}' hey 2>/dev/null || echo unknown)"
	out "nproc:   $(nproc)   cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
	out "kernel:  $(uname -r)   CLK_TCK: $TICK"
	out "uptime:  $(uptime) (before; other work on the machine skews every figure)"
}

# start NAME ARGS... starts a bench/server, waits for its "ready ADDR" line and sets
# ADDR_NAME and PID_NAME.
start() {
	local name=$1
	shift
	"$SERVER" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	local pid=$!
	PIDS+=("$pid")
	for _ in $(seq 150); do
		if grep -q '^ready ' "$WORK/$name.out" 2>/dev/null; then
			printf -v "ADDR_$name" '%s' "$(awk '/^ready /{print $2; exit}' "$WORK/$name.out")"
			printf -v "PID_$name" '%s' "$pid"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "server $name did not start:" >&2
	cat "$WORK/$name.err" >&2
	exit 1
}

# stop NAME sends SIGTERM to a server and waits (60 s at most) for it to drain and exit.
stop() {
	local pid_var="PID_$1"
	local pid=${!pid_var}
	kill -TERM "$pid"
	for _ in $(seq 600); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "$1 did not exit within 60s of SIGTERM" >&2
		exit 1
	fi
	wait "$pid" || { echo "$1 exited with status $?:" >&2; cat "$WORK/$1.err" >&2; exit 1; }
}

# cpu PID... prints the processes' user+system CPU time in clock ticks, summed; a process
# that is gone counts 0.
cpu() {
	local pid total=0 t
	for pid in "$@"; do
		t=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}') || t=0
		total=$((total + ${t:-0}))
	done
	echo "$total"
}

# jget FILE KEY prints a number field of a one-line JSON object.
jget() { grep -o "\"$2\":[-0-9.e+]*" "$1" | head -1 | cut -d: -f2; }

# hey_run URL C N BODY HEY_ARGS... runs hey (POST /v1/chat/completions, the body from the file
# BODY) into $WORK/hey.txt, fails unless all N requests were answered 200, and prints
# "rps p50_us p99_us".
hey_run() {
	local url=$1 c=$2 n=$3 body=$4
	shift 4
	timeout "$HEY_TIMEOUT" hey -n "$n" -c "$c" -m POST -T application/json -disable-compression \
		"$@" -D "$body" "$url/v1/chat/completions" >"$WORK/hey.txt"
	if ! grep -q "^  \[200\]	$n responses" "$WORK/hey.txt" || grep -q 'Error distribution' "$WORK/hey.txt"; then
		echo "hey: not all $n requests to $url answered 200:" >&2
		cat "$WORK/hey.txt" >&2
		exit 1
	fi
	awk '
		/Requests\/sec:/ { rps = $2 }
		/ 50% in / { p50 = $3 * 1e6 }
		/ 99% in / { p99 = $3 * 1e6 }
		END { printf "%.0f %.0f %.0f\n", rps, p50, p99 }' "$WORK/hey.txt"
}

# writer_stats ADDR saves an aiproxy's /bench/stats into $WORK/stats.json.
writer_stats() { curl -sf "http://$1/bench/stats" >"$WORK/stats.json"; }

# drain ADDR waits (60 s at most) until the aiproxy at ADDR has stored every record it
# accepted, those in its spill included, and prints how long that took in ms. Its stats are
# then in $WORK/stats.json.
drain() {
	local start_ns=$EPOCHREALTIME q=0 sp=0
	for _ in $(seq 6000); do
		writer_stats "$1"
		q=$(jget "$WORK/stats.json" queued)
		sp=$(jget "$WORK/stats.json" spill_pending)
		[[ ${q:-0} == 0 && ${sp:-0} == 0 ]] && break
		sleep 0.01
	done
	if [[ ${q:-0} != 0 || ${sp:-0} != 0 ]]; then
		echo "the log writer of $1 still holds $q records ($sp in its spill) after 60s" >&2
		exit 1
	fi
	awk -v a="$start_ns" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f\n", (b - a) * 1000 }'
}

# check_rows NAME DSN SENT counts the rows of the log at DSN (its proxy stopped), prints them
# and fails unless there are two per request sent, each response a 200.
check_rows() {
	local name=$1 dsn=$2 sent=$3 counts rows ok
	counts=$("$SERVER" -mode count -db "$dsn")
	rows=$(jget <(echo "$counts") rows)
	ok=$(jget <(echo "$counts") response_200)
	out "$(printf '%-10s rows %7s / expected %7s, responses 200: %6s / %6s   %s' "$name" "$rows" $((2 * sent)) "$ok" "$sent" "$counts")"
	if [[ $rows != $((2 * sent)) || $ok != "$sent" ]]; then
		out "FAIL: the access log of $name lost rows"
		exit 1
	fi
}

# check_stderr NAME... fails when a server wrote to stderr (an error, a cut stream).
check_stderr() {
	local name warned=0
	for name in "$@"; do
		if [[ -s $WORK/$name.err ]]; then
			warned=1
			out "$name stderr ($(wc -l <"$WORK/$name.err") lines):"
			out "$(head -5 "$WORK/$name.err")"
		fi
	done
	if ((warned)); then
		out "FAIL: a server logged errors"
		exit 1
	fi
}
