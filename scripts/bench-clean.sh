#!/usr/bin/env bash
# Measures what the cleaner adds to an XLSX export: the same export
# (profile "contact") without and with clean.Analyze, the status column,
# its conditional formats and the Quality sheet. Each run is its own
# process so its peak RSS (VmHWM) is its own.
#
#   BenchmarkExportXLSXStream  people streamed (not held), peak RSS is the
#                              export's and the cleaner's own; variants
#                              plain, column (a constant status column
#                              only: the XLSX writer's cost of the extra
#                              column) and clean
#   BenchmarkExportXLSXSnapshot the export as 'dingbook export' runs it,
#                              from a stored snapshot (SQLite); plain and
#                              clean. The snapshot is generated once per
#                              run of this script (SNAPSHOT=0 skips it)
#   BenchmarkExportXLSX        gen.Generate's org held in memory (its RSS
#                              includes the generated org); FULL=1 only
#
#   the CLI                    'dingbook export' of that same snapshot to
#                              XLSX as a user runs it (the quality report,
#                              the collector settings cmd/dingbook makes),
#                              under /usr/bin/time: wall, CPU, peak RSS.
#                              Target (issue 14): ≤ 400 MB for the 22
#                              columns of profile full. CLI=0 skips it
#
# The machine may be shared: COUNT=N repeats the variants in alternation N
# times and prints each variant's median wall time (s/export).
#
#   scripts/bench-clean.sh                       # 1,000,000 people, once
#   COUNT=3 DINGBOOK_BENCH_USERS=200000 scripts/bench-clean.sh
#   DINGBOOK_BENCH_PROFILE=full scripts/bench-clean.sh   # 22 columns instead of 8
set -euo pipefail
cd "$(dirname "$0")/.."
export DINGBOOK_BENCH_USERS="${DINGBOOK_BENCH_USERS:-1000000}"
count="${COUNT:-1}"
bin="$(mktemp -d)/clean-bench.test"
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" ./clean
out="$(dirname "$bin")/out"
export DINGBOOK_BENCH_DB="$(dirname "$bin")/db"
benches=(BenchmarkExportXLSXStream)
if [ "${SNAPSHOT:-1}" = 1 ]; then benches+=(BenchmarkExportXLSXSnapshot); fi
if [ "${FULL:-}" = 1 ]; then benches+=(BenchmarkExportXLSX); fi
for b in "${benches[@]}"; do
	for i in $(seq "$count"); do
		for v in plain column clean; do
			[ "$b" != BenchmarkExportXLSXStream ] && [ "$v" = column ] && continue
			"$bin" -test.run '^$' -test.bench "^$b\$/^$v\$" -test.benchtime 1x -test.timeout 60m | grep -E '^Benchmark' | tee -a "$out"
		done
	done
done
echo "median s/export over $count run(s):"
for b in "${benches[@]}"; do
	for v in plain column clean; do
		{ grep -E "^$b/$v-" "$out" || true; } | awk '{for (i = 2; i <= NF; i++) if ($i == "s/export") print $(i-1)}' | sort -n |
			awk -v name="$b/$v" '{a[NR] = $1} END {if (NR) printf "  %-36s %s\n", name, a[int((NR + 1) / 2)]}'
	done
done
if [ "${SNAPSHOT:-1}" = 1 ] && [ "${CLI:-1}" = 1 ]; then
	# The snapshot the benchmark stored is a state directory of its own.
	CGO_ENABLED=0 go build -o "$(dirname "$bin")/dingbook" ./cmd/dingbook
	printf 'allow_unencrypted: true\n' >"$DINGBOOK_BENCH_DB/policy.yaml"
	profile="${DINGBOOK_BENCH_PROFILE:-contact}"
	log="$(dirname "$bin")/cli.time"
	DINGBOOK_HOME="$DINGBOOK_BENCH_DB" DINGBOOK_PASSPHRASE=bench-clean-passphrase /usr/bin/time -f '%e %U %S %M' -o "$log" \
		"$(dirname "$bin")/dingbook" export --purpose bench-clean --justify bench-clean --pia PIA-BENCH --profile "$profile" \
		--encrypt none --format xlsx --out "$(dirname "$bin")/cli-out" >/dev/null 2>&1
	read -r secs user sys kb <"$log"
	printf '  %-36s %s s wall, %.1f s CPU, peak RSS %d MB\n' "dingbook export ($profile, xlsx)" "$secs" "$(echo "$user + $sys" | bc -l)" "$((kb / 1024))"
fi
