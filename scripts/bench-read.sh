#!/usr/bin/env bash
# Reading a big member file, side by side, in one run on the same file: a
# console-style workbook of ROWS people (12 columns, shared strings,
# numeric phones, date cells, a merged instruction row; written by
# internal/xlsxread's benchmark helper), read by
#
#   unzip -p (inflate only)  the floor: inflating the sheet part, nothing else
#   dingbook fast read       internal/xlsxread, every row (BenchmarkReadFast)
#   excelize streaming read  Rows/Columns as source/console used it (BenchmarkReadExcelize)
#   openpyxl read-only       Debian's /usr/bin/python3, iter_rows(values_only=True)
#   LibreOffice headless     soffice --convert-to csv
#   dingbook convert → vcf   the CLI, --profile contact, sealed (AES zip) as by default
#   dingbook convert → vcf   the same, unsealed (--encrypt none)
#   dingbook export --from   the CLI, --format xlsx,csv,jsonl,vcf at once, --profile contact
#
# each in its own process under /usr/bin/time (wall time, CPU time, peak
# RSS; on a shared machine the CPU time is the steadier figure). A peer
# that is not installed is skipped and the table says so. The table is
# printed and, with WRITE=1, replaces the "Reading member files" section
# of docs/performance.md.
#
#   scripts/bench-read.sh                 # 1,000,000 rows
#   ROWS=200000 scripts/bench-read.sh
#   WRITE=1 scripts/bench-read.sh         # also update docs/performance.md
#
# Targets (issue 14): convert → vcf ≤ 4 × unzip -p; fast read ≥ 5 × faster
# than excelize's; export --from to four formats ≤ 300 MB peak RSS. The
# machine may be shared: the load average is printed with the table.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${ROWS:-1000000}
work=$(mktemp -d)
chmod 700 "$work"
trap 'rm -rf "$work"' EXIT
go test -c -o "$work/xlsxread.test" ./internal/xlsxread
CGO_ENABLED=0 go build -o "$work/dingbook" ./cmd/dingbook
input="$work/members.xlsx"
table="$work/table"

# The input, written once (its own process, not timed).
"$work/xlsxread.test" -test.run '^$' -test.bench '^BenchmarkReadFast$' -test.benchtime 1x \
	-bench.rows "$rows" -bench.xlsx "$input" >/dev/null
sheet_mb=$(unzip -p "$input" xl/worksheets/sheet1.xml | wc -c | awk '{printf "%.0f", $1 / 1e6}')
file_mb=$(du -m "$input" | cut -f1)

# measure NAME CMD...: wall seconds and peak RSS of one process.
measure() {
	local name=$1
	shift
	local log="$work/time.log"
	if ! /usr/bin/time -f '%e %M %U %S' -o "$log" "$@" >"$work/out.log" 2>&1; then
		echo "bench-read.sh: $name failed:" >&2
		tail -20 "$work/out.log" >&2
		exit 1
	fi
	read -r secs kb user sys <"$log"
	echo "$name|$secs|$((kb / 1024))|$(printf '%.2f' "$(echo "$user + $sys" | bc -l)")" >>"$table"
}

skip() { echo "$1|not installed ($2)||" >>"$table"; }

measure "unzip -p (inflate only)" sh -c "unzip -p '$input' xl/worksheets/sheet1.xml >/dev/null"
measure "dingbook fast read" "$work/xlsxread.test" -test.run '^$' -test.bench '^BenchmarkReadFast$' -test.benchtime 1x \
	-bench.rows "$rows" -bench.xlsx "$input"
measure "excelize streaming read" "$work/xlsxread.test" -test.run '^$' -test.bench '^BenchmarkReadExcelize$' -test.benchtime 1x \
	-bench.rows "$rows" -bench.xlsx "$input"
if /usr/bin/python3 -c 'import openpyxl' 2>/dev/null; then
	measure "openpyxl read-only" /usr/bin/python3 -c '
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1], read_only=True)
n = sum(1 for _ in wb.worksheets[0].iter_rows(values_only=True))
assert n == int(sys.argv[2]) + 2, n
' "$input" "$rows"
else
	skip "openpyxl read-only" "apt-get install python3-openpyxl"
fi
if command -v soffice >/dev/null; then
	mkdir -p "$work/lo"
	measure "LibreOffice headless → csv" soffice --headless --norestore "-env:UserInstallation=file://$work/lo-profile" \
		--convert-to csv --outdir "$work/lo" "$input"
	[ -s "$work/lo/members.csv" ] || { echo "bench-read.sh: LibreOffice wrote no CSV" >&2; exit 1; }
else
	skip "LibreOffice headless → csv" "apt-get install libreoffice-calc-nogui"
fi

export DINGBOOK_HOME="$work/home" DINGBOOK_PASSPHRASE="bench-read-passphrase"
mkdir -p "$DINGBOOK_HOME" && chmod 700 "$DINGBOOK_HOME"
printf 'allow_unencrypted: true\n' >"$DINGBOOK_HOME/policy.yaml"
common=(--purpose "bench-read" --justify "bench-read" --pia "PIA-BENCH" --profile contact)
measure "dingbook convert → vcf (sealed)" "$work/dingbook" convert "${common[@]}" "$input" "$work/sealed.vcf"
measure "dingbook convert → vcf (--encrypt none)" "$work/dingbook" convert "${common[@]}" --encrypt none "$input" "$work/plain.vcf"
measure "dingbook export --from, 4 formats" "$work/dingbook" export "${common[@]}" --from "$input" \
	--format xlsx,csv,jsonl,vcf --out "$work/export"

secs() { awk -F'|' -v n="$1" '$1 == n {print $2}' "$table"; }
cpu() { awk -F'|' -v n="$1" '$1 == n {print $4}' "$table"; }
# ratio A B [cpu]: A's time over B's, "n/a" when either is missing or 0.
ratio() {
	local a b
	if [ "${3:-}" = cpu ]; then a=$(cpu "$1") b=$(cpu "$2"); else a=$(secs "$1") b=$(secs "$2"); fi
	case "$a$b" in *not*) echo "n/a"; return ;; esac
	if [ -z "$a" ] || [ -z "$b" ] || [ "$(echo "$b == 0" | bc -l)" = 1 ]; then echo "n/a"; return; fi
	printf '%.1f' "$(echo "$a / $b" | bc -l)"
}
load=$(cut -d' ' -f1-3 /proc/loadavg)
{
	echo "$rows rows, sheet part $sheet_mb MB inflated, file $file_mb MB; $(go env GOVERSION), $(nproc) CPUs, load average $load at the end"
	echo
	echo "| reader | wall time (s) | CPU time (s) | peak RSS (MB) |"
	echo "|---|---|---|---|"
	awk -F'|' '{printf "| %s | %s | %s | %s |\n", $1, $2, $4, $3}' "$table"
	echo
	echo "- convert → vcf (unsealed) / unzip -p: $(ratio "dingbook convert → vcf (--encrypt none)" "unzip -p (inflate only)")× wall time (target ≤ 4), $(ratio "dingbook convert → vcf (--encrypt none)" "unzip -p (inflate only)" cpu)× CPU time; sealed: $(ratio "dingbook convert → vcf (sealed)" "unzip -p (inflate only)")× wall time"
	echo "- excelize streaming read / dingbook fast read: $(ratio "excelize streaming read" "dingbook fast read")× (target ≥ 5)"
	echo "- openpyxl read-only / dingbook fast read: $(ratio "openpyxl read-only" "dingbook fast read")×; LibreOffice / dingbook fast read: $(ratio "LibreOffice headless → csv" "dingbook fast read")×"
} | tee "$work/section"

if [ "${WRITE:-}" = 1 ]; then
	doc=docs/performance.md
	[ -f "$doc" ] || printf '# Performance\n' >"$doc"
	awk -v f="$work/section" '
		/^## Reading member files/ {skip = 1; next}
		skip && /^## / {skip = 0}
		!skip {print}
	' "$doc" >"$work/doc"
	{
		cat "$work/doc"
		echo
		echo "## Reading member files"
		echo
		echo "Measured by \`scripts/bench-read.sh\` ($(date -u +%Y-%m-%d)):"
		echo
		cat "$work/section"
	} | cat -s >"$doc"
	echo "bench-read.sh: updated $doc" >&2
fi
