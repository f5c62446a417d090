def test_login_and_inbox(client, world):
    response = client.login("tanaka", follow=True)
    assert response.status_code == 200
    assert "受信箱" in response.get_data(as_text=True) or "Inbox" in response.get_data(as_text=True)
