#!/usr/bin/env bash
# The live directory and CardDAV sync from the change log (issue 12 §2):
# BenchmarkSyncSince is the work of a sync-collection from a token 10
# changes old (app.BookSince: the change log, not the book) with 1,000
# and 100,000 cards; BenchmarkLiveApply is the index of 100,000 people
# following one event revision (copy-on-write, then swapped). Prints each
# benchmark's line and the load average (the machine may be shared).
#
#   scripts/bench-sync.sh
#
# Target (issue 12): a sync with 10 changes ≤ 20 ms of server time at
# 100,000 cards and within 2× of the same at 1,000.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
go test ./app/ -run '^$' -bench '^(BenchmarkSyncSince|BenchmarkLiveApply)$' -benchtime 20x | grep -E '^Benchmark'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
