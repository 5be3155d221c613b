#!/usr/bin/env bash
# Measures what the cleaner adds to an XLSX export: the same export
# (profile "contact") without and with clean.Analyze, the status column,
# its conditional formats and the Quality sheet. Each variant runs in its
# own process so its peak RSS (VmHWM) is its own.
#
#   BenchmarkExportXLSXStream  people streamed (not held), peak RSS is the
#                              export's and the cleaner's own
#   BenchmarkExportXLSX        gen.Generate's org held in memory (its RSS
#                              includes the generated org)
#
#   scripts/bench-clean.sh            # 1,000,000 people
#   DINGBOOK_BENCH_USERS=100000 scripts/bench-clean.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export DINGBOOK_BENCH_USERS="${DINGBOOK_BENCH_USERS:-1000000}"
go test -c -o /tmp/clean-bench.test ./clean
for b in BenchmarkExportXLSXStream BenchmarkExportXLSX; do
	for v in plain clean; do
		/tmp/clean-bench.test -test.run '^$' -test.bench "^$b\$/^$v\$" -test.benchtime 1x -test.timeout 60m | grep -E '^Benchmark'
	done
done
rm -f /tmp/clean-bench.test
