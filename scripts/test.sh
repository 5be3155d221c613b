#!/usr/bin/env bash
# Installs what dingbook's tests need and runs the whole suite.
#
#   scripts/test.sh            # install (if missing), vet, format check, test
#
# The real-program checks need 7-Zip (7zz), age, sqlite3, Debian's
# python3 with openpyxl and vobject, and LibreOffice headless (soffice, from
# libreoffice-calc-nogui: the XLSX reader's differential test reads files
# LibreOffice writes), and Radicale (push --carddav's tests start it on a
# free loopback port), and Node (nodejs: serve's in-app login script runs
# under it with a stand-in for DingTalk's JSAPI), and Debian's chromium
# (serve's real-browser tests drive it with chromedp; fonts-wqy-zenhei
# gives its screenshots Chinese glyphs). They are installed with apt-get when missing; the
# tests fail (never skip) if they still are. gcc runs the race detector
# over the Stream simulator and client.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v 7zz >/dev/null 2>&1 || need_pkgs+=(7zip)
command -v age >/dev/null 2>&1 || need_pkgs+=(age)
command -v age-keygen >/dev/null 2>&1 || need_pkgs+=(age)
command -v sqlite3 >/dev/null 2>&1 || need_pkgs+=(sqlite3)
command -v soffice >/dev/null 2>&1 || need_pkgs+=(libreoffice-calc-nogui)
command -v gcc >/dev/null 2>&1 || need_pkgs+=(gcc libc6-dev) # go test -race
command -v radicale >/dev/null 2>&1 || need_pkgs+=(radicale)
command -v node >/dev/null 2>&1 || need_pkgs+=(nodejs) # serve's in-app login script
command -v vdirsyncer >/dev/null 2>&1 || need_pkgs+=(vdirsyncer) # serve's CardDAV client test
command -v khard >/dev/null 2>&1 || need_pkgs+=(khard) # lists what vdirsyncer synced
[ -x /usr/bin/chromium ] || need_pkgs+=(chromium fonts-wqy-zenhei) # serve's real-browser tests
command -v zbarimg >/dev/null 2>&1 || need_pkgs+=(zbar-tools) # serve's card QR codes, decoded
/usr/bin/python3 -c 'import openpyxl' >/dev/null 2>&1 || need_pkgs+=(python3-openpyxl)
/usr/bin/python3 -c 'import vobject' >/dev/null 2>&1 || need_pkgs+=(python3-vobject)

if [ ${#need_pkgs[@]} -gt 0 ]; then
	echo "test.sh: installing ${need_pkgs[*]}" >&2
	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

for tool in 7zz age age-keygen sqlite3 gcc soffice radicale node vdirsyncer khard; do
	command -v "$tool" >/dev/null || { echo "test.sh: $tool is still missing" >&2; exit 1; }
done
[ -x /usr/bin/chromium ] || { echo "test.sh: /usr/bin/chromium is still missing" >&2; exit 1; }
command -v zbarimg >/dev/null || { echo "test.sh: zbarimg (zbar-tools) is still missing" >&2; exit 1; }
/usr/bin/python3 -c 'import openpyxl, vobject' || { echo "test.sh: python3-openpyxl/python3-vobject missing" >&2; exit 1; }

echo "test.sh: go $(go env GOVERSION), downloading modules" >&2
go mod download

echo "test.sh: gofmt and go vet" >&2
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "test.sh: not gofmt-clean:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...

echo "test.sh: go test" >&2
go test -count=1 -timeout 40m ./... "$@"

# The Stream simulator and client are concurrent (WebSocket readers and
# writers, changes while API calls read), and so is the web server
# (requests sharing the store, the rate limiter and the DingTalk client):
# their tests run again under the race detector.
echo "test.sh: go test -race (Stream simulator and client, serve)" >&2
CGO_ENABLED=1 go test -race -count=1 -timeout 10m ./source/dingtalk/sim/ ./source/dingtalk/stream/ ./serve/
