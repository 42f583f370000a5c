"""The README's "Webhooks in your trial" verification examples (Python and Node) accept what trialgw signs and refuse
a changed body, another secret and an old timestamp: the examples a developer copies must be right."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from trialgw.webhook_signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, new_secret, signed_headers

ROOT = Path(__file__).resolve().parents[2]
SECTION = re.compile(r"^## Webhooks in your trial\n(.*?)(?=^## )", re.MULTILINE | re.DOTALL)


def example(language: str) -> str:
    section = SECTION.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert section is not None, "README.md has no section 'Webhooks in your trial'"
    (code,) = re.findall(rf"^```{language}\n(.*?)^```", section.group(1), re.MULTILINE | re.DOTALL)
    return str(code)


def cases() -> list[tuple[str, bytes, str, str, bool]]:
    secret = new_secret()
    body = json.dumps({"messageId": "m1", "content": {"text": "héllo"}}, ensure_ascii=False).encode()
    now = int(time.time())
    signed = signed_headers(secret, now, body)
    old = signed_headers(secret, now - 3600, body)
    stamp, signature = signed[TIMESTAMP_HEADER], signed[SIGNATURE_HEADER]
    return [
        (secret, body, stamp, signature, True),
        (secret, body + b" ", stamp, signature, False),
        (new_secret(), body, stamp, signature, False),
        (secret, body, str(now + 1), signature, False),
        (secret, body, old[TIMESTAMP_HEADER], old[SIGNATURE_HEADER], False),
        (secret, body, stamp, signature[:-1], False),
    ]


@pytest.mark.parametrize("language", ["python", "js"])
def test_the_examples_are_five_lines(language: str) -> None:
    assert len([line for line in example(language).splitlines() if line.strip()]) == 5


def test_the_python_example_verifies_trialgw_signatures() -> None:
    namespace: dict[str, Any] = {}
    exec(example("python"), namespace)  # the README's own example
    for secret, body, stamp, signature, valid in cases():
        assert namespace["verify"](secret, body, stamp, signature) is valid


@pytest.mark.skipif(shutil.which("node") is None, reason="Node is not installed")
def test_the_node_example_verifies_trialgw_signatures() -> None:
    runs = [{"secret": s, "body": b.hex(), "timestamp": t, "signature": g, "valid": v} for s, b, t, g, v in cases()]
    script = example("js") + (
        "const runs = JSON.parse(process.argv[1]);\n"
        "console.log(JSON.stringify(runs.map((r) => verify(r.secret, Buffer.from(r.body, 'hex'), r.timestamp, "
        "r.signature))));\n"
    )
    node = shutil.which("node")
    assert node is not None
    answer = subprocess.run(  # node with the README's example and our own data
        [node, "-e", script, json.dumps(runs)], capture_output=True, text=True, check=True, timeout=30
    )
    assert json.loads(answer.stdout) == [run["valid"] for run in runs]
