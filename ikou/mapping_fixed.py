"""The checks of a fixed-width source's record layout (fields, record types, trailer) and the
runtime layout they become (``ikou.mapping.FixedLayout``). A declaration that cannot read the
bytes it names is refused here, naming the field, before anything is read; every problem is
appended to ``problems``."""

from __future__ import annotations

from ikou.codecs.numeric import FLOAT_LENGTHS, INT64_DIGITS, MAX_DIGITS, MAX_PACKED_BYTES, binary_length
from ikou.config.mapping_file import FieldFile, SourceFile
from ikou.i18n import tr
from ikou.mapping import FIXED_ENCODINGS, FieldSpec, FixedLayout, TrailerSpec

EBCDIC_FAMILY = {name for name, codec in FIXED_ENCODINGS.items() if name not in ("cp932", "utf-8", "utf-8-sig")}
DOUBLE_BYTE = {"cp930", "cp939", "jef", "jef-ebcdic", "keis", "cp932"}  # PIC N can be read in these
NUMBERS = ("zoned", "packed", "binary", "native_binary", "float")
INTEGERS = ("zoned", "packed", "binary", "native_binary")


def fixed_layout(s: SourceFile, where: str, encoding: str, problems: list[str]) -> FixedLayout:
    length = s.record_length or 0
    if not length:
        problems.append(tr("{where}: missing required key 'record_length' (the record's size in bytes)", where=where))
        length = 1
    if s.short_records == "pad" and s.newline == "none":
        problems.append(tr("{where}.short_records: 'pad' needs records that end in a newline (newline: none has "
                           "no way to tell where a short record ends)",
                           where=where))
    if not s.fields:
        problems.append(tr("{where}: missing required key 'fields' (byte offset and length of each field)",
                           where=where))
    frame = _Frame(length, encoding, s.sign, s.overpunch)
    fields = tuple(f for f in (frame.field(spec, name, f"{where}.fields.{name}", problems)
                               for name, spec in s.fields.items()) if f is not None)
    rtype = frame.field(s.record_type, "record_type", f"{where}.record_type", problems) if s.record_type else None
    header_codes = tuple(str(c) for c in s.header_codes)
    data_codes = tuple(str(c) for c in s.data_codes)
    other_codes = tuple(str(c) for c in s.other_codes)
    trailer = None
    if s.trailer is not None:
        t = s.trailer
        trailer = TrailerSpec(
            code=str(t.code),
            count=frame.field(t.count, "count", f"{where}.trailer.count", problems) if t.count else None,
            sum_of=t.sum_of, sum=frame.field(t.sum, "sum", f"{where}.trailer.sum", problems) if t.sum else None)
        integers = {f.name for f in fields if f.type in INTEGERS}
        if (t.sum_of is None) != (t.sum is None):
            problems.append(tr("{where}.trailer: give both 'sum_of' (a numeric field) and 'sum' (where the "
                               "total is)",
                               where=where))
        elif t.sum_of is not None and t.sum_of not in integers:
            problems.append(tr("{where}.trailer.sum_of: {sum_of!r} is not a zoned, packed or binary field",
                               where=where, sum_of=t.sum_of))
    codes = list(header_codes + data_codes + other_codes + ((trailer.code,) if trailer else ()))
    if rtype is None and (header_codes or other_codes or trailer):
        problems.append(tr("{where}: header_codes, other_codes and trailer need record_type (where the type code "
                           "is)", where=where))
    if rtype is not None and not data_codes:
        problems.append(tr("{where}.data_codes: with a record_type, list the codes of data records", where=where))
    if len(set(codes)) != len(codes):
        problems.append(tr("{where}: a record type code is listed twice", where=where))
    if rtype is not None and any(len(c) != rtype.length for c in codes):
        problems.append(tr("{where}: record type codes must be {length} character(s) long",
                           where=where, length=rtype.length))
    return FixedLayout(record_length=length, newline=s.newline, short_records=s.short_records, record_type=rtype,
                       header_codes=header_codes, data_codes=data_codes, other_codes=other_codes, trailer=trailer,
                       fields=fields)


class _Frame:
    """What every field of one source shares: the record's size, the encoding, the source's sign
    defaults."""

    def __init__(self, record_length: int, encoding: str, sign: str | None, overpunch: str | None):
        self.record_length, self.encoding, self.sign, self.overpunch = record_length, encoding, sign, overpunch

    def field(self, f: FieldFile | str, name: str, where: str, problems: list[str]) -> FieldSpec | None:
        if isinstance(f, str):
            problems.append(tr("{where}: a fixed-width field is {{offset, length[, type]}}, not a path ({f!r})",
                               where=where, f=f))
            return None
        if f.offset + f.length > self.record_length:
            problems.append(tr("{where}: bytes {offset}..{value} do not fit a {record_length}-byte record",
                               where=where, offset=f.offset, value=f.offset + f.length - 1,
                               record_length=self.record_length))
        sign, overpunch = f.sign or self.sign or "trailing", f.overpunch or self.overpunch or "auto"
        _kind_problems(f, sign, where, self.encoding, problems)
        if f.type != "zoned" and (f.sign is not None or f.overpunch is not None):
            problems.append(tr("{where}: sign and overpunch describe zoned fields only (this one is {type})",
                               where=where, type=f.type))
        return FieldSpec(name=name, offset=f.offset, length=f.length, type=f.type, scale=f.scale, pad=f.pad,
                         sign=sign if f.type == "zoned" else "trailing",
                         overpunch=overpunch if f.type == "zoned" else "auto",
                         signed=f.signed, byte_order=f.byte_order or "little")


def _kind_problems(f: FieldFile, sign: str, where: str, encoding: str, problems: list[str]) -> None:
    """What a field's type asks of its length, scale, digits and the file's encoding."""
    say = problems.append
    if f.type not in NUMBERS and f.scale:
        say(tr("{where}: scale (implied decimal places) applies to number fields, not to {type}",
               type=f.type, where=where))
    if f.type not in INTEGERS and f.digits is not None:
        say(tr("{where}: digits (the PIC's digit count) applies to zoned, packed and binary fields, not to {type}",
            type=f.type, where=where))
    if f.type not in ("binary", "native_binary") and f.signed is not None:
        say(tr("{where}: signed describes binary fields only (zoned and packed fields carry their sign)", where=where))
    if f.type != "float" and f.byte_order is not None:
        say(tr("{where}: byte_order describes float fields only (binary is big-endian, native_binary little-endian)",
               where=where))
    if f.type == "kanji":
        if f.length % 2:
            say(tr("{where}: a kanji (double-byte) field has an even length in bytes", where=where))
        if encoding not in DOUBLE_BYTE:
            say(tr("{where}: a kanji (PIC N) field needs a double-byte encoding (cp932, or a mainframe's: cp930, "
                "cp939, jef, jef-ebcdic, keis); {encoding} has none", encoding=encoding, where=where))
    elif f.type == "packed":
        if f.length > MAX_PACKED_BYTES:
            say(tr("{where}: packed fields of up to {max_bytes} bytes ({max_digits} digits) are supported",
                max_bytes=MAX_PACKED_BYTES, max_digits=MAX_DIGITS, where=where))
        if f.digits is not None and f.digits // 2 + 1 != f.length:
            say(tr("{where}: a packed field of {digits} digits is {value} bytes long, not {length}",
                digits=f.digits, value=f.digits // 2 + 1, length=f.length, where=where))
    elif f.type == "zoned":
        separate = 1 if sign.endswith("_separate") else 0
        if f.length - separate > MAX_DIGITS:
            say(tr("{where}: zoned fields of up to {max_digits} digits are supported",
                   max_digits=MAX_DIGITS, where=where))
        if separate and f.length < 2:
            say(tr("{where}: a zoned field with a separate sign is at least 2 bytes (a digit and the sign)",
                   where=where))
        if f.digits is not None and f.digits + separate != f.length:
            say(tr("{where}: a zoned field of {digits} digits is {value} bytes long, not {length}",
                digits=f.digits, value=f.digits + separate, length=f.length, where=where))
    elif f.type in ("binary", "native_binary"):
        if f.length > 8:
            say(tr("{where}: binary fields are 1 to 8 bytes long (18 digits at most)", where=where))
        if f.signed is None:
            say(tr("{where}: say whether the binary field is signed: signed: true (PIC S9…) or false (PIC 9…)",
                   where=where))
        if f.digits is not None:
            if f.digits > INT64_DIGITS:
                say(tr("{where}: binary fields hold up to 18 digits", where=where))
            elif binary_length(f.digits) != f.length:
                say(tr("{where}: a binary field of {digits} digits is {value} bytes long, not {length} (COBOL's "
                    "sizes: 1-4 digits 2 bytes, 5-9 4, 10-18 8)",
                    digits=f.digits, value=binary_length(f.digits), length=f.length, where=where))
    elif f.type == "float":
        if f.length not in FLOAT_LENGTHS:
            say(tr("{where}: a float field is 4 bytes (COMP-1) or 8 bytes (COMP-2), not {length}",
                   length=f.length, where=where))
        if encoding in EBCDIC_FAMILY:
            say(tr("{where}: COMP-1 / COMP-2 in a mainframe (EBCDIC) file are IBM hexadecimal floats, which ikou "
                "does not read: ask the vendor to export the value as zoned or packed decimal", where=where))
