"""lepton.crc against the published vectors (docs/vospi.md §5) and binascii.crc_hqx."""

from __future__ import annotations

import binascii
import hashlib

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lepton.crc import crc16, packet_crcs


def packet(packet_id: int, words) -> bytes:
    """A 164-byte Raw14 packet with a zero CRC field: big-endian ID, 80 big-endian words."""
    return packet_id.to_bytes(2, "big") + b"\0\0" + np.asarray(words, dtype=">u2").tobytes()


def lepton_crc(data: bytes) -> int:
    """The packet CRC computed independently: top nibble of byte 0 and bytes 2-3 zeroed."""
    normalized = bytes([data[0] & 0x0F]) + data[1:2] + b"\0\0" + data[4:]
    return binascii.crc_hqx(normalized, 0)


def test_crc16_published_vectors():
    """crc16 gives the IDD, periph and lepton_rs vectors."""
    assert crc16(b"\x6e") == 0x8D68
    assert crc16(b"123456789") == 0x31C3
    assert crc16(bytes.fromhex("00140000ABCD10203040")) == 0x2F69


@settings(max_examples=200)
@given(st.binary(max_size=400))
def test_crc16_matches_crc_hqx(data):
    """crc16 equals binascii.crc_hqx(data, 0) for any bytes."""
    assert crc16(data) == binascii.crc_hqx(data, 0)


PACKET_VECTORS = [
    ("VI Fig.10 line 0", 0x3000, range(80), 0x8C08),
    ("VI Fig.11 line 59", 0x003B, range(5900, 5980), 0x48D0),
    ("A", 0x0005, range(8000, 8080), 0xCAD2),
    ("B segment 3", 0x3014, [30000] * 80, 0xB136),
    ("C all zero", 0x0000, [0] * 80, 0x0000),
    ("D", 0x003B, range(80), 0x65D5),
]


def test_packet_vectors():
    """packet_crcs gives the spec's packet CRCs, which binascii.crc_hqx confirms independently."""
    packets = [packet(pid, words) for _, pid, words, _ in PACKET_VECTORS]
    expected = [crc for *_, crc in PACKET_VECTORS]
    assert [lepton_crc(p) for p in packets] == expected
    array = np.frombuffer(b"".join(packets), dtype=np.uint8).reshape(len(packets), 164)
    assert packet_crcs(array).tolist() == expected
    assert packet_crcs(array).dtype == np.uint16


def test_packet_a_on_the_wire():
    """Packet A with its CRC filled in is byte for byte the spec's example (SHA-256)."""
    wire = bytearray(packet(0x0005, range(8000, 8080)))
    wire[2:4] = lepton_crc(bytes(wire)).to_bytes(2, "big")
    assert bytes(wire[:8]).hex(" ") == "00 05 ca d2 1f 40 1f 41"
    assert hashlib.sha256(wire).hexdigest() == (
        "1bc62463c3919defcfdf87a51e86b770147b05e894b822757da3ded888b060f0"
    )


def test_segment_bits_and_crc_field_are_outside_the_crc():
    """Changing the top nibble of byte 0 or bytes 2-3 leaves the packet CRC unchanged."""
    base = np.frombuffer(packet(0x0014, [30000] * 80), dtype=np.uint8).reshape(1, 164)
    changed = base.copy()
    changed[0, 0] = 0x70
    changed[0, 2:4] = 0xAB
    assert packet_crcs(changed)[0] == packet_crcs(base)[0] == 0xB136


@settings(max_examples=50)
@given(st.integers(0, 40).flatmap(lambda n: st.binary(min_size=164 * n, max_size=164 * n)))
def test_packet_crcs_match_crc_hqx(data):
    """packet_crcs equals crc_hqx of each normalised 164-byte packet, for any batch."""
    packets = np.frombuffer(data, dtype=np.uint8).reshape(-1, 164)
    expected = [lepton_crc(data[k : k + 164]) for k in range(0, len(data), 164)]
    assert packet_crcs(packets).tolist() == expected


def test_rgb888_packets():
    """244-byte RGB888 packets are checked the same way."""
    data = bytes(range(244))
    packets = np.frombuffer(data * 2, dtype=np.uint8).reshape(2, 244)
    assert packet_crcs(packets).tolist() == [lepton_crc(data)] * 2
