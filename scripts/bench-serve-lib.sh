# Sourced by the benchmarks that run `dingbook serve` as its own process
# (bench-serve.sh, bench-carddav.sh), from the repository's root:
#
#   start_serve [POLICY]
#
# builds dingbook and scripts/serveload's test binary into a private work
# directory ($work, removed on exit with every process started), starts
# `dingbook sim` with a generated organisation of $USERS people in $DEPTS
# departments (its truth in $work/truth.json), pulls it with `dingbook pull
# --count-restricted` into a fresh state directory (POLICY, if given, its
# policy.yaml), and starts `dingbook serve` on 127.0.0.1: $addr, $serve_pid,
# its log $work/serve.log. stop_serve stops it and shows its log when it
# says more than that it started and stopped.
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
	echo "$(basename "$0"): timed out waiting for '$2' in $1" >&2
	cat "$1" >&2
	exit 1
}

start_serve() {
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
	if [ -n "${1:-}" ]; then printf '%s' "$1" >"$DINGBOOK_HOME/policy.yaml"; fi
	local start
	start=$(date +%s)
	"$work/dingbook" pull --count-restricted --qps 1000 >"$work/pull.log" 2>&1 || { cat "$work/pull.log"; exit 1; }
	echo "pulled $USERS people in $(($(date +%s) - start)) s"
	"$work/dingbook" serve --addr 127.0.0.1:0 2>"$work/serve.log" &
	serve_pid=$!
	pids+=("$serve_pid")
	waitfor "$work/serve.log" 'listening on'
	addr=$(sed -n 's/.*listening on \([0-9.:]*\).*/\1/p' "$work/serve.log" | head -1)
}

stop_serve() {
	kill "$serve_pid"
	wait "$serve_pid" 2>/dev/null || true
	if grep -v -e 'listening on' -e 'stopped' -e 'contact events' -e 'stream: connected' "$work/serve.log" | grep -q .; then
		echo "serve's log:"
		cat "$work/serve.log"
	fi
}
