"""The engine answers strangers with the binding explanation only, and greets bound users."""

from db.repositories import people


def test_stranger_gets_only_binding_explanation(chat):
    out = chat("stranger-1").send("墨脱县进度")
    assert "绑定" in out
    assert "墨脱" not in out


def test_demo_people_exist(app):
    with app.session_factory() as s:
        names = {p.name for p in people.list_people(s)}
    assert "协调员" in names
    assert "墨脱填报人" in names
