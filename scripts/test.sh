#!/usr/bin/env bash
# The whole test suite: formatting, go vet, and every test of every package.
#
# Tests that need PostgreSQL get a throwaway server on 127.0.0.1 (installed
# from Debian when missing and this runs as root; started in a temporary
# directory, stopped and removed on exit). Without one they skip and say so.
# Extra arguments are passed to 'go test' (e.g. -run TestPlan, -v).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "these files need gofmt -w:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

# The NVML backend needs cgo: build and vet it where a C compiler is.
echo "== go vet -tags nvml"
if [ "$(go env CGO_ENABLED)" = 1 ] && command -v "$(go env CC)" >/dev/null 2>&1; then
	go vet -tags nvml ./agent/... ./cmd/stargate
else
	echo "nvml: no C compiler for cgo here; the NVML backend was not built"
fi

pg_dir=""
pg_bin=""
cleanup() {
	if [ -n "$pg_dir" ]; then
		run_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
		rm -rf "$pg_dir"
	fi
}
trap cleanup EXIT

# run_pg runs a PostgreSQL tool as the postgres user when we are root
# (initdb refuses root), as ourselves otherwise.
run_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

find_pg() {
	pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
	[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ]
}

start_postgres() {
	if [ -n "${STARGATE_TEST_POSTGRES:-}" ]; then
		echo "postgres: using STARGATE_TEST_POSTGRES"; return 0
	fi
	if ! find_pg; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
			echo "postgres: installing from Debian"
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || return 1
			find_pg || return 1
		else
			return 1
		fi
	fi
	pg_dir=$(mktemp -d /tmp/stargate-pg.XXXXXX)
	chmod 755 "$pg_dir"
	[ "$(id -u)" = 0 ] && chown postgres "$pg_dir"
	local port
	port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])' 2>/dev/null || echo 55432)
	run_pg "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust --no-sync >/dev/null || return 1
	run_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w -t 60 \
		-o "-h 127.0.0.1 -p $port -k $pg_dir -c fsync=off -c max_connections=200" start >/dev/null || return 1
	run_pg "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres stargate_test || return 1
	export STARGATE_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/stargate_test?sslmode=disable"
	echo "postgres: throwaway server on 127.0.0.1:$port"
}

echo "== postgres"
if ! start_postgres; then
	if [ "${CI:-}" = true ]; then
		# CI must prove both store backends: a missing PostgreSQL fails the run.
		echo "postgres: could not be started, and CI needs it"; exit 1
	fi
	echo "postgres: not available; tests that need it will skip (run this script as root with apt-get, or set STARGATE_TEST_POSTGRES)"
fi

# The console's browser tests drive a real Chromium (Debian's, installed
# when missing and this runs as root); without one they skip.
find_chromium() {
	command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || command -v google-chrome >/dev/null 2>&1
}
echo "== chromium"
if ! find_chromium && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "chromium: installing from Debian"
	(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || true
fi
if find_chromium; then
	echo "chromium: $( (chromium --version || chromium-browser --version || google-chrome --version) 2>/dev/null | head -1)"
elif [ "${CI:-}" = true ]; then
	echo "chromium: could not be installed, and CI needs it for the console's browser tests"; exit 1
else
	echo "chromium: not available; the console's browser tests will skip (run this script as root with apt-get, or set STARGATE_TEST_CHROMIUM)"
fi

echo "== go test"
go test -count=1 "$@" ./...

# The request decoder and the array expression meet hostile input: fuzz
# them for a bounded number of inputs on every run (seeds alone run
# above), about 15 s here. A count, not a duration: Go 1.26's fuzzing
# coordinator can report its own deadline at the end of a -fuzztime
# duration as a failure (golang/go#75804, fixed in Go 1.27).
if [ $# -eq 0 ]; then
	echo "== fuzz (about 15 s)"
	go test -run '^$' -fuzz '^FuzzDecodeStrict$' -fuzztime 50000x ./server
	go test -run '^$' -fuzz '^FuzzParseArray$' -fuzztime 10000x ./server
fi
