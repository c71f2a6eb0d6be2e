"""Progress dashboard page, its htmx refresh, and the CSV progress file."""

from __future__ import annotations

import csv
import io

from sqlmodel import select

from backend.models import Batch
from backend.services import assignments
from tests.services.helpers import fake_study
from tests.utils.factories import make_user


def test_dashboard_page_fragment_and_csv(client, admin, session):
    fake_study(session, n_sources=20, batch_size=8)
    ana = make_user(session, "ana")
    first = session.exec(select(Batch).order_by(Batch.id)).first()
    assignments.assign(session, first.id, ana.id, None)
    page = client.get("/admin/dashboard").text
    assert 'id="dash-bulks"' in page and 'id="dash-labelers"' in page and "<html" in page
    assert page.count('data-batch-id="') == 20
    fragment = client.get("/admin/dashboard", headers={"HX-Request": "true"}).text
    assert "<html" not in fragment and 'id="dash-batches"' in fragment
    one = client.get(f"/admin/dashboard?bulk={first.bulk_id}").text
    assert one.count('data-batch-id="') == 10
    response = client.get("/admin/dashboard.csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 20 and sum(r["labeler"] == "ana" for r in rows) == 1
    assert client.get("/admin/dashboard?bulk=abc").status_code == 422
