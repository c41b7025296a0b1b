"""Length-aware snapping to the closed vocabularies and to region names."""

from __future__ import annotations

import pytest

from extractor.engine import vocabulary as vocab
from extractor.engine.fuzzy import allowed_edits, levenshtein, snap
from extractor.engine.layout import RawField
from extractor.engine.normalize import normalize_blood, normalize_choice, normalize_date, normalize_gender, normalize_rt_rw
from extractor.engine.regions import snap_bare_city, snap_city, snap_district, snap_state


def raw(text: str) -> RawField:
    return RawField(text, 0.95)


def test_levenshtein_and_budget():
    assert levenshtein("KAWIN", "KAWIN") == 0
    assert levenshtein("KAWN", "KAWIN") == 1
    assert levenshtein("ABCDEFGH", "XYZ", limit=2) == 3
    assert allowed_edits(2) == 0
    assert allowed_edits(4) == 1
    assert allowed_edits(30) == 6


def test_occupation_list_is_complete():
    assert len(vocab.OCCUPATIONS) == 89
    assert len(set(vocab.OCCUPATIONS)) == 89


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("KARYAWAN SWASTA", "KARYAWAN SWASTA"),
        ("KARYAWANSWASTA", "KARYAWAN SWASTA"),
        ("PELAJAR/MAHASISWA", "PELAJAR/MAHASISWA"),
        ("PELAJAR MAHASlSWA", "PELAJAR/MAHASISWA"),
        ("PEGAWAI NEGERI SIPIL PNS", "PEGAWAI NEGERI SIPIL (PNS)"),
        ("ANGGOTA DPRD KABUPATEN/KOT", "ANGGOTA DPRD KABUPATEN/KOTA"),
        ("PENYIAR RADIO 31-12-2011", "PENYIAR RADIO"),
    ],
)
def test_occupation_snapping(text, value):
    assert normalize_choice(raw(text), vocab.OCCUPATIONS).value == value


def test_unknown_occupation_keeps_the_cleaned_text_with_low_confidence():
    reading = normalize_choice(raw("ASTRONOT"), vocab.OCCUPATIONS)
    assert reading.value == "ASTRONOT"
    assert reading.confidence < 0.5


def test_religion_variants_are_kept_as_printed():
    assert normalize_choice(raw("KATHOLIK"), vocab.RELIGIONS).value == "KATHOLIK"
    assert normalize_choice(raw("KATOLIK"), vocab.RELIGIONS).value == "KATOLIK"
    assert normalize_choice(raw("BUDHA"), vocab.RELIGIONS).value == "BUDHA"
    assert normalize_choice(raw("KRIS"), vocab.RELIGIONS).value == "KRISTEN"
    assert normalize_choice(raw("KEPERCAYAAN TERHADAP TUHAN YME"), vocab.RELIGIONS).value == "KEPERCAYAAN TERHADAP TUHAN YME"


def test_marital_statuses_including_2017_ones():
    for status in vocab.MARITAL_STATUSES:
        assert normalize_choice(raw(status), vocab.MARITAL_STATUSES).value == status
    assert normalize_choice(raw("CERAI HDUP TERCATAT"), vocab.MARITAL_STATUSES).value == "CERAI HIDUP TERCATAT"
    assert normalize_choice(raw("KAWlN"), vocab.MARITAL_STATUSES).value == "KAWIN"


def test_short_values_need_an_exact_match():
    assert snap("WNI", vocab.NATIONALITIES).value == "WNI"
    assert snap("WN", vocab.NATIONALITIES) is None or snap("WN", vocab.NATIONALITIES).value in ("WNI", "WNA")
    assert snap("XYZ", vocab.NATIONALITIES) is None


@pytest.mark.parametrize(("text", "value"), [("O", "O"), ("0", "O"), ("AB", "AB"), ("A+", "A+"), ("B-", "B-"), ("-", "-"), ("8", "B")])
def test_blood_types(text, value):
    assert normalize_blood(raw(text)).value == value


def test_gender_nearest_of_two():
    assert normalize_gender(raw("LAKI-LAKl")).value == "LAKI-LAKI"
    assert normalize_gender(raw("PEREM")).value == "PEREMPUAN"
    assert normalize_gender(raw("XX")).value is None


@pytest.mark.parametrize(("text", "value"), [("001/002", "001/002"), ("1/2", "001/002"), ("001 / 02", "001/002"), ("0011002", "001/002"), ("O01/0O2", "001/002")])
def test_rt_rw(text, value):
    assert normalize_rt_rw(raw(text)).value == value


@pytest.mark.parametrize(("text", "value"), [("17-08-1990", "17-08-1990"), ("17 -08-1990", "17-08-1990"), ("17.08.1990", "17-08-1990"), ("17081990", "17-08-1990"), ("1-8-1990", "01-08-1990"), ("1:14-02-2016", "14-02-2016"), ("garbage", None)])
def test_dates(text, value):
    assert normalize_date(text) == value


def test_region_snapping():
    assert snap_state("JAWATENGAH") == ("JAWA TENGAH", 0)
    assert snap_state("DKI JAKARTA") == ("DKI JAKARTA", 0)
    assert snap_city("KABUPATEN WONOS0BO".replace("0", "O"), "JAWA TENGAH") == ("KABUPATEN WONOSOBO", 0)
    assert snap_city("KOTABANDUNG", "JAWA BARAT") == ("KOTA BANDUNG", 0)
    assert snap_city("KABUPATEN BANDUNG", "JAWA BARAT") == ("KABUPATEN BANDUNG", 0)
    assert snap_city("JAKARTA PUSAT", "DKI JAKARTA") == ("JAKARTA PUSAT", 0)
    assert snap_district("WATUMALNG", "KABUPATEN WONOSOBO", "JAWA TENGAH") == ("WATUMALANG", 1)
    assert snap_bare_city("PULAU MORO TAI") == ("PULAU MOROTAI", 0)
    # Without a parent only exact (ignoring spaces) matches are accepted.
    assert snap_district("WATUMALNG") is None
