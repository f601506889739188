#!/usr/bin/env bash
# Gateway throughput, added latency and CPU cost, side by side: the
# upstream directly, rekey's gateway, and nginx doing a map-based key check
# in front of the same upstream. Loopback only; every load run is bounded
# in time. Run `bash bench/gateway.sh --help` for the options.
#
# How to read it (see also bench/README.md)
#
# The three targets run in ROUNDS, interleaved (each round runs every
# target once, in a rotated order), so a burst of other work on a shared
# machine lands on all of them rather than on one. Per target it reports
# min / median / max requests/s at high concurrency; quote the median, and
# distrust a run whose min and max are far apart.
#
#   - rekey / nginx is the median of the per-round ratios: both measured
#     within seconds of each other, so it moves much less than req/s.
#   - CPU µs/req is the proxy's own CPU time (utime+stime from
#     /proc/PID/stat; nginx: master and workers) divided by the requests it
#     served. It does not depend on how much CPU the machine had to spare,
#     so on a shared machine it is the steadiest figure of all.
#   - added p50/p99 is the proxy's latency at low concurrency minus the
#     upstream's own, per round, median of rounds. Latency suffers most
#     from a busy machine; --pinned (proxy on one core, load generator and
#     upstream on the other) makes it steadier and closer to a deployment
#     where the proxy has its own core.
#   - "others" is the share of the machine's CPU that neither the targets
#     nor wrk used during the runs: above ~10 %, rerun later.
#   - allocs/req comes from `go test ./gateway -bench Proxy -benchmem` on
#     the source tree (not --rekey-bin): client, gateway and upstream share
#     that process, so compare it between builds, not with nginx.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'EOF'
usage: bash bench/gateway.sh [options]

Runs upstream-direct, rekey's gateway and nginx (map key check, upstream
keepalive) side by side in rounds, and prints req/s (min/median/max), the
rekey/nginx ratio, added p50/p99 latency, CPU µs per request and the
gateway's allocations per proxied request. Installs wrk and nginx with apt
when missing (needs root). Options (environment variable in brackets):

  --rounds N            rounds; each runs every target once [ROUNDS, 3]
  --duration D          length of each wrk run, e.g. 5s [DURATION, 5s]
  --warmup D            unmeasured run per target before the rounds [WARMUP, 1s]
  --conns-high N        connections of the throughput runs [CONNS_HIGH, 32]
  --conns-low N         connections of the latency runs [CONNS_LOW, 4]
  --upstream-port P     upstream's loopback port [UPSTREAM_PORT, 18000]
  --gateway-port P      rekey gateway's port [GATEWAY_PORT, 18080]
  --mgmt-port P         rekey management port [MGMT_PORT, 18443]
  --nginx-port P        nginx's port [NGINX_PORT, 18090]
  --pinned              proxy (rekey, nginx) on CPU 0, wrk and the upstream
                        on CPU 1 (taskset) [PINNED=1]
  --proxy-cpus LIST     taskset CPU list of the proxies when pinned [PROXY_CPUS, 0]
  --load-cpus LIST      taskset CPU list of wrk and upstream when pinned [LOAD_CPUS, 1]
  --rekey-bin PATH      run this rekey binary instead of building ./cmd/rekey,
                        e.g. an older build to compare with [REKEY_BIN]
  --rekey-args ARGS     more flags for `rekey serve`, split on spaces, e.g.
                        "--gateway-engine nethttp" where a build has it [REKEY_ARGS]
  --no-allocs           skip the Go benchmark of allocations [NO_ALLOCS=1]
  -h, --help            this text
EOF
}

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
CONNS_HIGH=${CONNS_HIGH:-32}
CONNS_LOW=${CONNS_LOW:-4}
UPSTREAM_PORT=${UPSTREAM_PORT:-18000}
GATEWAY_PORT=${GATEWAY_PORT:-18080}
MGMT_PORT=${MGMT_PORT:-18443}
NGINX_PORT=${NGINX_PORT:-18090}
PINNED=${PINNED:-0}
PROXY_CPUS=${PROXY_CPUS:-0}
LOAD_CPUS=${LOAD_CPUS:-1}
REKEY_BIN=${REKEY_BIN:-}
REKEY_ARGS=${REKEY_ARGS:-}
NO_ALLOCS=${NO_ALLOCS:-0}

die() { echo "bench: $*" >&2; exit 2; }
need() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)"; }
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) need "$@"; ROUNDS=$2; shift ;;
    --duration) need "$@"; DURATION=$2; shift ;;
    --warmup) need "$@"; WARMUP=$2; shift ;;
    --conns-high) need "$@"; CONNS_HIGH=$2; shift ;;
    --conns-low) need "$@"; CONNS_LOW=$2; shift ;;
    --upstream-port) need "$@"; UPSTREAM_PORT=$2; shift ;;
    --gateway-port) need "$@"; GATEWAY_PORT=$2; shift ;;
    --mgmt-port) need "$@"; MGMT_PORT=$2; shift ;;
    --nginx-port) need "$@"; NGINX_PORT=$2; shift ;;
    --pinned) PINNED=1 ;;
    --proxy-cpus) need "$@"; PROXY_CPUS=$2; shift ;;
    --load-cpus) need "$@"; LOAD_CPUS=$2; shift ;;
    --rekey-bin) need "$@"; REKEY_BIN=$2; shift ;;
    --rekey-args) need "$@"; REKEY_ARGS=$2; shift ;;
    --no-allocs) NO_ALLOCS=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
  shift
done
for v in ROUNDS CONNS_HIGH CONNS_LOW UPSTREAM_PORT GATEWAY_PORT MGMT_PORT NGINX_PORT; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v=${!v}: want a positive whole number"
done
for v in DURATION WARMUP; do
  [[ ${!v} =~ ^[0-9]+[smh]?$ ]] || die "$v=${!v}: want a duration such as 5s"
done
if [ -n "$REKEY_BIN" ]; then
  [ -x "$REKEY_BIN" ] || die "--rekey-bin $REKEY_BIN: not an executable file"
  REKEY_BIN=$(cd "$(dirname "$REKEY_BIN")" && pwd)/$(basename "$REKEY_BIN")
fi

UP=127.0.0.1:$UPSTREAM_PORT GW=127.0.0.1:$GATEWAY_PORT MGMT=127.0.0.1:$MGMT_PORT NGX=127.0.0.1:$NGINX_PORT
proxy_run=() load_run=() threads=2 workers=2
if [ "$PINNED" = 1 ]; then
  command -v taskset >/dev/null || die "--pinned needs taskset (util-linux)"
  proxy_run=(taskset -c "$PROXY_CPUS") load_run=(taskset -c "$LOAD_CPUS") threads=1 workers=1
fi

for tool in wrk nginx curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "bench: installing wrk, nginx and curl with apt" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light curl >/dev/null
    break
  fi
done

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ -z "$REKEY_BIN" ]; then
  go build -o "$work/rekey" ./cmd/rekey
  REKEY_BIN=$work/rekey
fi
go build -o "$work/upstream" ./bench/upstream
for a in "$UP" "$GW" "$MGMT" "$NGX"; do
  if curl -s -o /dev/null --max-time 1 "http://$a/"; then die "something already listens on $a; choose other ports (see --help)"; fi
done

"${load_run[@]}" "$work/upstream" -listen "$UP" & pids+=($!)
up_pid=$!

export REKEY_ADMIN_TOKEN=bench-admin-token-0123456789
"${proxy_run[@]}" "$REKEY_BIN" serve --data "$work/data" --listen "$MGMT" --insecure-http --gateway-listen "$GW" \
  --gateway-access-log=false --log-format json $REKEY_ARGS >"$work/rekey.out" 2>"$work/rekey.err" & pids+=($!)
rekey_pid=$!
for _ in $(seq 100); do curl -fs "http://$MGMT/readyz" >/dev/null && break; sleep 0.1; done
curl -fs "http://$MGMT/readyz" >/dev/null || { cat "$work/rekey.err" >&2; die "rekey did not become ready"; }

arm() { curl -fsS -X "$1" -H "Authorization: Bearer $REKEY_ADMIN_TOKEN" -H 'Content-Type: application/json' \
  "http://$MGMT/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/bench/providers/Microsoft.MachineLearningServices/workspaces/wsbench$2?api-version=2024-04-01" ${3:+-d "$3"}; }
arm PUT "" '{"location":"eastus"}' >/dev/null
arm PUT /onlineEndpoints/bench '{"location":"eastus","properties":{"authMode":"Key"}}' >/dev/null
arm PUT /onlineEndpoints/bench/deployments/blue "{\"location\":\"eastus\",\"properties\":{\"endpointComputeType\":\"Managed\",\"properties\":{\"rekey.upstream\":\"http://$UP\"}}}" >/dev/null
# The deployment's create is a long-running operation: traffic can name
# it once it exists.
for _ in $(seq 50); do
  arm PUT /onlineEndpoints/bench '{"location":"eastus","properties":{"authMode":"Key","traffic":{"blue":100}}}' >/dev/null 2>&1 && break
  sleep 0.2
done
KEY=$(arm POST /onlineEndpoints/bench/listKeys | sed 's/.*"primaryKey":"\([^"]*\)".*/\1/')

cat >"$work/nginx.conf" <<NGINX
worker_processes $workers;
pid $work/nginx.pid;
error_log $work/nginx.err warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx-body;
  proxy_temp_path $work/nginx-proxy;
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
"${proxy_run[@]}" nginx -c "$work/nginx.conf" -p "$work" -e "$work/nginx.err"
for _ in $(seq 50); do [ -s "$work/nginx.pid" ] && break; sleep 0.1; done
nginx_master=$(cat "$work/nginx.pid")

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
ok() {
  for _ in $(seq 50); do [ "$(code "$@")" = 200 ] && return 0; sleep 0.1; done
  die "$* does not answer 200"
}
ok "http://$UP/score"
ok -H "Authorization: Bearer $KEY" "http://$GW/endpoints/bench/score"
ok -H "Authorization: Bearer $KEY" "http://$NGX/score"
[ "$(code -H "Authorization: Bearer not-the-key" "http://$GW/endpoints/bench/score")" = 401 ] || die "rekey accepts a wrong key"
[ "$(code -H "Authorization: Bearer not-the-key" "http://$NGX/score")" = 401 ] || die "nginx accepts a wrong key"

args_of() {
  case $1 in
    upstream) echo "http://$UP/score" ;;
    rekey) echo "-H|Authorization: Bearer $KEY|http://$GW/endpoints/bench/score" ;;
    nginx) echo "-H|Authorization: Bearer $KEY|http://$NGX/score" ;;
  esac
}
# pids_of prints the processes whose CPU time counts as the target's.
pids_of() {
  case $1 in
    upstream) echo "$up_pid" ;;
    rekey) echo "$rekey_pid" ;;
    nginx) echo "$nginx_master $(pgrep -P "$nginx_master" | tr '\n' ' ')" ;;
  esac
}
# ticks sums utime+stime (fields 14 and 15 of /proc/PID/stat, all threads).
ticks() {
  local sum=0 p t
  for p in "$@"; do
    t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat")
    sum=$((sum + t))
  done
  echo "$sum"
}
# machine prints busy and total jiffies of the whole machine (/proc/stat).
machine() { awk '$1 == "cpu" { t = 0; for (i = 2; i <= 9 && i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }
# children_ticks sets CT to the CPU time of this shell's finished children
# (the wrk runs), in ticks. Not called in $(...): a subshell's children
# are not ours.
hz=$(getconf CLK_TCK)
children_ticks() {
  times >"$work/times"
  CT=$(awk -v hz="$hz" 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] } printf("%d\n", s * hz) }' "$work/times")
}
# us converts wrk's 116.00us / 1.20ms / 2.00s to microseconds.
us() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) print v + 0; else if (v ~ /ms$/) print (v + 0) * 1000; else print (v + 0) * 1000000 }'; }

# run TARGET CONNS DURATION: one wrk run; sets RPS REQS P50 P99 CPU (ticks
# of the target's processes) OTHERS (% of the machine used by neither the
# bench's processes nor wrk).
run() {
  local target=$1 conns=$2 dur=$3 out a t0 t1 m0 m1 c0 c1 bench0 bench1
  IFS='|' read -r -a a <<<"$(args_of "$target")"
  local watched
  watched=$(echo "$up_pid $rekey_pid $(pids_of nginx)" | tr ' ' '\n' | sort -u | tr '\n' ' ')
  t0=$(ticks $(pids_of "$target")); bench0=$(ticks $watched); read -r m0 mt0 < <(machine); children_ticks; c0=$CT
  out=$("${load_run[@]}" wrk -t"$threads" -c"$conns" -d"$dur" --latency "${a[@]}")
  t1=$(ticks $(pids_of "$target")); bench1=$(ticks $watched); read -r m1 mt1 < <(machine); children_ticks; c1=$CT
  if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then
    echo "$out" >&2
    die "$target: errors during the run"
  fi
  RPS=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
  REQS=$(awk '/requests in/ { print $1 }' <<<"$out")
  P50=$(us "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
  P99=$(us "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
  CPU=$((t1 - t0))
  # Jiffies of /proc/stat and ticks of /proc/PID/stat are both USER_HZ.
  OTHERS=$(awk -v busy=$((m1 - m0)) -v total=$((mt1 - mt0)) -v ours=$((bench1 - bench0 + c1 - c0)) \
    'BEGIN { o = busy - ours; if (o < 0) o = 0; printf("%.0f", (total > 0 ? 100 * o / total : 0)) }')
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minmax() { tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo, hi }'; }

mode=unpinned
[ "$PINNED" = 1 ] && mode="pinned (proxies on CPU $PROXY_CPUS; wrk, upstream on CPU $LOAD_CPUS)"
echo "bench: $ROUNDS rounds × $DURATION per run; throughput at $CONNS_HIGH connections, latency at $CONNS_LOW; $mode"
echo "bench: rekey $REKEY_BIN ($("$REKEY_BIN" version 2>/dev/null | head -1 || echo '?'))${REKEY_ARGS:+ $REKEY_ARGS}; $(nginx -v 2>&1 | sed 's/.*: //'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

targets=(upstream rekey nginx)
for t in "${targets[@]}"; do run "$t" "$CONNS_HIGH" "$WARMUP"; done

declare -A RPSS P50S P99S CPUS REQSS
ratios="" add50r="" add99r="" add50n="" add99n="" others=""
for r in $(seq "$ROUNDS"); do
  # Rotate the order, so no target always runs right after another.
  order=()
  for i in 0 1 2; do order+=("${targets[$(((i + r - 1) % 3))]}"); done
  declare -A rr=() lat50=() lat99=()
  for t in "${order[@]}"; do
    run "$t" "$CONNS_HIGH" "$DURATION"
    rr[$t]=$RPS; others+=" $OTHERS"
    RPSS[$t]+=" $RPS"; CPUS[$t]=$(( ${CPUS[$t]:-0} + CPU )); REQSS[$t]=$(( ${REQSS[$t]:-0} + REQS ))
    run "$t" "$CONNS_LOW" "$DURATION"
    lat50[$t]=$P50 lat99[$t]=$P99; others+=" $OTHERS"
    P50S[$t]+=" $P50"; P99S[$t]+=" $P99"
  done
  ratios+=" $(awk -v a="${rr[rekey]}" -v b="${rr[nginx]}" 'BEGIN { print a / b }')"
  add50r+=" $(awk -v a="${lat50[rekey]}" -v b="${lat50[upstream]}" 'BEGIN { print a - b }')"
  add99r+=" $(awk -v a="${lat99[rekey]}" -v b="${lat99[upstream]}" 'BEGIN { print a - b }')"
  add50n+=" $(awk -v a="${lat50[nginx]}" -v b="${lat50[upstream]}" 'BEGIN { print a - b }')"
  add99n+=" $(awk -v a="${lat99[nginx]}" -v b="${lat99[upstream]}" 'BEGIN { print a - b }')"
  printf 'bench: round %d: req/s upstream %.0f, rekey %.0f, nginx %.0f; p50 µs %.0f / %.0f / %.0f\n' "$r" \
    "${rr[upstream]}" "${rr[rekey]}" "${rr[nginx]}" "${lat50[upstream]}" "${lat50[rekey]}" "${lat50[nginx]}"
  unset rr lat50 lat99
done

allocs="skipped (--no-allocs)"
if [ "$NO_ALLOCS" != 1 ]; then
  allocs=$(go test ./gateway -run '^$' -bench '^BenchmarkProxy' -benchmem -benchtime 2000x 2>/dev/null |
    awk '/^BenchmarkProxy/ { for (i = 1; i < NF; i++) if ($(i + 1) == "allocs/op") a = a (a ? ", " : "") $i " (" $1 ")" } END { print a ? a : "n/a" }')
fi

echo
printf '%-9s %26s %8s %8s %10s %10s %11s\n' target "req/s @$CONNS_HIGH min / med / max" "p50 @$CONNS_LOW" "p99 @$CONNS_LOW" "added p50" "added p99" "CPU µs/req"
for t in "${targets[@]}"; do
  read -r lo hi < <(minmax <<<"${RPSS[$t]}")
  med=$(median <<<"${RPSS[$t]}")
  case $t in
    upstream) a50="–" a99="–" ;;
    rekey) a50=$(median <<<"$add50r") a99=$(median <<<"$add99r") ;;
    nginx) a50=$(median <<<"$add50n") a99=$(median <<<"$add99n") ;;
  esac
  [ "$a50" = "–" ] || a50=$(printf '%.0f µs' "$a50")
  [ "$a99" = "–" ] || a99=$(printf '%.0f µs' "$a99")
  cpu=$(awk -v c="${CPUS[$t]}" -v n="${REQSS[$t]}" -v hz="$hz" 'BEGIN { printf("%.1f", (n > 0 ? c * 1e6 / hz / n : 0)) }')
  [ "$t" = upstream ] && cpu="($cpu)"
  printf '%-9s %8.0f / %6.0f / %6.0f %8.0f %8.0f %10s %10s %11s\n' "$t" "$lo" "$med" "$hi" \
    "$(median <<<"${P50S[$t]}")" "$(median <<<"${P99S[$t]}")" "$a50" "$a99" "$cpu"
done
echo
read -r rlo rhi < <(minmax <<<"$ratios")
printf 'rekey / nginx req/s: %.2f median of %d rounds (min %.2f, max %.2f)\n' "$(median <<<"$ratios")" "$ROUNDS" "$rlo" "$rhi"
echo "allocs per proxied request (go test ./gateway -bench Proxy, source tree): $allocs"
read -r olo ohi < <(minmax <<<"$others")
echo "others: $(printf "%.0f" "$(median <<<"$others")") % of the machine's CPU used outside the bench during the runs (median; max $ohi %); load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(upstream's CPU µs/req is its own cost per request, in brackets: the proxies' figures exclude it)"
