"""Build ikou's IBM Japanese EBCDIC tables (cp930 / cp939) from glibc iconv.

Run once by a maintainer (iconv is not needed at run time): it writes
ikou/codecs/data/ibm930_sbcs.tsv, ibm939_sbcs.tsv and ibm300_dbcs.tsv, one mapping per line:
hex bytes, tab, hex code point. Source: glibc's IBM930 / IBM939 charmaps (cp930 = single-byte
cp290, katakana; cp939 = single-byte cp1027, Latin; both use the double-byte set cp300 between
shift-out 0x0E and shift-in 0x0F).

    python scripts/build_ibm_tables.py
"""

from __future__ import annotations

import subprocess
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "ikou" / "codecs" / "data"
NL = 0x15  # EBCDIC new line: decodes to U+0085, used to keep one result per line


def _iconv(enc: str, data: bytes) -> list[str]:
    """Decode with iconv -c (invalid input dropped) and split at the NL markers."""
    out = subprocess.run(["iconv", "-c", "-f", enc, "-t", "UTF-32BE"], input=data, capture_output=True,
                         check=True).stdout
    text = "".join(chr(int.from_bytes(out[i:i + 4], "big")) for i in range(0, len(out), 4))
    return text.split("\x85")


def single_bytes(enc: str) -> dict[int, int]:
    codes = [b for b in range(256) if b not in (0x0E, 0x0F, NL)]
    parts = _iconv(enc, b"".join(bytes([b, NL]) for b in codes))
    table = {b: ord(p) for b, p in zip(codes, parts) if len(p) == 1}
    table[NL] = 0x85
    return table


def double_bytes(enc: str) -> dict[int, int]:
    codes = [(hi << 8) | lo for hi in range(0x40, 0xFF) for lo in range(0x40, 0xFF)]
    data = b"".join(b"\x0e" + bytes([c >> 8, c & 0xFF]) + b"\x0f" + bytes([NL]) for c in codes)
    parts = _iconv(enc, data)
    return {c: ord(p) for c, p in zip(codes, parts) if len(p) == 1}


def write(name: str, table: dict[int, int], width: int) -> None:
    lines = [f"{code:0{width}X}\t{cp:04X}" for code, cp in sorted(table.items())]
    (DATA / name).write_text("\n".join(lines) + "\n", encoding="ascii")
    print(f"{name}: {len(lines)} mappings")


def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    write("ibm930_sbcs.tsv", single_bytes("IBM930"), 2)
    write("ibm939_sbcs.tsv", single_bytes("IBM939"), 2)
    dbcs = double_bytes("IBM930")
    if dbcs != double_bytes("IBM939"):
        raise SystemExit("IBM930 and IBM939 disagree on the double-byte set")
    write("ibm300_dbcs.tsv", dbcs, 4)


if __name__ == "__main__":
    main()
