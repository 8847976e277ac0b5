"""Chinese and English: the pages' language and its switch, each UI text translated, compiled."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from babel.support import Translations
from testsupport import TEST_CONFIG, csrf_token, log_in

from app import create_app

ROOT = Path(__file__).resolve().parent.parent
ZH = ROOT / "app/translations/zh_Hans_CN/LC_MESSAGES/messages.po"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def source_messages() -> set[str]:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        ROOT / "app", method_map=method_map, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_ui_text_is_in_the_chinese_catalogue():
    with ZH.open("rb") as handle:
        catalogue = read_po(handle)
    missing = source_messages() - {m.id for m in catalogue if m.id}
    assert not missing, f"run `make messages` and translate: {sorted(missing)}"


def test_every_chinese_entry_is_translated():
    with ZH.open("rb") as handle:
        catalogue = read_po(handle)
    untranslated = [m.id for m in catalogue if m.id and (not m.string or m.fuzzy)]
    assert not untranslated, f"translate in {ZH.name}: {untranslated}"


def test_pages_show_a_refusal_in_the_readers_language():
    from testsupport import TEST_CONFIG

    from app import create_app
    from app.errors import InsufficientPoints, ValidationFailed, page_message

    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    refusal = InsufficientPoints("The household does not have enough points.")

    with app.test_request_context("/"):
        assert page_message(refusal) == "积分不足。"
    with app.test_request_context("/?lang=en"):
        assert page_message(refusal) == "Not enough points."
    with app.test_request_context("/"):  # a field's own message is kept
        assert page_message(ValidationFailed("Give a reason.")) == "Give a reason."


# A deploy that forgot `pybabel compile` was English everywhere, silently (issue 33).


def test_the_app_refuses_to_start_without_the_compiled_chinese_catalogue(tmp_path):
    uncompiled = tmp_path / "zh_Hans_CN" / "LC_MESSAGES"
    uncompiled.mkdir(parents=True)
    shutil.copy(ZH, uncompiled)
    config = {**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://"}

    with pytest.raises(RuntimeError, match=r"catalogue \(messages.mo\) is missing.*pybabel"):
        create_app({**config, "BABEL_TRANSLATION_DIRECTORIES": str(tmp_path)})


def test_the_package_build_compiles_the_catalogues_into_it(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(
        ROOT / "app", source / "app", ignore=shutil.ignore_patterns("*.mo", "__pycache__")
    )

    subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path / "lib")],
        cwd=source,
        check=True,
        capture_output=True,
    )

    built = tmp_path / "lib" / "app" / "translations"
    chinese = Translations.load(str(built), ["zh_Hans_CN"])
    assert isinstance(chinese, Translations)
    assert chinese.gettext("Wrong username or password.") == "用户名或密码错误。"
    assert (built / "en" / "LC_MESSAGES" / "messages.mo").exists()
    config = {**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    create_app({**config, "BABEL_TRANSLATION_DIRECTORIES": str(built)})  # starts


# The pages' language -------------------------------------------------------------------


def test_login_page_is_chinese_by_default(client):
    response = client.get("/login")

    assert response.status_code == 200
    assert "登录" in response.text
    assert "绿色积分" in response.text
    assert "Log in" not in response.text


def test_lang_query_shows_the_login_page_in_english(client):
    response = client.get("/login?lang=en")

    assert "Log in" in response.text
    assert "Green Points" in response.text


def test_language_switch_is_remembered(client):
    assert "登录" in client.get("/login").text

    response = client.get("/lang/en")

    assert response.status_code == 302
    assert "Log in" in client.get("/login").text
    client.get("/lang/zh_CN")
    assert "登录" in client.get("/login").text


def test_language_switch_goes_back_to_the_local_page(client):
    response = client.get("/lang/en?next=/login")

    assert response.status_code == 302
    assert response.headers["Location"] == "/login"


@pytest.mark.parametrize("target", ["https://evil.example", "//evil.example", "/\\evil.example"])
def test_language_switch_never_redirects_off_site(client, target):
    response = client.get("/lang/en", query_string={"next": target})

    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_logout_keeps_the_chosen_language(client, admin):
    client.get("/lang/en")
    log_in(client, "admin")
    client.post("/logout", data={"csrf_token": csrf_token(client)})

    assert "Log in" in client.get("/login").text
