"""NIK repair and the soft domain checks."""

from __future__ import annotations

import pytest

from extractor.engine.nik import nik_birth, nik_checks, repair_nik


def by_name(checks):
    return {check.name: check for check in checks}


@pytest.mark.parametrize(
    ("raw", "repaired"),
    [
        ("3273O15708900002", "3273015708900002"),
        ("32730l57089OOOO2", "3273015708900002"),
        ("3Z73015708900002", "3273015708900002"),
        ("S273015708900002", "5273015708900002"),
        ("3273 0157 0890 0002", "3273015708900002"),
        ("327301570B900002", "3273015708900002"),
        ("32730I5708900G02", "3273015708900602"),
    ],
)
def test_repair(raw, repaired):
    assert repair_nik(raw) == repaired


def test_birth_fields_and_female_offset():
    assert nik_birth("3273015708900002") == (17, 8, 90, True)
    assert nik_birth("3273011708900002") == (17, 8, 90, False)
    assert nik_birth("327301170890000") is None


def test_all_checks_pass_for_a_consistent_card():
    checks = by_name(nik_checks("3273015708900002", "17-08-1990", "PEREMPUAN"))
    assert set(checks) == {"nik_structure", "nik_birth_date", "nik_gender", "nik_province"}
    assert all(check.ok for check in checks.values())


def test_structure_failures():
    assert not by_name(nik_checks("32730157089000", None, None))["nik_structure"].ok
    assert not by_name(nik_checks("3273015708900000", None, None))["nik_structure"].ok  # serial 0000
    assert not by_name(nik_checks("3273017208900002", None, None))["nik_structure"].ok  # day 72
    assert not by_name(nik_checks("3273013113900002", None, None))["nik_structure"].ok  # month 13
    assert not by_name(nik_checks("3273013102900002", None, None))["nik_structure"].ok  # 31 February
    assert by_name(nik_checks("3273016902000002", None, None))["nik_structure"].ok  # 29-02 (woman)
    assert not by_name(nik_checks(None, None, None))["nik_structure"].ok


def test_date_and_gender_mismatches_are_soft_flags():
    checks = by_name(nik_checks("3273011708900002", "18-08-1990", "PEREMPUAN"))
    assert not checks["nik_birth_date"].ok
    assert not checks["nik_gender"].ok
    assert checks["nik_structure"].ok


def test_century_comes_from_the_printed_year():
    assert by_name(nik_checks("3273011708050002", "17-08-2005", "LAKI-LAKI"))["nik_birth_date"].ok
    assert by_name(nik_checks("3273011708050002", "17-08-1905", "LAKI-LAKI"))["nik_birth_date"].ok


def test_province_codes_current_retired_unknown():
    assert by_name(nik_checks("9501011708900002", None, None))["nik_province"].ok  # Papua Pegunungan (2022)
    retired = by_name(nik_checks("5401011708900002", None, None))["nik_province"]
    assert retired.ok
    assert "retired" in retired.detail
    assert not by_name(nik_checks("9901011708900002", None, None))["nik_province"].ok


def test_checks_never_contain_the_nik():
    for check in nik_checks("3273015708900002", "18-08-1991", "LAKI-LAKI"):
        assert "3273015708900002" not in check.detail
