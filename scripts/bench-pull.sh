#!/usr/bin/env bash
# Measures dingbook pull's efficiency against the simulator (80 ms latency,
# per-API limit = the client's QPS) at 20 and 200 QPS: API calls against the
# minimum (department calls + member pages) and wall time against the bound
# max over APIs of (calls to that API / QPS). Targets: calls <= minimum + 5,
# wall <= 1.15 x bound.
#
#   scripts/bench-pull.sh                 # 2,000 people / 200 departments
#   scripts/bench-pull.sh 20000 800       # the issue's large case (~1 min)
#   QPS=200 scripts/bench-pull.sh 20000 800   # only one rate
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-2000}
depts=${2:-200}
filter='PullEfficiency'
if [ -n "${QPS:-}" ]; then filter="PullEfficiency/qps${QPS}\$"; fi
go test -run '^$' -bench "$filter" -benchtime 1x -timeout 30m ./pull/ -users "$users" -depts "$depts" |
	grep -E 'bench_test|^Benchmark|^ok|FAIL'
