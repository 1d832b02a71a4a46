"""The web app's first pages: home, login, and a user's own balances."""

import pytest

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_visitor_sees_the_home_page_with_a_login_link(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Log in" in response.content


def test_a_user_logs_in_by_email_and_sees_only_its_own_balances(client, user, other_user, fund):
    fund(user, "123.45")
    fund(other_user, "999")
    response = client.post("/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert "123.45" in page
    assert "999" not in page


def test_a_wrong_password_shows_a_form_error(client, user):
    response = client.post("/login/", {"username": user.email, "password": "nope"})
    assert response.status_code == 200
    assert "correct email" in response.content.decode()
