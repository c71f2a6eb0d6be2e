"""``sclic agreement compute`` run through Typer's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.agreement.cli import agreement_app

IMAGES = "image,width,height\nfig5,200,100\nempty,64,64\n"
BOXES = (
    "image,labeler,x,y,w,h\n"
    "fig5,R,120,10,30,20\nfig5,G,130,10,30,20\nfig5,B,140,10,30,20\n"
    "fig5,R,10,60,40,30\nfig5,B,50,70,20,20\n"
)


@pytest.fixture
def files(tmp_path: Path) -> list[str]:
    boxes = tmp_path / "BOXES.csv"
    images = tmp_path / "IMAGES.csv"
    boxes.write_text(BOXES, encoding="utf-8")
    images.write_text(IMAGES, encoding="utf-8")
    return ["--boxes", str(boxes), "--images", str(images)]


def run(*args: str):
    return CliRunner().invoke(agreement_app, ["compute", *args])


def test_json_output(files: list[str]) -> None:
    result = run(*files, "--grid", "1,2", "--bootstrap", "100", "--seed", "3")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [d["n"] for d in data] == [1, 2]
    assert [d["units"] for d in data] == [1, 4]
    two = data[1]
    # fig5 reproduces appendix Figure 5; the empty image adds four complete negatives.
    assert two["n_units"] == 8
    assert two["c_neg"]["value"] == pytest.approx(75.0)
    assert two["c_pos"]["value"] == pytest.approx(12.5)
    assert two["p_pos"]["value"] == pytest.approx(12.5)
    assert two["p_neg"]["value"] == pytest.approx(0.0)
    assert two["c_total"]["value"] == pytest.approx(87.5)
    assert set(two["alpha"]) == {"value", "low", "high"}
    assert two["alpha"]["low"] <= two["alpha"]["value"] <= two["alpha"]["high"]
    assert two["seed"] == 3 and two["bootstrap"] == 100 and two["rule"] == "paper"
    assert data[0]["c_pos"]["value"] == pytest.approx(50.0)


def test_json_is_the_default_and_covers_the_five_grids(files: list[str]) -> None:
    result = run(*files, "--bootstrap", "0")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [d["units"] for d in data] == [1, 4, 16, 64, 256]
    assert data[0]["alpha"]["low"] is None


def test_labelers_option_adds_a_labeler_without_boxes(files: list[str]) -> None:
    plain = json.loads(run(*files, "--grid", "2", "--bootstrap", "0").stdout)[0]
    more = json.loads(run(*files, "--grid", "2", "--bootstrap", "0", "--labelers", "X").stdout)[0]
    # With X who marked nothing, the top-right unit falls from complete to partial positive.
    assert plain["c_pos"]["value"] == pytest.approx(12.5)
    assert more["c_pos"]["value"] == pytest.approx(0.0)
    assert more["p_pos"]["value"] == pytest.approx(12.5)
    assert more["p_neg"]["value"] == pytest.approx(12.5)


def test_rule_option(files: list[str]) -> None:
    result = run(*files, "--grid", "2", "--rule", "largest-share", "--bootstrap", "0")
    assert json.loads(result.stdout)[0]["rule"] == "largest-share"


def test_table_output(files: list[str]) -> None:
    result = run(*files, "--grid", "1,2", "--bootstrap", "200", "--format", "table")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for heading in ("Units per image", "Total", "Positive only", "Krippendorff"):
        assert heading in out
    assert "87.5" in out and "12.5" in out
    assert "3 labelers, 2 images" in out and "seed 0" in out
    rows = [line for line in out.splitlines() if line.strip().startswith(("│ ", "┃"))]
    assert any(line.split("│")[1].strip() == "4" for line in rows if "│" in line)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--grid", "1,x"], "--grid: 'x' is not an integer"),
        (["--grid", "0"], "grid sizes must be positive"),
        (["--bootstrap", "-5"], "bootstrap must be a non-negative integer"),
    ],
)
def test_bad_options_exit_2(files: list[str], extra: list[str], message: str) -> None:
    result = run(*files, *extra)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_bad_csv_exits_2_with_the_row(tmp_path: Path, files: list[str]) -> None:
    bad = tmp_path / "BAD.csv"
    bad.write_text("image,labeler,x,y,w,h\nfig5,R,1,1,5,5\nfig5,G,1,1,5,zero\n", encoding="utf-8")
    result = run("--boxes", str(bad), files[2], files[3])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")
    assert f"{bad}, row 3: h is not a number" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_missing_file_exits_2(tmp_path: Path, files: list[str]) -> None:
    result = run("--boxes", str(tmp_path / "absent.csv"), files[2], files[3])
    assert result.exit_code == 2
    assert "cannot be read" in result.stderr


def test_unknown_rule_is_a_usage_error(files: list[str]) -> None:
    assert run(*files, "--rule", "majority").exit_code == 2
