"""The one registry of typed codec entries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from workers.codecs.errors import NotImplementedCodecError
from workers.codecs.registry import build_codec, entries, get_entry, registry_table


def test_ids_and_paper_codecs() -> None:
    ids = [e.codec_id for e in entries()]
    assert ids[:6] == ["01", "02", "03", "04", "05", "06"]
    assert {"90", "91", "92"} <= set(ids)
    assert [get_entry(f"0{i}").paper for i in range(1, 7)] == [f"C{i}" for i in range(1, 7)]
    for entry in entries():
        assert set(entry.settings) == {"low", "high"}


def test_paper_settings() -> None:
    c1, c2, c6 = get_entry("01"), get_entry("02"), get_entry("06")
    assert (c1.setting("low").level, c1.setting("high").level) == (3, 7)
    assert (c2.setting("low").target_bpp, c2.setting("high").target_bpp) == (0.25, 0.75)
    assert c2.setting("low").rate_matched
    assert (c6.setting("low").level, c6.setting("high").level) == (25, 75)
    for cid in ("91", "92"):
        assert get_entry(cid).setting("high").target_bpp == 0.75


@pytest.mark.parametrize("codec_id", ["03", "04", "05"])
def test_later_codecs_say_not_implemented(codec_id: str, tmp_path: Path) -> None:
    row = next(r for r in registry_table(tmp_path) if r["id"] == codec_id)
    assert not row["available"] and not row["implemented"]
    assert "not implemented yet" in row["missing"]
    with pytest.raises(NotImplementedCodecError, match="not implemented yet"):
        build_codec(codec_id, tmp_path)


def test_rows_for_the_cli(tmp_path: Path) -> None:
    rows = registry_table(tmp_path)
    assert {"id", "name", "low", "high", "available", "missing", "source"} <= set(rows[0])
    c1 = rows[0]
    assert not c1["available"] and str(tmp_path) in c1["missing"]
    assert next(r for r in rows if r["id"] == "91")["available"]


def test_web_server_does_not_import_the_codec_stack() -> None:
    """The API image installs no ``codecs`` extra: the app and the registry must load without
    torch, CompressAI or OpenCV."""
    code = (
        "import sys, workers.codecs as c, backend.main as m; m.create_app(); c.registry_table(); "
        "import backend.views.admin.compression, backend.services.plans; "
        "heavy = {'torch', 'compressai', 'cv2', 'torchvision'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[3])
