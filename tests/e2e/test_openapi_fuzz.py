"""The API reference fuzzed: schemathesis (PyPI) reads /openapi.json and sends a bounded number of generated
requests, valid and invalid, to every documented operation of a live server. Whatever it sends, no answer may be a
5xx and the server must stay up and stop cleanly."""

import json
import os
import re
import subprocess
import sys
import urllib.request

from alibabacloud_opensearch20171225 import models as m


def test_no_generated_request_gets_a_server_error(start_server, tmp_path):
    # Unsigned requests (schemathesis cannot sign as the SDKs do): request checking is off, on loopback.
    server = start_server("--insecure-no-auth")
    client = server.client()
    client.create_app_group(m.CreateAppGroupRequest(name="shop"))
    client.create_function_instance("shop", "pop", m.CreateFunctionInstanceRequest(instance_name="p1", model_type="pop"))
    # Known identifiers, so that the generated requests reach past "not found".
    config = tmp_path / "schemathesis.toml"
    config.write_text('[parameters]\n"path.app" = "shop"\n"path.function" = "pop"\n"path.instance" = "p1"\n')
    schemathesis = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    run = subprocess.run(
        [schemathesis, "--config-file", str(config), "run", f"http://{server.address}/openapi.json",
         "--checks", "not_a_server_error", "--max-examples", "40", "--seed", "1",
         "--phases", "coverage,fuzzing", "--workers", "2", "--request-timeout", "10", "--no-color"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    counts = re.search(r"(\d+) generated, (\d+) passed", report)
    assert counts and counts.group(1) == counts.group(2) and int(counts.group(1)) > 500, report
    # Still up and answering.
    with urllib.request.urlopen(f"http://{server.address}/openapi.json", timeout=10) as answer:
        assert json.load(answer)["openapi"] == "3.0.3"
