"""CRC-16 of VoSPI packets (CRC-16/XMODEM form).

Polynomial x^16 + x^12 + x^5 + 1 (0x1021), initial value 0, MSB first, no final
XOR; identical to ``binascii.crc_hqx(data, 0)``. A packet's CRC is computed over
all of its bytes after zeroing the top 4 bits of byte 0 (the Lepton 3 segment
number) and bytes 2-3 (the CRC field itself).
Sources: FLIR Lepton Engineering Datasheet §4.2.2.1, §4.2.3.1; VoSPI
Implementation Specification §4.1 (docs/vospi.md §5).

:func:`packet_crcs` checks many packets at once. Because this CRC has initial
value 0 and no final XOR it is linear over GF(2): the CRC of a packet is the
XOR of the contributions of each byte at its position. One table per byte
position (164 x 256 words, 82 KiB) turns a whole batch into one gather and
one XOR-reduction. The masking of byte 0 and of the CRC field is built into
those tables.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CRC_POLY", "crc16", "packet_crcs"]

CRC_POLY = 0x1021  # x^16 + x^12 + x^5 + 1 (DS §4.2.2.1, docs/vospi.md §5)
_CRC_FIELD = slice(2, 4)  # bytes 2-3 of a packet carry the CRC (docs/vospi.md §3)
_BYTE0_KEEP = 0x0F  # top nibble of byte 0 (segment number) is outside the CRC (docs/vospi.md §5)


def _byte_table() -> np.ndarray:
    """CRC of each single byte value: the classic 256-entry MSB-first table."""
    table = np.zeros(256, dtype=np.uint32)
    crc = np.arange(256, dtype=np.uint32) << 8
    for _ in range(8):
        crc = np.where(crc & 0x8000, (crc << 1) ^ CRC_POLY, crc << 1) & 0xFFFF
    table[:] = crc
    return table.astype(np.uint16)


_TABLE = _byte_table()
_TABLE_LIST = _TABLE.tolist()


def crc16(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/XMODEM of ``data`` (no packet masking).

    Args:
        data: any bytes.

    Returns:
        The CRC, 0..0xFFFF. Equals ``binascii.crc_hqx(data, 0)``.
    """
    crc = 0
    table = _TABLE_LIST
    for byte in bytes(data):
        crc = ((crc << 8) & 0xFFFF) ^ table[(crc >> 8) ^ byte]
    return crc


def _position_tables(length: int) -> np.ndarray:
    """Contribution of byte value v at position k to the CRC of a packet.

    Returns ndarray uint16 (length * 256,), flat index ``k * 256 + v``.
    """
    tables = np.zeros((length, 256), dtype=np.uint16)
    tables[length - 1] = _TABLE
    for k in range(length - 2, -1, -1):
        # Append one zero byte after the contribution of position k + 1.
        nxt = tables[k + 1].astype(np.uint32)
        tables[k] = ((nxt << 8) & 0xFFFF) ^ _TABLE[nxt >> 8]
    tables[0] = tables[0][np.arange(256) & _BYTE0_KEEP]
    tables[_CRC_FIELD] = 0
    return tables.ravel()


_POSITION_TABLES: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def packet_crcs(packets: np.ndarray) -> np.ndarray:
    """CRC of each packet, as the Lepton computes it.

    Args:
        packets: ndarray uint8 (n, packet_bytes), one packet per row (164 bytes
            for Raw14, 244 for RGB888). Any n, including 0.

    Returns:
        ndarray uint16 (n,): the CRC of each row with the top nibble of byte 0
        and bytes 2-3 taken as zero; compare with the big-endian word in
        bytes 2-3 (docs/vospi.md §5).
    """
    n, length = packets.shape
    cached = _POSITION_TABLES.get(length)
    if cached is None:
        offsets = np.arange(length, dtype=np.uint16) * 256
        cached = _POSITION_TABLES[length] = (_position_tables(length), offsets)
    tables, offsets = cached
    index = packets + offsets  # (n, length) uint16: k * 256 + byte k
    return np.bitwise_xor.reduce(np.take(tables, index), axis=1)
