#!/usr/bin/env bash
# The directory under load (issue 10's load target), each part its own
# process: `dingbook sim` serves a generated organisation of 100,000
# people (2,000 departments), `dingbook pull --count-restricted` pulls it
# into a fresh state directory, `dingbook serve` serves it on 127.0.0.1,
# and the load generator (scripts/serveload, a benchmark that speaks only
# HTTP) logs in SESSIONS people (default 50) through the simulator's
# DingTalk login page (?sim_user=), each from its own loopback address,
# and mixes searches and person lookups through the JSON API for DURATION
# (default 30s). It prints each kind's p50/p95/p99, the errors, the
# requests per second and the server's peak RSS (VmHWM), then the
# in-process directory alone (BenchmarkDirectory: index build, search and
# person p50/p99, the index's heap), and the load average before and
# after (the machine may be shared: the load generator and the simulator
# use the same cores as the server).
#
#   scripts/bench-serve.sh
#   DURATION=10s USERS=20000 scripts/bench-serve.sh
#
# The policy's quota is raised for the run (the load is the point, not
# the quota). Targets (issue 10): p99 ≤ 50 ms for search, ≤ 20 ms for a
# person page, 0 errors, peak RSS ≤ 300 MB.
#
# To profile the handler, run the in-process benchmark with a profile:
#   go test ./serve/ -run '^$' -bench ServeLoad -benchtime 20s -cpuprofile cpu.out
#   go tool pprof -top serve.test cpu.out
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-30s}
SESSIONS=${SESSIONS:-50}
USERS=${USERS:-100000}
DEPTS=${DEPTS:-2000}
work=$(mktemp -d)
chmod 700 "$work"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# waitfor FILE PATTERN: waits (up to 5 minutes) for a line in FILE.
waitfor() {
	for _ in $(seq 3000); do
		if grep -q "$2" "$1" 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "bench-serve: timed out waiting for '$2' in $1" >&2
	cat "$1" >&2
	exit 1
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)   ($(go env GOVERSION), $(nproc) CPUs)"
CGO_ENABLED=0 go build -o "$work/dingbook" ./cmd/dingbook
go test -c -o "$work/serveload.test" ./scripts/serveload

"$work/dingbook" sim --addr 127.0.0.1:0 --users "$USERS" --depts "$DEPTS" --seed 7 --qps 0 \
	--truth-out "$work/truth.json" >"$work/sim.env" 2>"$work/sim.log" &
pids+=($!)
waitfor "$work/sim.env" DINGTALK_AGENT_ID
# shellcheck disable=SC1091
source "$work/sim.env"
export DINGBOOK_HOME="$work/home"
mkdir -m 700 "$DINGBOOK_HOME"
printf 'serve:\n  quota_per_hour: 1000000000\n' >"$DINGBOOK_HOME/policy.yaml"

start=$(date +%s)
"$work/dingbook" pull --count-restricted --qps 1000 >"$work/pull.log" 2>&1 || { cat "$work/pull.log"; exit 1; }
echo "pulled $USERS people in $(($(date +%s) - start)) s"

"$work/dingbook" serve --addr 127.0.0.1:0 2>"$work/serve.log" &
serve_pid=$!
pids+=("$serve_pid")
waitfor "$work/serve.log" 'listening on'
addr=$(sed -n 's/.*listening on \([0-9.:]*\).*/\1/p' "$work/serve.log" | head -1)

"$work/serveload.test" -test.run '^$' -test.bench '^BenchmarkServeHTTP$' -test.benchtime 1x \
	-serveload.url "http://$addr" -serveload.truth "$work/truth.json" -serveload.pid "$serve_pid" \
	-serveload.duration "$DURATION" -serveload.sessions "$SESSIONS" | grep -E '^Benchmark|first error|FAIL|load_test'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
kill "$serve_pid"
if grep -v -e 'listening on' -e 'stopped' "$work/serve.log" | grep -q .; then
	echo "serve's log:"
	cat "$work/serve.log"
fi

go test ./app/ -run '^$' -bench '^BenchmarkDirectory$' -benchtime 3000x | grep -E '^Benchmark'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
