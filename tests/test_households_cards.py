"""Card sheets: the PDF of a grid's door cards, through the API and its command."""

import pytest
from testsupport import assert_problem, pdf_text

from app.auth.models import ADMIN, INSPECTOR, STOREKEEPER

# Card sheets ---------------------------------------------------------------------------


def test_cards_pdf_of_a_grid_holds_every_code_of_the_grid(client, admin_headers, roster, grids):
    east, west = grids

    response = client.get(
        "/api/v1/households/cards.pdf", query_string={"grid_id": east.id}, headers=admin_headers
    )

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    text = pdf_text(response.data)
    for code in ("MZ-01-0001", "MZ-01-0002", "MZ-01-0003"):
        assert code in text
    assert "MZ-02-0001" not in text


def test_cards_pdf_of_chosen_households(client, admin_headers, roster):
    ids = f"{roster[0].id},{roster[3].id}"

    response = client.get(
        "/api/v1/households/cards.pdf", query_string={"ids": ids}, headers=admin_headers
    )

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert "MZ-01-0001" in text and "MZ-02-0001" in text
    assert "MZ-01-0002" not in text


def test_cards_pdf_leaves_out_moved_households(client, admin_headers, patch, roster, grids):
    patch(roster[1], {"status": "moved"})

    response = client.get(
        "/api/v1/households/cards.pdf", query_string={"grid_id": grids[0].id}, headers=admin_headers
    )

    text = pdf_text(response.data)
    assert "MZ-01-0001" in text and "MZ-01-0003" in text
    assert "MZ-01-0002" not in text


@pytest.mark.parametrize("query", [{}, {"ids": "1,x"}, {"grid_id": "east"}])
def test_cards_pdf_needs_a_grid_or_ids(client, admin_headers, roster, query):
    response = client.get("/api/v1/households/cards.pdf", query_string=query, headers=admin_headers)

    assert_problem(response, 422, "validation_error")


def test_cards_pdf_of_an_empty_grid_is_422(client, admin_headers, make_grid):
    empty = make_grid("空网格")

    response = client.get(
        "/api/v1/households/cards.pdf", query_string={"grid_id": empty.id}, headers=admin_headers
    )

    assert_problem(response, 422, "validation_error")


def test_cards_pdf_never_prints_another_villages_households(
    client, make_user, token_for, other_village, roster, grids
):
    headers = token_for(make_user(ADMIN, of=other_village))

    by_grid = client.get(
        "/api/v1/households/cards.pdf", query_string={"grid_id": grids[0].id}, headers=headers
    )
    by_ids = client.get(
        "/api/v1/households/cards.pdf", query_string={"ids": str(roster[0].id)}, headers=headers
    )

    assert_problem(by_grid, 404, "not_found")
    assert "ids" in assert_problem(by_ids, 422, "validation_error")["errors"]
    assert "马秀英" not in by_ids.get_data(as_text=True)


@pytest.mark.parametrize("role", [INSPECTOR, STOREKEEPER])
def test_only_the_admin_prints_cards(client, make_user, token_for, roster, grids, role):
    response = client.get(
        "/api/v1/households/cards.pdf",
        query_string={"grid_id": grids[0].id},
        headers=token_for(make_user(role)),
    )

    assert_problem(response, 403, "forbidden")


def test_flask_households_cards_writes_the_grids_pdf(runner, roster, tmp_path):
    output = tmp_path / "cards.pdf"

    result = runner.invoke(args=["households", "cards", "--grid", "1", "-o", str(output)])

    assert result.exit_code == 0, result.output
    assert str(output) in result.output
    text = pdf_text(output.read_bytes())
    assert all(code in text for code in ("MZ-01-0001", "MZ-01-0002", "MZ-01-0003"))
    assert "MZ-02-0001" not in text


def test_flask_households_cards_names_the_village_when_there_are_several(
    runner, roster, make_household, other_village, tmp_path
):
    make_household(of=other_village, name="李四")
    output = tmp_path / "cards.pdf"

    unnamed = runner.invoke(args=["households", "cards", "--grid", "1", "-o", str(output)])
    named = runner.invoke(
        args=["households", "cards", "--village", "LZ", "--grid", "1", "-o", str(output)]
    )

    assert unnamed.exit_code != 0
    assert "--village" in unnamed.output
    assert "Traceback" not in unnamed.output
    assert named.exit_code == 0, named.output
    text = pdf_text(output.read_bytes())
    assert "LZ-01-0001" in text
    assert "MZ-01-0001" not in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", "9"], "no grid 9"),
        (["--village", "XX", "--grid", "1"], "XX"),
        ([], "grid"),
    ],
)
def test_flask_households_cards_fails_readably(runner, roster, tmp_path, args, message):
    output = tmp_path / "cards.pdf"

    result = runner.invoke(args=["households", "cards", *args, "-o", str(output)])

    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert not output.exists()


def test_flask_households_cards_needs_base_url(app, runner, roster, tmp_path):
    app.config["BASE_URL"] = None
    output = tmp_path / "cards.pdf"

    result = runner.invoke(args=["households", "cards", "--grid", "1", "-o", str(output)])

    assert result.exit_code != 0
    assert "BASE_URL" in result.output
    assert "Traceback" not in result.output
    assert not output.exists()
