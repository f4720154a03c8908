#!/usr/bin/env bash
# Auth end to end: tokens from a file; missing/wrong tokens are UNAUTHENTICATED; a worker token
# cannot submit; users see and cancel only their own experiments; admins see all; a server
# beyond loopback refuses to start without a token file. Usage: auth_test.sh BIN_DIR
set -uo pipefail
bin="$1"
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null; done; pkill -9 -f "$work/" 2> /dev/null; rm -rf "$work"' EXIT
fail=0
check() { local name="$1"; shift; if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; fi; }
free_port() { python3 "$(dirname "$0")/free_port.py"; }
port=$(free_port)
addr="127.0.0.1:$port"
cat > "$work/tokens" <<'T'
# token                      role    name
alice-token-0123456789abcdef user    alice
bob-token-0123456789abcdefgh user    bob
worker-token-0123456789abcde worker
admin-token-0123456789abcdef admin
T
for t in alice bob worker admin; do grep "^$t-" "$work/tokens" | cut -d' ' -f1 > "$work/$t.token"; done
"$bin/ladle-server" --listen="$addr" --data_dir="$work/data" --metrics_listen="127.0.0.1:$(free_port)" \
  --token_file="$work/tokens" > "$work/server.log" 2>&1 &
pids+=($!); disown
"$bin/ladle-worker" --coordinator="$addr" --work_dir="$work/w" --cpu_slots=1 \
  --token_file="$work/worker.token" > "$work/worker.log" 2>&1 &
pids+=($!); disown
L() { local who=$1; shift; "$bin/ladle" --addr="$addr" --token_file="$work/$who.token" "$@"; }
for _ in $(seq 1 50); do L admin workers 2> /dev/null | grep -q alive && break; sleep 0.1; done

printf 'name: mine\ntrial: {data: {limit: 1000}}\n' > "$work/spec.yaml"
"$bin/ladle" --addr="$addr" list 2> "$work/none.err"
check "no token: refused" test $? -ne 0
check "no token: says how to fix" grep -q "LADLE_TOKEN" "$work/none.err"
LADLE_TOKEN=wrong-token-0123456789abcdef "$bin/ladle" --addr="$addr" list 2> "$work/wrong.err"
check "wrong token: UNAUTHENTICATED" grep -q "unknown or revoked token" "$work/wrong.err"
L worker submit "$work/spec.yaml" 2> "$work/worker.err"
check "worker token cannot submit" grep -q "worker tokens may only use the WorkerService" "$work/worker.err"
exp=$(L alice submit "$work/spec.yaml" 2> /dev/null | head -1)
check "alice submits" test -n "$exp"
L bob show "$exp" 2> "$work/bob.err"
check "bob cannot see alice's experiment" grep -q "belongs to another user" "$work/bob.err"
L bob cancel "$exp" 2> /dev/null
check "bob cannot cancel it" test $? -ne 0
check "bob's list is empty" test -z "$(L bob list)"
timeout 60 "$bin/ladle" --addr="$addr" --token_file="$work/alice.token" watch "$exp" 2> /dev/null
check "the worker (worker token) ran it to success" test $? -eq 0
check "alice lists it" bash -c "'$bin/ladle' --addr='$addr' --token_file='$work/alice.token' list | grep -q '$exp'"
check "admin sees it" bash -c "'$bin/ladle' --addr='$addr' --token_file='$work/admin.token' show '$exp' | grep -q succeeded"
"$bin/ladle-server" --listen="0.0.0.0:$(free_port)" --data_dir="$work/open" > "$work/open.log" 2>&1
check "beyond loopback without a token file: refuses (exit 2)" test $? -eq 2
check "and says why" grep -q "pass --token_file" "$work/open.log"

# TLS with a test CA: server cert for 127.0.0.1 signed by it; worker and CLI trust the CA.
(
  cd "$work"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ladle-test-ca" \
    -keyout ca.key -out ca.pem 2> /dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr 2> /dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' > san.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile san.ext -out server.pem 2> /dev/null
)
tls_addr="127.0.0.1:$(free_port)"
"$bin/ladle-server" --listen="$tls_addr" --data_dir="$work/tls" --metrics_listen="127.0.0.1:$(free_port)" \
  --token_file="$work/tokens" --tls_cert="$work/server.pem" --tls_key="$work/server.key" \
  > "$work/tls-server.log" 2>&1 &
pids+=($!); disown
"$bin/ladle-worker" --coordinator="$tls_addr" --work_dir="$work/tw" --cpu_slots=1 \
  --token_file="$work/worker.token" --tls_ca="$work/ca.pem" > "$work/tls-worker.log" 2>&1 &
pids+=($!); disown
T() { "$bin/ladle" --addr="$tls_addr" --token_file="$work/alice.token" --tls_ca="$work/ca.pem" "$@"; }
tls_worker_up() { T workers 2> /dev/null | grep -q alive; }
for _ in $(seq 1 50); do tls_worker_up && break; sleep 0.1; done
texp=$(T submit "$work/spec.yaml" 2> /dev/null | head -1)
timeout 60 "$bin/ladle" --addr="$tls_addr" --token_file="$work/alice.token" --tls_ca="$work/ca.pem" watch "$texp" 2> /dev/null
check "TLS: worker and CLI run an experiment through a test CA" test $? -eq 0
timeout 10 "$bin/ladle" --addr="$tls_addr" --token_file="$work/alice.token" list > /dev/null 2>&1
check "TLS: a plaintext client is refused" test $? -ne 0

if [ "$fail" -ne 0 ]; then echo "auth e2e: FAILED"; tail -5 "$work/server.log"; exit 1; fi
echo "auth e2e: all checks passed"
