from server.auth.roles import Role


def test_sign_in_reaches_home(client, make_user, sign_in):
    user = make_user(Role.STAFF)
    sign_in(user)
    response = client.get("/")
    assert response.status_code == 200
    assert user.full_name.split()[0] in response.get_data(as_text=True)
