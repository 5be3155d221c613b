#!/usr/bin/env bash
# The directory under load (issue 10's load target): 100,000 generated
# people, 50 logged-in sessions (each logged in through the simulator's
# DingTalk login page) mixing searches and person lookups through the JSON
# API against a real `serve` handler for DURATION (default 30s), then the
# in-process directory alone (index build, search and person p50/p99, the
# index's heap). Prints each benchmark's line and the load average (the
# machine may be shared; the HTTP figures include the client's and the
# simulator's work in the same process, and its peak RSS theirs too).
#
#   scripts/bench-serve.sh
#   DURATION=10s scripts/bench-serve.sh
#
# Targets (issue 10): p99 ≤ 50 ms for search, ≤ 20 ms for a person page,
# 0 errors, peak RSS ≤ 300 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-30s}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
go test ./serve/ -run '^$' -bench '^BenchmarkServeLoad$' -benchtime "$DURATION" | grep -E '^Benchmark'
go test ./app/ -run '^$' -bench '^BenchmarkDirectory$' -benchtime 3000x | grep -E '^Benchmark'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
