async def test_upsert_and_read(client):
    response = await client.post(
        "/v1/contacts",
        json={"external_id": "crm-1", "email": "Sato@Example.JP", "phone": "090-1234-5678"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["phone"] == "+819012345678"
    got = await client.get(f"/v1/contacts/{body['id']}")
    assert got.json()["email"] == "Sato@example.jp"
