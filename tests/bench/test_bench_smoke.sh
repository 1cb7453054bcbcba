#!/usr/bin/env bash
# bench_smoke: `xts-bench --smoke` runs every workload on every path
# briefly (its own topology, xtsd, HAProxy, server, raw echo); the JSON
# must be well formed, hold a figure for every workload and path and an
# entry for every target.  Targets need not be met in 0.3 s runs.
set -u
[ "$(id -u)" = 0 ] || { [ "${XTS_REQUIRE_ROOT:-0}" = 1 ] && { echo "FAIL: needs root"; exit 1; }; echo "SKIP: needs root"; exit 77; }
XTS_BIN=${XTS_BIN:-$(cd "$(dirname "$0")/../../build/bin" && pwd)}
OUT=$(mktemp -d /tmp/xts-bench-smoke.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
t0=$(date +%s)
"$XTS_BIN/xts-bench" --smoke --out "$OUT" --json "$OUT/b.json" --svg "$OUT/b.svg" ||
	{ cat "$OUT/client.log" "$OUT/xtsd.log" 2>/dev/null | tail -20; echo "FAIL: xts-bench --smoke"; exit 1; }
python3 - "$OUT/b.json" "$OUT/b.svg" <<'PY' || exit 1
import json, sys
d = json.load(open(sys.argv[1]))
want = {"host_cpu_per_req_full_rate_vs_kernel", "host_cpu_per_req_fixed_rate_vs_kernel",
        "p50_latency_vs_kernel", "p50_latency_vs_haproxy", "rr64_req_s_vs_haproxy",
        "bulk1_gbps_vs_kernel", "msgs_s_one_queue_vs_raw_af_xdp"}
got = {t["name"] for t in d["targets"]}
assert got == want, f"targets: {sorted(got ^ want)}"
for t in d["targets"]:
    for k in ("name", "xts", "baseline", "ratio", "goal", "met"):
        assert k in t, f"{t['name']}: no {k}"
    assert isinstance(t["met"], bool)
    assert isinstance(t["xts"], (int, float)) and isinstance(t["baseline"], (int, float)), t
f = d["figures"]
for w, m in [("pp64", "p50_us"), ("pp1k", "ops_s"), ("pp16k", "ops_s"), ("rr64", "ops_s"),
             ("rr1024", "ops_s"), ("bulk1", "gbps"), ("bulkq", "gbps"), ("msgs", "ops_s"),
             ("connrate", "ops_s"), ("cpufix", "cpu_us_per_op")]:
    for p in ("xts", "kernel", "haproxy"):
        v = f.get(f"{p}.{w}.{m}")
        assert isinstance(v, (int, float)) and v > 0, f"{p}.{w}.{m} = {v}"
for k in ("raw.pp64.ops_s", "raw.msgs.ops_s"):
    assert f.get(k, 0) > 0, k
svg = open(sys.argv[2]).read()
assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>") and "polyline" in svg
print("ok: json has", len(f), "figures and", len(d["targets"]), "targets")
PY
echo "PASS: bench_smoke ($(($(date +%s) - t0)) s)"
