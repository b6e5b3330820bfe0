"""What the Faultline plugin costs the LiteLLM proxy it runs in (issue 15, section 4): `make bench-plugin`.

One run starts, on 127.0.0.1 only:
  - the provider simulator (src/test/java/.../ProviderSimulator), answering at once (no scripted latency);
  - a sink standing in for Faultline (this script with --sink): answers 200 to POST /api/v1/calls with Faultline's
    answer shape, 200 to the generic_api logger's POSTs, and an empty traffic policy; it counts what it got;
  - three real LiteLLM proxies from the project's venv, one model routed to the simulator, identical but for the
    callbacks: none ("base"), the Faultline plugin ("plugin"), and LiteLLM's built-in generic_api logger ("generic").

Then rounds, each running every proxy in turn (the order rotates from round to round, so that drift of the shared
machine's load falls on each proxy alike): a closed loop of N clients at the proxy's saturation, and an open loop at a
fixed moderate rate (latency counted from each request's scheduled time, so a stall is not hidden). Every figure is
also compared, round by round, with the base proxy measured in the same round. Writes target/bench-plugin.md.

  --profile-seconds S  also records each plugin proxy with py-spy (GIL-holding samples only) under the closed loop and
                       reports the share of its samples in faultline_callback.py, by function (raw stacks beside
                       the report: bench-plugin-<variant>.pyspy.txt).
  --plugin-ref REV     adds a fourth proxy with the plugin as it was at git revision REV (before/after in one run).

Last, each plugin version's success hook and serialisation are timed alone (thread CPU per call) on the real payload
the sink captured in this run (BENCH_PLUGIN_SAMPLE=path keeps it; litellm/tests/data holds one).
"""

import argparse
import asyncio
import collections
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MASTER_KEY = "sk-bench-master"
VARIANTS = ["base", "plugin", "generic"]


# ---------------------------------------------------------------- the sink (a separate process)


class _Sink(BaseHTTPRequestHandler):
    counts = collections.Counter()
    lock = threading.Lock()
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.startswith("/api/v1/traffic-policy"):
            self._answer(200, {"preemption": False, "deployments": [], "refreshSeconds": 15, "staleAfterSeconds": 180})
        elif self.path == "/stats":
            with self.lock:
                self._answer(200, dict(self.counts))
        else:
            self._answer(404, {"title": "not here"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            events = json.loads(body)
        except ValueError:
            self._answer(400, {"title": "not JSON"})
            return
        n = len(events) if isinstance(events, list) else 1
        sample = os.environ.get("BENCH_PLUGIN_SAMPLE")
        # The sample is the payload as LiteLLM hands it to a logger: the generic_api logger's copy (the plugin's own
        # events are already cut, so timing a hook on them would time a smaller input than the proxy gives it).
        if sample and self.path == "/generic" and isinstance(events, list) and events:
            with self.lock:
                if not os.path.exists(sample):  # one real event, for the plugin's tests and micro-benchmarks
                    with open(sample, "w") as f:
                        json.dump(events[0], f, indent=1)
        with self.lock:
            self.counts[self.path] += n
            self.counts[self.path + "#requests"] += 1
        self._answer(200, {"accepted": n, "duplicates": 0, "rejected": []})


def run_sink(port):
    server = ThreadingHTTPServer(("127.0.0.1", port), _Sink)
    server.daemon_threads = True
    print(f"sink listening on {port}", flush=True)
    server.serve_forever()


# ---------------------------------------------------------------- processes


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, deadline_s, proc, headers=None):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode} before {url} answered")
        try:
            req = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(req, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer 200 within {deadline_s} s")


def proxy_config(sim_url, variant):
    lines = [
        "model_list:",
        "  - model_name: bench",
        "    litellm_params:",
        "      model: openai/gpt-4o-mini",
        f"      api_base: {sim_url}/bench/v1",
        "      api_key: sk-simulated-openai",
        "      timeout: 10",
        "    model_info:",
        "      id: bench-openai",
        "router_settings:",
        "  num_retries: 0",
        "  disable_cooldowns: true",
        "litellm_settings:",
        "  num_retries: 0",
        "  request_timeout: 10",
    ]
    if variant.startswith("plugin"):
        lines.append("  callbacks: faultline_callback.faultline_logger")
    elif variant == "generic":
        lines.append('  callbacks: ["generic_api"]')
    lines += ["general_settings:", f"  master_key: {MASTER_KEY}"]
    return "\n".join(lines) + "\n"


def start_proxy(venv, workdir, sim_url, sink_url, variant):
    home = workdir / variant
    home.mkdir()
    (home / "config.yaml").write_text(proxy_config(sim_url, variant))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAULTLINE_", "GENERIC_LOGGER"))}
    env.update(
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        LITELLM_TELEMETRY_DISABLED="True",
        NO_PROXY="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    if variant.startswith("plugin@"):
        # The plugin as it was at a git revision, beside the config (LiteLLM loads a callback module from there first).
        ref = variant.split("@", 1)[1]
        old = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:litellm/faultline_callback.py"],
                             check=True, capture_output=True).stdout
        (home / "faultline_callback.py").write_bytes(old)
    if variant.startswith("plugin"):
        env.update(
            PYTHONPATH=str(home if "@" in variant else ROOT / "litellm"),
            FAULTLINE_URL=sink_url,
            FAULTLINE_INGEST_API_KEY="bench-ingest-key",
            FAULTLINE_SPOOL_DIR=str(home / "spool"),
        )
    elif variant == "generic":
        env.update(GENERIC_LOGGER_ENDPOINT=f"{sink_url}/generic", GENERIC_LOGGER_HEADERS="Authorization=Bearer bench")
    log = open(home / "proxy.log", "wb")
    proc = subprocess.Popen(
        [str(venv / "bin" / "litellm"), "--config", str(home / "config.yaml"), "--host", "127.0.0.1",
         "--port", str(port)],
        cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    return proc, f"http://127.0.0.1:{port}"


def stop(proc):
    if proc is not None and proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
        except Exception:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


# ---------------------------------------------------------------- load


REQUEST = {
    "model": "bench",
    "messages": [
        {"role": "system", "content": "You answer questions about the weather in two sentences."},
        {"role": "user", "content": "Will it rain in Lyon tomorrow afternoon, and should I take an umbrella?"},
    ],
    "max_tokens": 64,
}


class Sample:
    def __init__(self):
        self.latencies = []  # seconds, successful calls
        self.errors = 0
        self.elapsed = 0.0

    def summary(self):
        lat = sorted(self.latencies)
        n = len(lat)

        def pct(p):
            return lat[min(n - 1, int(p * n))] * 1000 if n else float("nan")

        return {"calls": n, "errors": self.errors, "rate": n / self.elapsed if self.elapsed else 0.0,
                "p50": pct(0.50), "p99": pct(0.99)}


async def _call(session, url, sample, started):
    import aiohttp

    try:
        async with session.post(url, json=REQUEST) as r:
            await r.read()
            ok = r.status == 200
    except (aiohttp.ClientError, asyncio.TimeoutError):
        ok = False
    if ok:
        sample.latencies.append(time.perf_counter() - started)
    else:
        sample.errors += 1


async def closed_loop(base_url, clients, seconds):
    import aiohttp

    sample = Sample()
    url = base_url + "/v1/chat/completions"
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    async with aiohttp.ClientSession(
        headers=headers, connector=aiohttp.TCPConnector(limit=clients), timeout=aiohttp.ClientTimeout(total=30)
    ) as session:
        end = time.perf_counter() + seconds

        async def worker():
            while time.perf_counter() < end:
                await _call(session, url, sample, time.perf_counter())

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        sample.elapsed = time.perf_counter() - t0
    return sample


async def open_loop(base_url, rate, seconds):
    """`rate` calls a second on a fixed schedule; each latency counts from the call's scheduled start."""
    import aiohttp

    sample = Sample()
    url = base_url + "/v1/chat/completions"
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    async with aiohttp.ClientSession(
        headers=headers, connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=30)
    ) as session:
        t0 = time.perf_counter()
        total = int(rate * seconds)
        tasks = []
        for i in range(total):
            at = t0 + i / rate
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_call(session, url, sample, at)))
        await asyncio.gather(*tasks)
        sample.elapsed = seconds
    return sample


def cpu_seconds(pgid):
    """User plus system CPU seconds of every process in the proxy's process group (its threads included)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state ppid pgrp ...; utime, stime are 12th, 13th
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def measured(proc, run):
    """Runs the load `run` against one proxy; its summary with the proxy's CPU ms per successful call."""
    before = cpu_seconds(proc.pid)
    sample = asyncio.run(run)
    summary = sample.summary()
    summary["cpu_ms"] = 1000.0 * (cpu_seconds(proc.pid) - before) / max(summary["calls"], 1)
    return summary


def loadavg():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def sink_stats(sink_url):
    with urllib.request.urlopen(sink_url + "/stats", timeout=5) as r:
        return json.loads(r.read())


# ---------------------------------------------------------------- the hook alone


def hook_bench(module_path, payload_path):
    """In this process: µs of thread CPU per call for the success hook and for the sender's serialisation of one
    event, on a real proxy payload, with a plugin whose sender never wakes up (so nothing else takes the GIL)."""
    import importlib.util

    spool = tempfile.mkdtemp(prefix="bench-plugin-hook-")
    os.environ.update(FAULTLINE_SPOOL_DIR=spool, FAULTLINE_POLICY_POLL="0", FAULTLINE_BATCH_SIZE="1000000",
                      FAULTLINE_QUEUE_MAX="1000000", FAULTLINE_FLUSH_INTERVAL_S="36000", FAULTLINE_API_KEY="bench",
                      FAULTLINE_URL="http://127.0.0.1:9")
    spec = importlib.util.spec_from_file_location("faultline_callback_bench", module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    plugin = module.faultline_logger
    payload = json.loads(Path(payload_path).read_text())
    payload.pop("faultline", None)
    n = 2000
    hook, serialise = [], []
    for rep in range(7):
        calls = [{"standard_logging_object": dict(payload, id=f"{rep}-{i}")} for i in range(n)]
        started = time.thread_time_ns()
        for kwargs in calls:
            # The hook is a coroutine that never awaits: driven by hand, as the event loop would, minus the loop.
            coroutine = plugin.async_log_success_event(kwargs, None, None, None)
            try:
                coroutine.send(None)
            except StopIteration:
                pass
        hook.append((time.thread_time_ns() - started) / n / 1000)
        with plugin._cond:
            entries = list(plugin._queue)
            plugin._queue.clear()
            plugin._queue_bytes = 0
        started = time.thread_time_ns()
        plugin._serialise(entries)
        serialise.append((time.thread_time_ns() - started) / n / 1000)
    print(json.dumps({"hook_us": min(hook), "serialise_us": min(serialise)}))
    plugin._stop.set()
    shutil.rmtree(spool, ignore_errors=True)
    os._exit(0)  # no atexit spooling: the queue is empty, the threads are parked


def hook_figures(venv, variants, workdir, payload_path):
    rows = []
    for v in variants:
        module = workdir / v / "faultline_callback.py" if "@" in v else ROOT / "litellm" / "faultline_callback.py"
        out = subprocess.run([str(venv / "bin" / "python"), __file__, "--hook-bench", str(module), str(payload_path)],
                             capture_output=True, text=True, timeout=600, cwd=workdir,
                             env={**os.environ, "PYTHONPATH": str(module.parent)})
        try:
            figures = json.loads(out.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            rows.append(f"| {v} | failed: {out.stderr[-300:]!r} | |")
            continue
        rows.append(f"| {v} | {figures['hook_us']:.1f} | {figures['serialise_us']:.1f} |")
    return ("Per call, thread CPU µs (best of 7 × 2,000 calls, one captured proxy payload of "
            f"{Path(payload_path).stat().st_size:,} bytes as indented JSON, {loadavg()} load):\n\n"
            "| plugin | success hook on the event loop | serialising it on the sender thread |\n|---|---:|---:|\n"
            + "\n".join(rows) + "\n")


# ---------------------------------------------------------------- profile


def profile(venv, proc, url, clients, seconds, out_dir, name):
    """py-spy on the plugin proxy (GIL holders only) under the closed loop; the plugin's share, by function."""
    py_spy = shutil.which("py-spy", path=str(venv / "bin")) or shutil.which("py-spy")
    if py_spy is None:
        return "py-spy is not installed in the venv (`pip install py-spy`); no profile.\n"
    raw = out_dir / f"bench-plugin-{name.replace('@', '-')}.pyspy.txt"
    spy = subprocess.Popen([py_spy, "record", "--pid", str(proc.pid), "--gil", "--rate", "200", "--format", "raw",
                            "--duration", str(seconds), "--output", str(raw), "--nonblocking"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(1.0)
    asyncio.run(closed_loop(url, clients, seconds - 1))
    out, _ = spy.communicate(timeout=seconds + 60)
    if not raw.exists():
        return f"py-spy failed: {out.decode(errors='replace')[-500:]}\n"
    total = 0
    plugin = 0
    by_fn = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        mine = [f for f in frames if "faultline_callback.py" in f]
        if mine:
            plugin += n
            # the outermost plugin frame: the hook or the background thread's step that owns the time
            by_fn[mine[0].split(" (")[0]] += n
    lines = [f"py-spy, {seconds} s at {clients} clients, GIL-holding samples of the plugin proxy: {total}; "
             f"in faultline_callback.py: {plugin} ({100.0 * plugin / max(total, 1):.2f}%)", ""]
    lines += ["| outermost plugin frame | samples | share of all |", "|---|---:|---:|"]
    for fn, n in by_fn.most_common(12):
        lines.append(f"| `{fn}` | {n} | {100.0 * n / max(total, 1):.2f}% |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- campaign


def med(values):
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--hook-bench", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--venv", default=str(ROOT / "litellm" / ".venv"))
    ap.add_argument("--classpath", default=str(ROOT / "target" / "test-classpath.txt"))
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--closed-seconds", type=float, default=15)
    ap.add_argument("--open-seconds", type=float, default=15)
    ap.add_argument("--rate", type=float, default=0, help="open-loop calls/s; 0: 40%% of the base's warm-up rate")
    ap.add_argument("--profile-seconds", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "target" / "bench-plugin.md"))
    ap.add_argument("--label", default="")
    ap.add_argument("--plugin-ref", default="", help="also run the plugin as it was at this git revision (before/after)")
    args = ap.parse_args()
    if args.sink:
        run_sink(args.sink)
        return
    if args.hook_bench:
        hook_bench(*args.hook_bench)
        return

    if args.plugin_ref:
        VARIANTS.insert(2, f"plugin@{args.plugin_ref}")
    venv = Path(args.venv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-plugin-"))
    procs = []
    try:
        cp = Path(args.classpath).read_text().strip()
        sim_port, sink_port = free_port(), free_port()
        sim = subprocess.Popen(["java", "-Xmx256m", "-XX:+UseSerialGC", "-cp", f"{ROOT}/target/test-classes:{cp}",
                                "io.faultline.simulator.ProviderSimulator", "--port", str(sim_port)],
                               stdout=open(workdir / "simulator.log", "wb"), stderr=subprocess.STDOUT,
                               start_new_session=True)
        procs.append(sim)
        sample = Path(os.environ.get("BENCH_PLUGIN_SAMPLE") or workdir / "sample-event.json")
        sink = subprocess.Popen([sys.executable, __file__, "--sink", str(sink_port)],
                                env={**os.environ, "BENCH_PLUGIN_SAMPLE": str(sample)},
                                stdout=open(workdir / "sink.log", "wb"), stderr=subprocess.STDOUT,
                                start_new_session=True)
        procs.append(sink)
        sim_url, sink_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{sink_port}"
        wait_http(sink_url + "/stats", 30, sink)
        # An unscripted simulator deployment answers every call at once with a success.
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(sim_url + "/_sim/deployments", timeout=2)
                break
            except urllib.error.HTTPError:
                break
            except Exception:
                if time.monotonic() > deadline or sim.poll() is not None:
                    raise RuntimeError("the simulator did not start")
                time.sleep(0.3)
        proxies = {}
        for v in VARIANTS:
            proc, url = start_proxy(venv, workdir, sim_url, sink_url, v)
            procs.append(proc)
            proxies[v] = (proc, url)
        for v, (proc, url) in proxies.items():
            wait_http(url + "/health/liveliness", 400, proc)
            print(f"{v} proxy ready at {url}", flush=True)

        # Warm-up: every proxy's first calls import and build what it caches; the base's rate sets the open loop's.
        warm = {}
        for v, (_, url) in proxies.items():
            warm[v] = asyncio.run(closed_loop(url, args.clients, 5)).summary()
            print(f"warm-up {v}: {warm[v]}", flush=True)
        rate = args.rate or max(5.0, round(0.4 * warm["base"]["rate"] / 5) * 5)

        results = {mode: {v: [] for v in VARIANTS} for mode in ("closed", "open")}
        loads = []
        for r in range(args.rounds):
            k = r % len(VARIANTS)
            order = VARIANTS[k:] + VARIANTS[:k]
            loads.append(loadavg())
            for v in order:
                s = measured(proxies[v][0], closed_loop(proxies[v][1], args.clients, args.closed_seconds))
                results["closed"][v].append(s)
                print(f"round {r + 1} closed {v}: {s} load {loadavg()}", flush=True)
            for v in order:
                s = measured(proxies[v][0], open_loop(proxies[v][1], rate, args.open_seconds))
                results["open"][v].append(s)
                print(f"round {r + 1} open {v} @ {rate}/s: {s} load {loadavg()}", flush=True)

        profile_text = ""
        if args.profile_seconds:
            for v in (v for v in VARIANTS if v.startswith("plugin")):
                profile_text += f"**{v}**: " + profile(venv, proxies[v][0], proxies[v][1], args.clients,
                                                       args.profile_seconds, Path(args.out).parent, v) + "\n"
            print(profile_text, flush=True)

        try:
            hook_text = hook_figures(venv, [v for v in VARIANTS if v.startswith("plugin")], workdir, sample)
        except Exception as e:  # the campaign's figures are worth keeping without these
            hook_text = f"The hook's own figures failed: {e!r}\n"
        print(hook_text, flush=True)
        time.sleep(6)  # the generic_api logger flushes every 5 s, the plugin every second
        delivered = sink_stats(sink_url)
        report = render(args, results, rate, loads, warm, delivered, profile_text + hook_text)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(report)
        print(report)
    finally:
        for p in reversed(procs):
            stop(p)
        if os.environ.get("BENCH_PLUGIN_KEEP") != "1":
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept {workdir}")


def render(args, results, rate, loads, warm, delivered, profile_text):
    out = []
    uname = os.uname()
    out.append(f"### LiteLLM proxy with and without the plugin{(' — ' + args.label) if args.label else ''}")
    out.append("")
    out.append(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores ({uname.machine}, "
               f"{uname.release}), load average at each round's start: {'; '.join(loads)}; at the end: {loadavg()}.")
    out.append(f"{args.rounds} rounds, each proxy in turn (order rotating); closed loop: {args.clients} clients for "
               f"{args.closed_seconds:g} s; open loop: {rate:g} calls/s for {args.open_seconds:g} s (latency from the "
               f"scheduled start). Medians over the rounds; Δ is the median of each round's difference with the base "
               f"proxy measured in the same round (its range over the rounds in brackets). Proxy CPU ms/call: the user + "
               f"system CPU seconds of the proxy's process over the slice, per successful call; on a shared machine "
               f"it is the figure other processes' load disturbs least.")
    out.append("")
    for mode, title in (("closed", "saturation (closed loop)"), ("open", f"fixed rate, {rate:g} calls/s (open loop)")):
        out.append(f"**{title}**")
        out.append("")
        out.append("| proxy | calls/s | p50 ms | p99 ms | errors | proxy CPU ms/call | Δ calls/s vs base | Δ p50 ms "
                   "| Δ p99 ms | Δ CPU ms/call |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        base = results[mode]["base"]
        for v in VARIANTS if base else ():
            rs = results[mode][v]
            row = [v, f"{med([s['rate'] for s in rs]):.1f}", f"{med([s['p50'] for s in rs]):.2f}",
                   f"{med([s['p99'] for s in rs]):.2f}", str(sum(s["errors"] for s in rs)),
                   f"{med([s['cpu_ms'] for s in rs]):.2f}"]
            if v == "base":
                row += ["—", "—", "—", "—"]
            else:
                loss = [100.0 * (s["rate"] / b["rate"] - 1) for s, b in zip(rs, base)]
                dp50 = [s["p50"] - b["p50"] for s, b in zip(rs, base)]
                dp99 = [s["p99"] - b["p99"] for s, b in zip(rs, base)]
                dcpu = [100.0 * (s["cpu_ms"] / b["cpu_ms"] - 1) for s, b in zip(rs, base)]
                row += [f"{med(loss):+.1f}% ({min(loss):+.1f}…{max(loss):+.1f})",
                        f"{med(dp50):+.2f} ({min(dp50):+.2f}…{max(dp50):+.2f})",
                        f"{med(dp99):+.2f} ({min(dp99):+.2f}…{max(dp99):+.2f})",
                        f"{med(dcpu):+.1f}% ({min(dcpu):+.1f}…{max(dcpu):+.1f})"]
            out.append("| " + " | ".join(row) + " |")
        out.append("")
    answered = {v: sum(sum(s["calls"] for s in results[m][v]) for m in results) + warm[v]["calls"] for v in VARIANTS}
    plugins = [v for v in VARIANTS if v.startswith("plugin")]
    out.append(f"Calls the sink received: from the plugin proxies {delivered.get('/api/v1/calls', 0)} in "
               f"{delivered.get('/api/v1/calls#requests', 0)} batches, for "
               f"{sum(answered[v] for v in plugins)} successful calls they answered (plus the profile's calls, if "
               f"any); from generic_api {delivered.get('/generic', 0)} in {delivered.get('/generic#requests', 0)} "
               f"batches, for {answered['generic']}.")
    out.append("")
    if profile_text:
        out.append(profile_text)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
