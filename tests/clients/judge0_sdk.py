"""The official judge0 Python SDK, unchanged, against execgate up
(EXECGATE_URL): judge0.run, async_execute + wait, a batch, a Time Limit
Exceeded verdict, and a refusal read through the SDK's error path."""

import os
import sys

import httpx
import judge0
from judge0 import Client, Status, Submission


def check(what, ok, value):
    if not ok:
        print(f"judge0 SDK: {what} failed: {value!r}", file=sys.stderr)
        sys.exit(1)
    print(f"judge0 SDK: {what}: ok")


def unexpected_refusal(kind, err, tb):
    """An HTTP error the test did not ask for: show the gateway's answer."""
    if isinstance(err, httpx.HTTPStatusError):
        print(f"judge0 SDK: refused: {err.response.text}", file=sys.stderr)
    sys.__excepthook__(kind, err, tb)


sys.excepthook = unexpected_refusal
client = Client(os.environ["EXECGATE_URL"])

done = judge0.run(client=client, source_code="print(6 * 7)", language=judge0.PYTHON)
check("judge0.run", done.status == Status.ACCEPTED and done.stdout == "42\n", vars(done))

pending = judge0.async_execute(
    client=client, source_code="print(input()[::-1])", stdin="olleh", language=judge0.PYTHON
)
later = judge0.wait(client=client, submissions=pending)
check("async_execute + wait", later.stdout == "hello\n", vars(later))

batch = judge0.run(
    client=client,
    submissions=[
        Submission(source_code="print('one')", language=judge0.PYTHON),
        Submission(
            source_code='#include <stdio.h>\nint main(void) { puts("two"); return 0; }\n',
            language=judge0.C,
        ),
    ],
)
outputs = [s.stdout for s in batch]
check("batch", outputs == ["one\n", "two\n"], outputs)

slow = judge0.run(
    client=client,
    source_code="while True:\n    pass\n",
    language=judge0.PYTHON,
    cpu_time_limit=1,
    wall_time_limit=2,
)
check("Time Limit Exceeded", slow.status == Status.TIME_LIMIT_EXCEEDED, vars(slow))

try:
    judge0.run(client=client, source_code='__import__("o" + "s").system("id")', language=judge0.PYTHON)
    check("refused run", False, "the run was not refused")
except httpx.HTTPStatusError as err:
    body = err.response.json()
    check(
        "refused run",
        err.response.status_code == 403 and body["message"].startswith("code_rejected"),
        body,
    )
