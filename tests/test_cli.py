"""The ``sclic`` command line."""

from pathlib import Path

from PIL import Image
from sqlmodel import select
from typer.testing import CliRunner

from backend.models import ApiToken, Role, User
from backend.services.auth import user_for_api_token
from tests.utils.factories import photo
from workers.cli import app  # the web side's commands and the codecs' (`sclic`)

runner = CliRunner()


def test_users_create_from_stdin(session):
    result = runner.invoke(
        app,
        ["users", "create", "alice", "--role", "admin", "--password-stdin"],
        input="correct horse\n",
    )
    assert result.exit_code == 0, result.output
    user = session.exec(select(User).where(User.username == "alice")).one()
    assert user.role == Role.admin and not user.is_demo


def test_users_create_refuses_bad_input(session):
    cases = [
        (["users", "create", "bob", "--role", "wizard", "--password-stdin"], "x\n"),
        (["users", "create", "bad name!", "--role", "labeler", "--password-stdin"], "x\n"),
        (["users", "create", "bob", "--role", "labeler", "--password-stdin"], "\n"),
    ]
    for args, stdin in cases:
        result = runner.invoke(app, args, input=stdin)
        assert result.exit_code == 2, (args, result.output)
    assert session.exec(select(User)).all() == []
    runner.invoke(
        app, ["users", "create", "bob", "--role", "labeler", "--password-stdin"], input="pw\n"
    )
    again = runner.invoke(
        app, ["users", "create", "bob", "--role", "labeler", "--password-stdin"], input="pw\n"
    )
    assert again.exit_code == 2 and "already exists" in again.output


def test_tokens_create_prints_a_working_token(session):
    runner.invoke(
        app, ["users", "create", "rita", "--role", "researcher", "--password-stdin"], input="pw\n"
    )
    result = runner.invoke(app, ["tokens", "create", "rita", "--name", "notebook"])
    assert result.exit_code == 0
    token = result.stdout.strip().splitlines()[-1]
    assert user_for_api_token(session, token).username == "rita"
    stored = session.exec(select(ApiToken)).one()
    assert token not in stored.token_hash  # only the hash is kept
    assert runner.invoke(app, ["tokens", "create", "nobody"]).exit_code == 2


def test_codecs_list_says_what_is_missing(data_dir):
    result = runner.invoke(app, ["codecs", "list"])
    assert result.exit_code == 0
    assert "bmshj2018-hyperprior-3-6d87be32.pth.tar" in result.stdout
    assert "SCLIC_JPEGAI_DIR" in result.stdout
    assert "01 missing:" in result.stdout and "90 missing:" not in result.stdout
    # Family and where each codec's weights or program come from.
    assert "hyperprior" in result.stdout and "jpeg-ai" in result.stdout
    assert "90 source: ScaleHyperprior (N=32, M=64) trained by" in result.stdout


def test_compress_one_off(data_dir, tmp_path: Path):
    src = tmp_path / "coffee.png"
    Image.fromarray(photo("coffee")).save(src)
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["compress", "--codec", "91", "--setting", "low", "--out", str(out), str(src)]
    )
    assert result.exit_code == 0, result.output
    assert "bpp 0.2" in result.stdout and "PSNR" in result.stdout
    assert len(list(out.rglob("*.png"))) == 1
    bad = runner.invoke(app, ["compress", "--codec", "77", str(src)])
    assert bad.exit_code == 2
    missing = runner.invoke(app, ["compress", "--codec", "91", str(tmp_path / "nope.png")])
    assert missing.exit_code == 2 and "no such file" in missing.output


def test_serve_runs_tasks_in_process_only_without_redis(data_dir, monkeypatch):
    """Embedded, `sclic serve` serves the composition root's app (tasks in-process, the
    in-process worker reporting its codecs); with REDIS_URL the web side's app alone."""
    import backend.cli
    from backend.core.config import get_settings
    from workers.cli import compose

    served: list[list[str]] = []
    monkeypatch.setattr(backend.cli.os, "execvp", lambda _program, argv: served.append(argv))
    monkeypatch.setattr(backend.cli, "_app_factory", "backend.main:create_app")
    for redis_url in ("redis://127.0.0.1:6379/9", None):
        if redis_url:
            monkeypatch.setenv("REDIS_URL", redis_url)
        else:
            monkeypatch.delenv("REDIS_URL", raising=False)
        get_settings.cache_clear()
        result = runner.invoke(compose(), ["serve", "--no-migrate", "--port", "8123"])
        assert result.exit_code == 0, result.output
    factories = [argv[argv.index("--factory") - 1] for argv in served]
    assert factories == ["backend.main:create_app", "workers.embedded:create_app"]
