#!/usr/bin/env bash
# Gateway throughput and added latency, side by side in one run on this
# machine: the upstream directly, rekey's gateway, and nginx doing a
# map-based key check in front of the same upstream. Loopback only; every
# load run is bounded in time.
#
#   bash bench/gateway.sh            # DURATION=10s CONNS_HIGH=32 CONNS_LOW=4 by default
#
# Needs wrk and nginx (installed from apt when missing; needs root) and Go.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNS_HIGH=${CONNS_HIGH:-32}
CONNS_LOW=${CONNS_LOW:-4}
UP=127.0.0.1:18000 GW=127.0.0.1:18080 MGMT=127.0.0.1:18443 NGX=127.0.0.1:18090

for tool in wrk nginx; do
  if ! command -v "$tool" >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >/dev/null
  fi
done

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/rekey" ./cmd/rekey
go build -o "$work/upstream" ./bench/upstream
"$work/upstream" -listen "$UP" & pids+=($!)

export REKEY_ADMIN_TOKEN=bench-admin-token-0123456789
"$work/rekey" serve --data "$work/data" --listen "$MGMT" --insecure-http --gateway-listen "$GW" \
  --gateway-access-log=false --log-format json >"$work/rekey.out" 2>"$work/rekey.err" & pids+=($!)
for _ in $(seq 50); do curl -fs "http://$MGMT/readyz" >/dev/null && break; sleep 0.1; done

arm() { curl -fsS -X "$1" -H "Authorization: Bearer $REKEY_ADMIN_TOKEN" -H 'Content-Type: application/json' \
  "http://$MGMT/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/bench/providers/Microsoft.MachineLearningServices/workspaces/wsbench$2?api-version=2024-04-01" ${3:+-d "$3"}; }
arm PUT "" '{"location":"eastus"}' >/dev/null
arm PUT /onlineEndpoints/bench '{"location":"eastus","properties":{"authMode":"Key"}}' >/dev/null
arm PUT /onlineEndpoints/bench/deployments/blue "{\"location\":\"eastus\",\"properties\":{\"endpointComputeType\":\"Managed\",\"properties\":{\"rekey.upstream\":\"http://$UP\"}}}" >/dev/null
sleep 0.5
arm PUT /onlineEndpoints/bench '{"location":"eastus","properties":{"authMode":"Key","traffic":{"blue":100}}}' >/dev/null
KEY=$(arm POST /onlineEndpoints/bench/listKeys | sed 's/.*"primaryKey":"\([^"]*\)".*/\1/')

cat >"$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx.err warn;
events { worker_connections 1024; }
http {
  access_log off;
  map_hash_bucket_size 128;
  map \$http_authorization \$key_ok { "Bearer $KEY" 1; default 0; }
  upstream model { server $UP; keepalive 64; }
  server {
    listen $NGX;
    location / {
      if (\$key_ok = 0) { return 401; }
      proxy_pass http://model;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "";
    }
  }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work"
sleep 0.3

check() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$@")" = 200 ] || { echo "bench: $* does not answer 200" >&2; exit 1; }; }
check "http://$UP/score"
check -H "Authorization: Bearer $KEY" "http://$GW/endpoints/bench/score"
check -H "Authorization: Bearer $KEY" "http://$NGX/score"

# wrk prints requests/s and, with --latency, the 50% percentile.
rps() { wrk -t2 -c"$CONNS_HIGH" -d"$DURATION" "$@" | awk '/Requests\/sec/ {print $2}'; }
p50() { wrk -t2 -c"$CONNS_LOW" -d"$DURATION" --latency "$@" | awk '$1=="50%" {print $2}'; }
us() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) print v+0; else if (v ~ /ms$/) print (v+0)*1000; else print (v+0)*1000000 }'; }

declare -A R P
for target in upstream rekey nginx; do
  case $target in
    upstream) args=("http://$UP/score") ;;
    rekey) args=(-H "Authorization: Bearer $KEY" "http://$GW/endpoints/bench/score") ;;
    nginx) args=(-H "Authorization: Bearer $KEY" "http://$NGX/score") ;;
  esac
  R[$target]=$(rps "${args[@]}")
  P[$target]=$(us "$(p50 "${args[@]}")")
done

printf '\n%-10s %14s %14s %16s\n' target "req/s @$CONNS_HIGH" "p50 @$CONNS_LOW (µs)" "added p50 (µs)"
for target in upstream rekey nginx; do
  printf '%-10s %14.0f %14.0f %16.0f\n' "$target" "${R[$target]}" "${P[$target]}" "$(awk -v a="${P[$target]}" -v b="${P[upstream]}" 'BEGIN{print a-b}')"
done
awk -v r="${R[rekey]}" -v n="${R[nginx]}" 'BEGIN { printf "\nrekey / nginx throughput: %.2f (target >= 0.6)\n", r/n }'
awk -v a="${P[rekey]}" -v b="${P[upstream]}" 'BEGIN { printf "rekey added p50: %.0f µs (target <= 300)\n", a-b }'
