#!/usr/bin/env bash
# The CardDAV address book at 100,000 cards (issue 12's speed target):
#
# 1. Server time of a sync-collection from a token 10 changes old, with a
#    book of 1,000 and of 100,000 cards: serve's BenchmarkCardDAVSync runs
#    the REPORT through the server's handler in-process (no network, no
#    client: the handler's time only), reporting ms per REPORT.
# 2. The initial sync of a 100,000-card book, each part its own process
#    (as scripts/bench-serve.sh): `dingbook sim` serves a generated
#    organisation of USERS people, `dingbook pull` pulls it, `dingbook
#    serve` serves it on 127.0.0.1, and scripts/serveload's
#    BenchmarkCardDAVInitialSync logs a person in, creates an app password
#    and reads the whole book as a CardDAV client (REPORT sync-collection
#    with an empty token, getetag and address-data, read as it streams).
#    It prints the cards, the seconds to the last byte and serve's peak
#    RSS (VmHWM).
#
#   scripts/bench-carddav.sh
#   USERS=20000 scripts/bench-carddav.sh
#
# Targets (issue 12): a sync with 10 changes ≤ 20 ms of server time at
# 100,000 cards and within 2× of the same at 1,000; the initial sync of
# 100,000 cards with serve's peak RSS ≤ 300 MB. The load average is
# printed before and after (the machine may be shared).
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${USERS:-100000}
DEPTS=${DEPTS:-2000}
# shellcheck source=scripts/bench-serve-lib.sh
source scripts/bench-serve-lib.sh

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)   ($(go env GOVERSION), $(nproc) CPUs)"
go test ./serve/ -run '^$' -bench '^BenchmarkCardDAVSync$' -benchtime 500x -count 3 | grep -E '^Benchmark|FAIL'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

start_serve
"$work/serveload.test" -test.run '^$' -test.bench '^BenchmarkCardDAVInitialSync$' -test.benchtime 1x \
	-serveload.url "http://$addr" -serveload.truth "$work/truth.json" -serveload.pid "$serve_pid" | grep -E '^Benchmark|FAIL|carddav_test'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
stop_serve
