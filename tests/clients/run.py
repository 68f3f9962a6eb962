"""Starts `execgate up` (gateway + bundled runner) with the shipped configs on
free ports, then runs the real client tests (piston.mjs with the npm
piston-client, judge0_sdk.py with the PyPI judge0 SDK) against it.

usage: run.py EXECGATE_BINARY CLIENTS_DIR   (CLIENTS_DIR: node_modules and venv,
made by scripts/deps.sh)"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def replaced(text, old, new):
    """`text` with `old` replaced; a shipped config that changed shape fails loudly."""
    if old not in text:
        sys.exit(f"test-clients: {old!r} is no longer in the shipped config")
    return text.replace(old, new)


def configs(workdir, proxy, admin, runner):
    gateway = open(os.path.join(ROOT, "config/execgate.toml")).read()
    for old, new in [
        ("127.0.0.1:8080", f"127.0.0.1:{proxy}"),
        ("127.0.0.1:9090", f"127.0.0.1:{admin}"),
        ("127.0.0.1:2358", f"127.0.0.1:{runner}"),
        ('"../rules/', f'"{ROOT}/rules/'),
        ('"../state/', '"state/'),
        # Each client makes more runs than the anonymous tier's windows allow.
        ('rate = "3/10s"', 'rate = "1000/10s"'),
        ('rate = "10/1h"', 'rate = "1000/1h"'),
        ('rate = "50/1d"', 'rate = "1000/1d"'),
        # Both clients share one address: their refused and timed-out runs
        # together would earn it an anomaly ban.
        ("ban_threshold = 20.0", "ban_threshold = 1000.0"),
    ]:
        gateway = replaced(gateway, old, new)
    runner_config = open(os.path.join(ROOT, "config/runner.toml")).read()
    runner_config = replaced(runner_config, "127.0.0.1:2358", f"127.0.0.1:{runner}")
    runner_config = replaced(
        runner_config, 'name = "execgate-runner"', f'name = "execgate-clients-{os.getpid()}"'
    )
    with open(os.path.join(workdir, "execgate.toml"), "w") as f:
        f.write(gateway)
    with open(os.path.join(workdir, "runner.toml"), "w") as f:
        f.write(runner_config)


def wait_ready(base, up):
    """Until a Python run goes through (the runner builds its warm pool first)."""
    deadline = time.monotonic() + 120
    body = b'{"language":"python","version":"*","files":[{"content":"print(1)"}]}'
    while time.monotonic() < deadline:
        if up.poll() is not None:
            sys.exit(f"test-clients: execgate up exited ({up.returncode})")
        try:
            req = urllib.request.Request(f"{base}/api/v2/execute", data=body, method="POST")
            req.add_header("content-type", "application/json")
            with urllib.request.urlopen(req, timeout=30) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    sys.exit("test-clients: execgate up did not run code within 120 s")


def main():
    binary, clients = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    workdir = tempfile.mkdtemp(prefix="execgate-clients-")
    proxy, admin, runner = free_port(), free_port(), free_port()
    configs(workdir, proxy, admin, runner)
    log = open(os.path.join(workdir, "up.log"), "w")
    up = subprocess.Popen(
        [binary, "up", "--config", "execgate.toml", "--runner-config", "runner.toml"],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    failed = []
    try:
        base = f"http://127.0.0.1:{proxy}"
        wait_ready(base, up)
        env = dict(os.environ, EXECGATE_URL=base, JUDGE0_SUPPRESS_PREVIEW_WARNING="1")
        # piston-client is an ES module: resolved from node_modules beside the script.
        shutil.copy(os.path.join(HERE, "piston.mjs"), clients)
        tests = [
            ["node", os.path.join(clients, "piston.mjs")],
            [os.path.join(clients, "venv/bin/python"), os.path.join(HERE, "judge0_sdk.py")],
        ]
        for test in tests:
            if subprocess.run(test, env=env, timeout=300).returncode != 0:
                failed.append(os.path.basename(test[-1]))
    finally:
        up.terminate()
        try:
            up.wait(timeout=30)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait()
    if failed:
        log.flush()
        print(open(os.path.join(workdir, "up.log")).read()[-4000:], file=sys.stderr)
        sys.exit(f"test-clients: failed: {', '.join(failed)} (logs in {workdir})")
    shutil.rmtree(workdir, ignore_errors=True)
    print("test-clients: piston-client and judge0 SDK pass against execgate up")


main()
