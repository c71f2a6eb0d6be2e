"""Data-subject requests from the source page: pixels gone, IIIF 404, annotations kept."""

from __future__ import annotations

from sqlmodel import select

from backend.models import Annotation, AuditEntry, SourceImage, SourceStatus
from backend.services.store import absolute
from tests.utils.factories import make_reconstruction, make_user


def test_anonymise_from_the_page(client, admin, session):
    recon = make_reconstruction(session, seed=3)
    ana = make_user(session, "ana")
    session.add(Annotation(reconstruction_id=recon.id, labeler_id=ana.id, x=5, y=6, w=7, h=8))
    session.commit()
    source = session.get(SourceImage, recon.source_image_id)
    for identifier in (recon.blind_name, source.prepared_sha1, f"{recon.blind_name}-diff"):
        assert client.get(f"/iiif/3/{identifier}/info.json").status_code == 200
    assert client.get(f"/iiif/3/{recon.blind_name}/full/64,/0/default.jpg").status_code == 200
    listing = client.get(f"/admin/sources?q={source.original_sha256[:10]}").text
    assert f"/admin/sources/{source.id}" in listing
    page = client.get(f"/admin/sources/{source.id}").text
    assert recon.blind_name in page and 'id="anonymise-form"' in page

    unconfirmed = client.post(
        f"/admin/sources/{source.id}/anonymise", data={"reference": "ticket 17"}
    )
    assert unconfirmed.status_code == 422 and "Tick the box" in unconfirmed.text
    assert 'value="ticket 17"' in unconfirmed.text
    no_reference = client.post(f"/admin/sources/{source.id}/anonymise", data={"confirm": "yes"})
    assert no_reference.status_code == 422 and "reference" in no_reference.text
    session.expire_all()
    assert session.get(SourceImage, source.id).status == SourceStatus.prepared

    done = client.post(
        f"/admin/sources/{source.id}/anonymise",
        data={"reference": "ticket 17", "confirm": "yes"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and "annotations+are+kept" in done.headers["location"]
    for identifier in (recon.blind_name, source.prepared_sha1, f"{recon.blind_name}-diff"):
        assert client.get(f"/iiif/3/{identifier}/info.json").status_code == 404
    assert client.get(f"/iiif/3/{recon.blind_name}/full/64,/0/default.jpg").status_code == 404
    assert not absolute(recon.png_path).exists() and not absolute(source.original_path).exists()
    session.expire_all()
    assert session.get(SourceImage, source.id).status == SourceStatus.anonymised
    assert session.exec(select(Annotation)).one().w == 7
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "anonymise_source")).one()
    assert entry.actor_id == admin.id and entry.detail["reference"] == "ticket 17"
    after = client.get(f"/admin/sources/{source.id}").text
    assert 'id="source-anonymised"' in after and "ticket 17" in after and "boss" in after


def test_unknown_source(client, admin):
    assert client.get("/admin/sources/4242").status_code == 404
    response = client.post(
        "/admin/sources/4242/anonymise", data={"reference": "x", "confirm": "yes"}
    )
    assert response.status_code == 404 and "No source image #4242" in response.text
