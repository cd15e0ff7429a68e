#!/usr/bin/env bash
# Interoperability: the example servers against real, independent clients
# (Debian's redis-tools, wrk and openssl), installed here when missing.
# Fails on any error the clients report. CI runs it after scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

need() {
    local missing=()
    for tool in "$@"; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    if ((${#missing[@]})); then
        echo "== installing redis-tools, wrk and openssl (missing: ${missing[*]})"
        local sudo=""
        [[ $(id -u) -eq 0 ]] || sudo="sudo"
        $sudo apt-get update -qq
        $sudo apt-get install -y -qq redis-tools wrk openssl >/dev/null
    fi
}
need redis-cli redis-benchmark wrk openssl

cargo build --release --example redis_server --example http_server --example tls_echo -q

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# Starts an example on a free port (more flags after the port); waits
# until it accepts connections.
start() {
    local name=$1 port=$2
    "target/release/examples/$name" --addr "127.0.0.1:$port" "${@:3}" >"target/interop-$name.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "$name did not start; its log:" >&2
    cat "target/interop-$name.log" >&2
    return 1
}

echo "== redis_server with redis-cli"
start redis_server 16379
cli() { redis-cli -p 16379 "$@"; }
check() {
    local want=$1; shift
    local got
    got=$(cli "$@")
    if [[ "$got" != "$want" ]]; then
        echo "redis-cli $*: expected '$want', got '$got'" >&2
        exit 1
    fi
}
check PONG ping
check OK set greeting hello
check hello get greeting
check OK set counter 10 ex 100
check 11 incr counter
check 100 ttl counter
check 2 exists greeting counter
check 1 del greeting
check 1 dbsize

echo "== redis_server with redis-benchmark"
out=$(redis-benchmark -p 16379 -t ping,set,get,incr,mset -n 20000 -c 50 -q 2>&1 | tr '\r' '\n')
echo "$out" | grep -E 'requests per second' || true
if echo "$out" | grep -iE 'error|Connection refused'; then
    echo "redis-benchmark reported errors" >&2
    exit 1
fi
tests=$(echo "$out" | grep -c 'requests per second')
if [[ $tests -ne 6 ]]; then
    echo "redis-benchmark completed $tests of 6 tests" >&2
    exit 1
fi

echo "== http_server with wrk"
start http_server 18080
out=$(wrk -t1 -c100 -d3s http://127.0.0.1:18080/ 2>&1)
echo "$out" | grep -E 'Requests/sec|requests in'
if echo "$out" | grep -E 'Socket errors|Non-2xx'; then
    echo "wrk reported errors" >&2
    exit 1
fi
out=$(wrk -t1 -c20 -d2s http://127.0.0.1:18080/static/index.html 2>&1)
echo "$out" | grep -E 'Requests/sec'
if echo "$out" | grep -E 'Socket errors|Non-2xx'; then
    echo "wrk reported errors on static files" >&2
    exit 1
fi

echo "== tls_echo with openssl s_client"
pem=target/interop-tls_echo.pem
start tls_echo 18443 --cert-out "$pem"
for version in -tls1_2 -tls1_3; do
    # The certificate must verify for localhost; the line must come back.
    # s_client quits at the end of its input: keep it open for the echo.
    got=$({ echo "hello over TLS"; sleep 1; } |
        openssl s_client -connect 127.0.0.1:18443 -CAfile "$pem" -servername localhost \
            -verify_hostname localhost -verify_return_error -quiet -no_ign_eof "$version" \
            2>target/interop-s_client.log) || true
    if [[ "$got" != "hello over TLS" ]]; then
        echo "openssl s_client $version: expected the echo, got '$got'; its log:" >&2
        cat target/interop-s_client.log >&2
        exit 1
    fi
    echo "openssl s_client $version: verified, echoed"
done

echo "== interop: ok"
