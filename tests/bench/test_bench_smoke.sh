#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench_smoke: `xts-bench --smoke` runs every workload on every path
# (xts, xtsrun: the kernel-API client under xts-run, kernel, haproxy)
# briefly (its own topology, xtsd, HAProxy, server, raw echo); the JSON
# must be well formed, hold a figure for every workload and path and an
# entry for every target.  Targets need not be met in 0.3 s runs.
set -u
[ "$(id -u)" = 0 ] || { [ "${XTS_REQUIRE_ROOT:-0}" = 1 ] && { echo "FAIL: needs root"; exit 1; }; echo "SKIP: needs root"; exit 77; }
XTS_BIN=${XTS_BIN:-$(cd "$(dirname "$0")/../../build/bin" && pwd)}
OUT=$(mktemp -d /tmp/xts-bench-smoke.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
# the report reads every line of a whole run's results (over 1,300; a
# fixed table of 1,024 once dropped the rest silently) and a CDF line
# longer than any line buffer as one line
{
	for ((i = 0; i < 3000; i++)); do echo "filler.x$i.ops_s $i"; done
	printf 'xts.pp64.cdf'; for ((i = 0; i < 400; i++)); do printf ' %d' $i; done; echo
	echo "haproxy.tls-hs.ops_per_term_cpu_s 1234.5"
} >"$OUT/many.txt"
"$XTS_BIN/xts-bench" report "$OUT/many.txt" --json "$OUT/many.json" --svg "$OUT/many.svg" >/dev/null ||
	{ echo "FAIL: xts-bench report of 3,002 lines"; exit 1; }
python3 -c 'import json, sys; f = json.load(open(sys.argv[1]))["figures"]
assert f.get("haproxy.tls-hs.ops_per_term_cpu_s") == 1234.5 and f.get("filler.x2999.ops_s") == 2999, "report dropped lines"
assert not any(k.startswith(("1", "2", "3")) for k in f), "a CDF line read as two"' "$OUT/many.json" ||
	{ echo "FAIL: xts-bench report lost lines of its input"; exit 1; }
t0=$(date +%s)
"$XTS_BIN/xts-bench" --smoke --out "$OUT" --json "$OUT/b.json" --svg "$OUT/b.svg" ||
	{ cat "$OUT/client.log" "$OUT/xtsd.log" 2>/dev/null | tail -20; echo "FAIL: xts-bench --smoke"; exit 1; }
python3 - "$OUT/b.json" "$OUT/b.svg" "$OUT/results.txt" <<'PY' || exit 1
import json, os, sys
d = json.load(open(sys.argv[1]))
want = {"host_cpu_per_req_full_rate_vs_kernel", "host_cpu_per_req_fixed_rate_vs_kernel",
        "host_cpu_per_req_5k_pingpong_vs_kernel", "p50_latency_vs_kernel",
        "p50_latency_vs_haproxy", "rr64_req_s_vs_haproxy", "bulk1_gbps_vs_kernel",
        "host_cpu_per_gb_bulk_vs_kernel", "host_cpu_per_gb_bulk_zc_vs_kernel",
        "connect_request_close_vs_kernel", "connect_fastopen_request_close_vs_kernel",
        "msgs_s_one_queue_vs_raw_af_xdp",
        "tls_host_cpu_per_req_vs_host_tls", "tls_handshakes_per_shard_vs_haproxy_thread",
        "xtsrun_host_cpu_per_req_full_rate_vs_xts", "xtsrun_host_cpu_per_req_full_rate_vs_kernel"}
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
             ("connrate", "ops_s"), ("connfo", "ops_s"), ("cpufix", "cpu_us_per_op")]:
    for p in ("xts", "xtsrun", "kernel", "haproxy"):
        v = f.get(f"{p}.{w}.{m}")
        assert isinstance(v, (int, float)) and v > 0, f"{p}.{w}.{m} = {v}"
    # xtsrun: the kernel-API client under xts-run went over XTS (the shim
    # opened a queue; it may not fall back to kernel TCP there)
    assert f.get(f"xtsrun.{w}.xts_queues", 0) >= 1, f"xtsrun.{w}: no XTS queue opened"
# xts-run rings one doorbell per turn of the client's epoll loop, not one
# per send (docs/design.md, "Cost of the shim"): at full rate over 64
# connections many answers come in a turn.  Counted over the whole
# process (connects and warm-up too) against the requests of the window
# alone: without the batching it is above 1.
secs = float(d["meta"]["secs"])
db = f["xtsrun.rr64.shim_doorbells"] / (f["xtsrun.rr64.ops_s"] * secs)
print(f"xtsrun rr64: {db:.3f} doorbells per request")
assert db < 0.5, f"xtsrun rr64: {db:.2f} doorbells per request (one per send?)"
# the xts-run targets compare the xtsrun path's figure with xts's and kernel's
for t in d["targets"]:
    want_path = "xtsrun" if t["name"].startswith("xtsrun_") else "xts"
    assert t.get("path") == want_path, f"{t['name']}: path {t.get('path')}"
    if want_path == "xtsrun":
        assert t["xts"] == f["xtsrun.rr64.cpu_us_per_op"], t
        assert t["baseline"] == f[t["baseline_path"] + ".rr64.cpu_us_per_op"], t
# TCP_FASTOPEN_CONNECT took XTS's fast path: the request rode in the
# CONNECT, and the CLOSE rode in its frame (a bundle): 1 frame to the DPU
# and 1 doorbell per connection, against 2 and 2 for connect, then the
# request with the CLOSE in one frame (3 frames each without bundles).
# Averages over a short run: a doorbell retried on a busy device, or a
# CONNECT sent bare on a shut window, moves them a little; the paths stay
# half a frame and half a doorbell apart.
tx = {w: f.get(f"xts.{w}.q_tx_frames_per_op") for w in ("connrate", "connfo")}
kicks = {w: f.get(f"xts.{w}.q_kicks_per_op") for w in ("connrate", "connfo")}
assert 0.9 <= tx["connfo"] < 1.5 <= tx["connrate"] < 2.5, tx
assert 0.9 <= kicks["connfo"] < 1.5 <= kicks["connrate"], kicks
# TLS: every path answered HTTPS requests and did handshakes, in TLS 1.3,
# with the host's and the terminator's CPU measured; the XTS path's
# handshakes were done by the shards (their tls_hs_ok covers every one the
# client counted) and its host server saw plaintext
for p in ("xts", "kernel", "haproxy"):
    for k in ("tls-rr64.ops_s", "tls-rr64.host_cpu_us_per_op", "tls-rr64.term_cpu_us_per_op",
              "tls-hs.ops_s", "tls-hs.ops_per_term_cpu_s", "tls-hs.host_cpu_us_per_op"):
        v = f.get(f"{p}.{k}")
        assert isinstance(v, (int, float)) and v > 0, f"{p}.{k} = {v}"
    for w in ("tls-rr64", "tls-hs"):
        assert str(f.get(f"{p}.{w}.proto", "")).startswith("TLSv1.3/"), f"{p}.{w}.proto = {f.get(f'{p}.{w}.proto')}"
hs = f["xts.tls-hs.ops_s"] * float(d["meta"]["secs"])
assert f.get("xts.tls.shard_hs_ok", 0) >= 64 + 0.9 * hs, f"shards' tls_hs_ok {f.get('xts.tls.shard_hs_ok')} < 64 + {hs:.0f} handshakes"
# the XTS host server's queue, read at the window's ends (tlsserver -Q):
# at most one frame in and one out per HTTPS request (a request, its
# answer; fewer where bundles carry several), at most one doorbell and
# one sleep per request; the host server where
# run-bench pins it (a CPU of its own, 1; on a 2-CPU machine the
# terminator's, the last)
q = {k: f.get(f"xts.tls-rr64.host_q_{k}_per_op") for k in ("rx_frames", "tx_frames", "kicks", "sleeps")}
assert all(isinstance(v, (int, float)) for v in q.values()), q
assert 0 < q["rx_frames"] <= 1.5 and 0 < q["tx_frames"] <= 1.5 and 0 < q["kicks"] <= 1.1 and q["sleeps"] <= 1.1, q
print(f"tls-rr64: host frames per request {q['rx_frames']:.2f} in, {q['tx_frames']:.2f} out")
ncpu = os.cpu_count()
assert f.get("xts.tls-rr64.host_last_cpu") == (1 if ncpu > 2 else ncpu - 1), f"host server on CPU {f.get('xts.tls-rr64.host_last_cpu')}"
# on the kernel path the host is the terminator: the same process measured twice
assert abs(f["kernel.tls-rr64.term_cpu_us_per_op"] - f["kernel.tls-rr64.host_cpu_us_per_op"]) <= 0.05 * f["kernel.tls-rr64.host_cpu_us_per_op"] + 1e-9
print("tls: host CPU us/req xts %.1f, host TLS %.1f, behind HAProxy %.1f; handshakes/terminator-CPU-s xts %.0f, haproxy %.0f" % (
    f["xts.tls-rr64.host_cpu_us_per_op"], f["kernel.tls-rr64.host_cpu_us_per_op"], f["haproxy.tls-rr64.host_cpu_us_per_op"],
    f["xts.tls-hs.ops_per_term_cpu_s"], f["haproxy.tls-hs.ops_per_term_cpu_s"]))
# bulk through the zero-copy send API took it (frames sent from
# xport_send_buf), and the plain bulk did not
for k in ("xts.bulk1zc.gbps", "xts.bulk1zc.cpu_s_per_gb", "xts.bulk1zc.zc_tx_frames"):
    assert f.get(k, 0) > 0, f"{k} = {f.get(k)}"
assert f.get("xts.bulk1.zc_tx_frames") == 0, f"xts.bulk1.zc_tx_frames = {f.get('xts.bulk1.zc_tx_frames')}"
for k in ("raw.pp64.ops_s", "raw.msgs.ops_s"):
    assert f.get(k, 0) > 0, k
# The report's arithmetic: each target's ratio is xts/baseline of the
# figures it names, and "met" says whether that ratio meets the goal.
for t in d["targets"]:
    r = t["xts"] / t["baseline"]
    assert abs(t["ratio"] - r) <= 1e-3 * max(abs(r), 1e-9), f"{t['name']}: ratio {t['ratio']} != {r}"
    op, goal = t["goal"].split()
    assert op in ("<=", ">="), t
    met = r <= float(goal) if op == "<=" else r >= float(goal)
    assert t["met"] == met, f"{t['name']}: met {t['met']} but ratio {r} {op} {goal} is {met}"
# Latency figures are quantiles of one sample set: ordered.
for w in ("pp64", "pp1k", "pp16k"):
    for p in ("xts", "kernel", "haproxy"):
        q = [f[f"{p}.{w}.{k}"] for k in ("p50_us", "p99_us", "p999_us")]
        assert q == sorted(q), f"{p}.{w}: p50/p99/p99.9 {q} not ordered"
# The XTS path went over the queue (frames each way per request) and the
# kernel paths did not (no queue counters).
for w in ("pp64", "rr64", "cpufix"):
    for k in ("q_tx_frames_per_op", "q_rx_frames_per_op"):
        v = f.get(f"xts.{w}.{k}")
        assert isinstance(v, (int, float)), f"xts.{w}.{k} missing"
    assert f[f"xts.{w}.q_tx_frames_per_op"] > 0, f"xts.{w}: no frames sent on the queue"
for w in ("pp64", "rr64"):  # a message each, in a frame or a bundle
    rx = f[f"xts.{w}.q_rx_frames_per_op"] + f.get(f"xts.{w}.q_rx_bundled_per_op", 0)
    assert rx >= 0.5, f"xts.{w}: answers did not come over the queue"
for p in ("kernel", "haproxy"):
    assert not [k for k in f if k.startswith(p + ".") and ".q_" in k], f"{p}: queue counters on a kernel path"
# Instructions per operation (instr.c), with the method that counted
# them: present for XTS and kernel TCP, sane, and the same from one run to
# the next (the smoke run counts each twice): that is what they are for.
method = d["meta"].get("instr_method", "")
assert method.split(" ")[0] in ("perf", "callgrind"), f"instr_method {method!r}"
runs = {}
for line in open(sys.argv[3]):
    k, _, v = line.strip().partition(" ")
    if k.endswith(".instr_per_op"):
        runs.setdefault(k, []).append(float(v))
for p in ("xts", "xtsrun", "kernel"):
    for w in ("ipp64", "iconn", "iconnfo", "irr64"):
        k = f"{p}.{w}.instr_per_op"
        v = f.get(k)
        assert isinstance(v, (int, float)) and 50 <= v <= 5e6, f"{k} = {v}"
        assert f.get(f"{p}.{w}.instr_method") == method.split(" ")[0], f"{p}.{w}: method"
        r = runs.get(k, [])
        assert len(r) == 2, f"{k}: {len(r)} counted runs, want 2"
        spread = abs(r[0] - r[1]) / max(r)
        print(f"{k}: {r[0]:.0f} and {r[1]:.0f} ({method.split(' ')[0]}), spread {spread:.2%}")
        # fast open: whether CLOSED, CONNECT_RES and the answer reach the
        # host in one wakeup or two depends on timing (the shard's hold,
        # docs/protocol.md), and each wakeup is one more engine turn;
        # irr64's count depends on how many answers each turn of the loop
        # takes in (timing): printed, not held to a bound
        # under xts-run (callgrind counts the client's main thread only:
        # --toggle-collect is per thread, the shim's progress thread is
        # not in it) a blocking recv either finds its answer there or
        # waits in the shim's wait path, which depends on timing under
        # a 50x slower callgrind: 5.6 % apart in one CI run of iconn,
        # 10.1 % in one of ipp64 (at load 3.4)
        lim = 0.20 if p == "xtsrun" else 0.10 if w == "iconnfo" else 0.05
        assert w == "irr64" or spread <= lim, f"{k}: {r} differ by {spread:.1%} (> {lim:.0%})"
# XTS runs libxport in the process: more user-space work than glibc's
# send/recv wrappers (with perf the kernel's share is counted too)
if method.startswith("callgrind"):
    assert f["xts.ipp64.instr_per_op"] > f["kernel.ipp64.instr_per_op"], "xts <= kernel in user space"
    # the same client code under xts-run runs libxport too (user space)
    for w in ("ipp64", "irr64"):
        assert f[f"xtsrun.{w}.instr_per_op"] > f[f"kernel.{w}.instr_per_op"], f"{w}: xtsrun <= kernel in user space"
# the request riding in the CONNECT saves libxport a frame and a doorbell
assert f["xts.iconnfo.instr_per_op"] < f["xts.iconn.instr_per_op"], "fast open costs no less"
# The poll-mode runs (shard 0 reloaded into each mode, sleep again
# among them, in one placement; docs/design.md, "Poll modes"): every mode
# has its figures, and where the processes ran is stated.
modes = d["meta"].get("poll_modes", "").split(",")
assert {"sleep", "busy", "adaptive", "busy+spin20"} <= set(modes), modes
for m in modes:
    for w, k in [("pp64", "p50_us"), ("pp64", "ops_s"), ("cpufix1", "cpu_us_per_op"), ("rr64", "ops_s")]:
        v = f.get(f"xts@{m}.{w}.{k}")
        assert isinstance(v, (int, float)) and v > 0, f"xts@{m}.{w}.{k} = {v}"
assert f.get("xts@busy+spin20.pp64.q_spins_per_op") is not None, "host spin not reported"
assert "placement" in d["meta"] and "poll_placement" in d["meta"], "placement not stated"
print("poll modes:", ", ".join(f"{m} p50 {f[f'xts@{m}.pp64.p50_us']:.1f} us" for m in modes))
svg = open(sys.argv[2]).read()
assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>") and "polyline" in svg
print("ok: json has", len(f), "figures and", len(d["targets"]), "targets")
PY
# the XTS client leased its queues from xportd, as programs do by default
grep -Eq "granted [1-9]" "$OUT/xportd_status.txt" 2>/dev/null ||
	{ cat "$OUT/xportd_status.txt" "$OUT/xportd.log" 2>/dev/null; echo "FAIL: the XTS client's queues were not leased from xportd"; exit 1; }
echo "ok: $(head -n1 "$OUT/xportd_status.txt")"
echo "PASS: bench_smoke ($(($(date +%s) - t0)) s)"
