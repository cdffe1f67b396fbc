"""Bad data gets one DataValidationError naming the file, the kind of problem and the first offending rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tables import DataValidationError, ProblemKind, load_table
from tests.tables.conftest import SCHEMA_TOML, make_frame, write_csv


def refuse(schema_path: Path, frame: pd.DataFrame, path: Path) -> DataValidationError:
    with pytest.raises(DataValidationError) as info:
        load_table(schema_path, write_csv(frame, path))
    assert str(path) in str(info.value)
    return info.value


def only(error: DataValidationError, kind: ProblemKind):
    matching = [p for p in error.problems if p.kind is kind]
    assert len(matching) == 1, error
    return matching[0]


def test_every_kind_of_cell_problem_is_reported_with_rows(schema_path: Path, tmp_path: Path) -> None:
    frame = make_frame(rows=30)
    frame.loc[2, "tax_paid"] = "-17.5"  # data row 3: out of range (protected)
    frame.loc[4, "tax_paid"] = "12,5"  # data row 5: not a float (protected)
    frame.loc[6, "employees"] = ""  # data row 7: null in a non-nullable column
    frame.loc[7, "employees"] = "3.5"  # data row 8: not an int
    frame.loc[8, "rating"] = "AA"  # data row 9: not an allowed value (protected)
    frame.loc[9, "a_level"] = "perhaps"  # data row 10: not a bool (public)
    frame.loc[10, "penalties"] = "51"  # data row 11: out of range (public)
    frame.loc[11, "established"] = "2021-02-30"  # data row 12: not a date (public)
    frame.loc[12, "established"] = "1979-12-31"  # data row 13: before the minimum (public)
    frame.loc[13, "credit_code"] = frame.loc[13, "credit_code"][:17] + "0"  # row 14: bad check character
    frame.loc[14, "credit_code"] = frame.loc[1, "credit_code"]  # rows 2 and 15: duplicate
    frame.loc[15, "credit_code"] = ""  # data row 16: missing id
    error = refuse(schema_path, frame, tmp_path / "bad.csv")
    expected = {
        (ProblemKind.OUT_OF_RANGE, "tax_paid"): (3,),
        (ProblemKind.BAD_TYPE, "tax_paid"): (5,),
        (ProblemKind.NULL_NOT_ALLOWED, "employees"): (7,),
        (ProblemKind.BAD_TYPE, "employees"): (8,),
        (ProblemKind.NOT_ALLOWED, "rating"): (9,),
        (ProblemKind.BAD_TYPE, "a_level"): (10,),
        (ProblemKind.OUT_OF_RANGE, "penalties"): (11,),
        (ProblemKind.BAD_TYPE, "established"): (12,),
        (ProblemKind.OUT_OF_RANGE, "established"): (13,),
        (ProblemKind.INVALID_ID, "credit_code"): (14,),
        (ProblemKind.DUPLICATE_ID, "credit_code"): (2, 15),
        (ProblemKind.MISSING_ID, "credit_code"): (16,),
    }
    assert {(p.kind, p.column): p.rows for p in error.problems} == expected
    message = str(error)
    assert "value out of range [0, 1e12]" in message
    # Protected values never appear; public values and ids do, to help the operator.
    for secret in ("-17.5", "12,5", "3.5", "AA"):
        assert secret not in message
    for public in ("perhaps", "51", "2021-02-30", "1979-12-31", frame.loc[1, "credit_code"]):
        assert public in message
    assert "check character at position 18" in message


def test_rows_listed_are_the_first_five_and_the_rest_counted(schema_path: Path, tmp_path: Path) -> None:
    frame = make_frame(rows=40)
    bad_rows = [3, 8, 9, 15, 21, 22, 30, 39]
    for r in bad_rows:
        frame.loc[r - 1, "employees"] = "-1"
    problem = only(refuse(schema_path, frame, tmp_path / "bad.csv"), ProblemKind.OUT_OF_RANGE)
    assert problem.rows == tuple(bad_rows[:5]) and problem.count == len(bad_rows)
    assert "and 3 more" in problem.describe()


def test_missing_declared_columns_and_missing_id_column(schema_path: Path, tmp_path: Path) -> None:
    frame = make_frame()
    error = refuse(schema_path, frame.drop(columns=["rating", "penalties"]), tmp_path / "cols.csv")
    problem = only(error, ProblemKind.MISSING_COLUMNS)
    assert "rating" in problem.detail and "penalties" in problem.detail
    error = refuse(schema_path, frame.drop(columns=["credit_code"]), tmp_path / "noid.csv")
    assert error.kinds == {ProblemKind.MISSING_ID_COLUMN}


def test_lowercase_and_wrong_length_ids_get_their_reason(schema_path: Path, tmp_path: Path) -> None:
    frame = make_frame()
    frame.loc[0, "credit_code"] = frame.loc[0, "credit_code"].lower()
    frame.loc[1, "credit_code"] = frame.loc[1, "credit_code"][:16]
    problem = only(refuse(schema_path, frame, tmp_path / "ids.csv"), ProblemKind.INVALID_ID)
    assert problem.rows == (1, 2)
    assert "lowercase" in problem.examples[0] and "length is 16" in problem.examples[1]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.integers(1, 25), value=st.floats(min_value=1e12, max_value=1e15, exclude_min=True))
def test_protected_out_of_range_names_the_row_never_the_value(tmp_path_factory, row: int, value: float) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    schema = tmp / "tax.toml"
    schema.write_text(SCHEMA_TOML)
    frame = make_frame(rows=25)
    text = repr(value)
    frame.loc[row - 1, "tax_paid"] = text
    with pytest.raises(DataValidationError) as info:
        load_table(schema, write_csv(frame, tmp / "t.csv"))
    problem = only(info.value, ProblemKind.OUT_OF_RANGE)
    assert problem.rows == (row,) and problem.column == "tax_paid"
    assert text not in str(info.value) and f"{value:g}" not in str(info.value)


def test_a_single_bad_last_row_refuses_the_whole_table(schema_path: Path, tmp_path: Path) -> None:
    frame = make_frame(rows=200)
    frame.loc[199, "penalties"] = "many"
    error = refuse(schema_path, frame, tmp_path / "late.csv")
    assert only(error, ProblemKind.BAD_TYPE).rows == (200,)
