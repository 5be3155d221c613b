#!/usr/bin/env bash
# Measures the export targets: time and peak RSS of
#   BenchmarkExportXLSX        (dingbook export, N people → xlsx)
#   BenchmarkStreamWriterXLSX  (baseline: excelize StreamWriter, same cells)
#   BenchmarkConvertXLSXToVCF  (dingbook convert in.xlsx out.vcf)
#   BenchmarkExcelizeReadXLSX  (baseline: excelize streaming read of in.xlsx)
# each once, in its own process under /usr/bin/time -v.
#
#   scripts/bench-export.sh [ROWS] [convert]   # default 1000000 rows
#
# With "convert", only the input (BenchmarkExportXLSX) and the conversion
# pair run. Targets: export ≤ 1.25 × baseline and ≤ 400 MB peak RSS;
# convert ≤ 1.25 × the excelize read. The conversion streams the file
# (console.Open) with GOGC=400, as cmd/dingbook sets it for convert; the machine's
# other load shows in the ratio, since reading and writing overlap on two
# cores: run it on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
only=${2:-}
work=$(mktemp -d)
chmod 700 "$work"
trap 'rm -rf "$work"' EXIT
go test -c -o "$work/export.test" ./export
input="$work/input.xlsx"

run() {
	local name=$1
	local log="$work/$name.log"
	TMPDIR="$work" /usr/bin/time -v "$work/export.test" -test.run '^$' -test.bench "^$name\$" -test.benchtime 1x \
		-bench.rows "$rows" -bench.xlsx "$input" >"$log" 2>&1 || { cat "$log"; exit 1; }
	local ns rss
	ns=$(awk -v b="$name" '$1 ~ "^"b {print $3; exit}' "$log")
	rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}' "$log")
	printf '%-28s %8.2f s   peak RSS %6d MB\n' "$name" "$(echo "$ns/1000000000" | bc -l)" "$((rss / 1024))"
	echo "$ns" >"$work/$name.ns"
}

echo "rows: $rows   ($(go env GOVERSION), $(nproc) CPUs)"
run BenchmarkExportXLSX # also leaves the input for the read benchmarks
[ "$only" = convert ] || run BenchmarkStreamWriterXLSX
run BenchmarkExcelizeReadXLSX
run BenchmarkConvertXLSXToVCF
ratio() { echo "scale=2; $(cat "$work/$1.ns") / $(cat "$work/$2.ns")" | bc -l; }
[ "$only" = convert ] || echo "export / StreamWriter baseline: $(ratio BenchmarkExportXLSX BenchmarkStreamWriterXLSX)x (target ≤ 1.25)"
echo "convert xlsx→vcf / excelize read: $(ratio BenchmarkConvertXLSXToVCF BenchmarkExcelizeReadXLSX)x (target ≤ 1.25)"
