"""The web side runs without the workers' code: a deployment's web host has no GPU, no
weights and need not have ``workers`` at all; the codec page is built from worker reports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from backend.models import Role
from tests.services.helpers import fake_sources
from tests.utils.factories import PASSWORD, make_user
from tests.utils.worker_reports import report_worker

REPO = Path(__file__).resolve().parents[1]

# Any import of ``workers`` (lazy ones inside functions included) raises ImportError.
SCRIPT = """
import importlib.abc, sys

class NoWorkers(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "workers" or name.startswith("workers."):
            raise ImportError(f"the web side imported {name}")
        return None

sys.meta_path.insert(0, NoWorkers())

from fastapi.testclient import TestClient
from backend.main import create_app

with TestClient(create_app()) as client:
    login = client.post("/api/v1/auth/login", json={"username": "boss", "password": PASSWORD})
    assert login.status_code == 200, login.text
    client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    for url in ("/admin/codecs", "/admin/compression", "/admin/plans"):
        page = client.get(url)
        assert page.status_code == 200, (url, page.text[-2000:])
        print(url, page.text.replace("\\n", " "))
    refused = client.post(
        "/admin/compression", data={"scope": "all", "codecs": ["01"], "settings": ["low"]}
    )
    print("REFUSED", refused.status_code, refused.text.replace("\\n", " "))
assert not [m for m in sys.modules if m == "workers" or m.startswith("workers.")]
print("NO WORKERS IMPORTED")
"""


def test_the_web_app_serves_the_codec_page_with_workers_unimportable(session):
    make_user(session, "boss", Role.admin)
    fake_sources(session, 2)
    report_worker("gpu0@host1", missing={"01": "bmshj2018-hyperprior-3-6d87be32.pth.tar"})
    result = subprocess.run(
        [sys.executable, "-c", f"PASSWORD = {PASSWORD!r}\n" + SCRIPT],
        cwd=REPO,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "NO WORKERS IMPORTED" in out
    codecs_page = next(line for line in out.splitlines() if line.startswith("/admin/codecs "))
    assert 'data-worker="gpu0@host1" data-live="yes"' in codecs_page
    assert "gpu0@host1 is missing bmshj2018-hyperprior-3-6d87be32.pth.tar" in codecs_page
    refused = next(line for line in out.splitlines() if line.startswith("REFUSED "))
    assert refused.startswith("REFUSED 409") and "no live worker offers it" in refused
