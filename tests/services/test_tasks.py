"""Enqueueing by task name: to Celery's queues with REDIS_URL, in-process through the runner the
composition root installs, and a loud refusal when neither can run the work."""

from __future__ import annotations

import json
import os

import pytest

from backend.core.config import get_settings
from backend.services import tasks


def test_without_redis_or_a_runner_enqueueing_fails_loudly(monkeypatch, caplog):
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    monkeypatch.setattr(tasks, "_local_runner", None)
    with pytest.raises(tasks.NoTaskRunnerError, match="no in-process task runner"):
        tasks.enqueue("make_tiles", 1)
    assert "cannot run background task make_tiles" in caplog.text
    with pytest.raises(tasks.NoTaskRunnerError):
        tasks.run_in_process("compress", 1)


def test_embedded_tasks_run_through_the_installed_runner(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    calls: list[tuple[str, tuple[object, ...]]] = []
    monkeypatch.setattr(tasks, "_local_runner", lambda name, args: calls.append((name, args)))
    tasks.enqueue("measure", 7)
    tasks.drain_local_tasks()
    assert calls == [("measure", (7,))]


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
def test_with_redis_a_task_goes_by_name_to_its_queue(data_dir):
    import redis

    get_settings.cache_clear()
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.delete("gpu", "cpu")
    try:
        assert tasks.enqueue("compress_batch", [3, 4]) is None
        assert tasks.enqueue("make_tiles", 5) is None
        [gpu] = client.lrange("gpu", 0, -1)
        [cpu] = client.lrange("cpu", 0, -1)
        assert json.loads(gpu)["headers"]["task"] == "workers.tasks.compress_batch"
        assert json.loads(cpu)["headers"]["task"] == "workers.tasks.make_tiles"
        assert json.loads(gpu)["headers"]["argsrepr"] == "[[3, 4]]"
    finally:
        client.delete("gpu", "cpu")
