"""Tests for lepton.spidev: ioctl numbers, spi_ioc_transfer layout, errors, reads."""

import ctypes
import errno
import os
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

import lepton
from lepton import spidev
from lepton.camera import Lepton
from lepton.errors import LeptonError, RangeError
from lepton.models import Model
from lepton.simulator import VospiSimulator
from lepton.spidev import (
    NotASpiDeviceError,
    SpiBufferSizeError,
    SpiDeviceError,
    SpiDeviceNotFoundError,
    SpidevTransport,
    SpiPermissionError,
    pack_spi_ioc_transfer,
    read_bufsiz,
    spi_error_from_oserror,
    spi_ioc_message,
)
from lepton.transport import Transport
from lepton.vospi import RESYNC_PAUSE_S

PACKET = 164
DATA = Path(__file__).resolve().parent.parent / "data"

ENABLE_SPI = (
    "Enable SPI with `sudo raspi-config` (Interface Options > SPI) or add "
    "`dtparam=spi=on` to /boot/firmware/config.txt, then reboot; check the name "
    "with `ls /dev/spidev*`"
)
NOT_SPI = "Give a spidev node such as /dev/spidev0.0 (see `ls /dev/spidev*`)"


class SpiIocTransfer(ctypes.Structure):
    """struct spi_ioc_transfer as declared in linux/spi/spidev.h."""

    _fields_ = [
        ("tx_buf", ctypes.c_uint64),
        ("rx_buf", ctypes.c_uint64),
        ("len", ctypes.c_uint32),
        ("speed_hz", ctypes.c_uint32),
        ("delay_usecs", ctypes.c_uint16),
        ("bits_per_word", ctypes.c_uint8),
        ("cs_change", ctypes.c_uint8),
        ("tx_nbits", ctypes.c_uint8),
        ("rx_nbits", ctypes.c_uint8),
        ("word_delay_usecs", ctypes.c_uint8),
        ("pad", ctypes.c_uint8),
    ]


def iow(nr, size):
    """_IOW('k', nr, size) written out independently of the module."""
    return (1 << 30) | (size << 16) | (0x6B << 8) | nr


def ior(nr, size):
    """_IOR('k', nr, size) written out independently of the module."""
    return (2 << 30) | (size << 16) | (0x6B << 8) | nr


@pytest.fixture
def bufsiz_file(tmp_path):
    """Write a fake /sys/module/spidev/parameters/bufsiz and return its path."""

    def make(value):
        path = tmp_path / "bufsiz"
        path.write_text(f"{value}\n")
        return str(path)

    return make


class RecordingIoctl:
    """Stand-in for fcntl.ioctl that records (request, argument) and succeeds."""

    def __init__(self):
        self.calls = []

    def __call__(self, fd, request, argument):
        assert isinstance(fd, int)
        self.calls.append((request, bytes(argument)))
        return argument


def open_stream(path, bufsiz_path, **kwargs):
    """Open a file or FIFO as a SpidevTransport, skipping the real SPI ioctls."""
    return SpidevTransport(str(path), bufsiz_path=bufsiz_path, ioctl=RecordingIoctl(), **kwargs)


def packets(n, start=0):
    """Return n distinct 164-byte packets: ID = packet number, payload = its number."""
    return b"".join(
        (i % 60).to_bytes(2, "big") + b"\0\0" + bytes([i % 256]) * (PACKET - 4)
        for i in range(start, start + n)
    )


# --- request numbers and struct layout -----------------------------------------


def test_request_numbers_match_spec_table():
    """Setup ioctl numbers equal the values in docs/vospi.md §10."""
    assert spidev.SPI_IOC_RD_MODE == 0x80016B01
    assert spidev.SPI_IOC_WR_MODE == 0x40016B01
    assert spidev.SPI_IOC_RD_LSB_FIRST == 0x80016B02
    assert spidev.SPI_IOC_WR_LSB_FIRST == 0x40016B02
    assert spidev.SPI_IOC_RD_BITS_PER_WORD == 0x80016B03
    assert spidev.SPI_IOC_WR_BITS_PER_WORD == 0x40016B03
    assert spidev.SPI_IOC_RD_MAX_SPEED_HZ == 0x80046B04
    assert spidev.SPI_IOC_WR_MAX_SPEED_HZ == 0x40046B04
    assert spidev.SPI_IOC_RD_MODE32 == 0x80046B05
    assert spidev.SPI_IOC_WR_MODE32 == 0x40046B05


def test_request_numbers_match_ioc_encoding_with_ctypes_sizes():
    """Each request is _IOR/_IOW('k', nr, sizeof(argument)) with C type sizes."""
    u8, u32 = ctypes.sizeof(ctypes.c_uint8), ctypes.sizeof(ctypes.c_uint32)
    assert iow(1, u8) == spidev.SPI_IOC_WR_MODE
    assert ior(1, u8) == spidev.SPI_IOC_RD_MODE
    assert iow(2, u8) == spidev.SPI_IOC_WR_LSB_FIRST
    assert iow(3, u8) == spidev.SPI_IOC_WR_BITS_PER_WORD
    assert iow(4, u32) == spidev.SPI_IOC_WR_MAX_SPEED_HZ
    assert ior(4, u32) == spidev.SPI_IOC_RD_MAX_SPEED_HZ
    assert iow(5, u32) == spidev.SPI_IOC_WR_MODE32


def test_spi_ioc_message_matches_spec_table():
    """SPI_IOC_MESSAGE(n) equals §10's values for 1, 24, 60 and 61 transfers."""
    assert spi_ioc_message(1) == 0x40206B00
    assert spi_ioc_message(24) == 0x43006B00
    assert spi_ioc_message(60) == 0x47806B00
    assert spi_ioc_message(61) == 0x47A06B00
    for n in (1, 2, 24, 100, 511):
        assert spi_ioc_message(n) == iow(0, n * ctypes.sizeof(SpiIocTransfer))


@pytest.mark.parametrize("n", [0, 512, -1])
def test_spi_ioc_message_rejects_counts_outside_the_size_field(n):
    """n outside 1..511 cannot be encoded in the 14-bit size field."""
    with pytest.raises(ValueError) as info:
        spi_ioc_message(n)
    assert str(info.value) == f"SPI_IOC_MESSAGE(n) needs 1 <= n <= 511, got {n}"


def test_transfer_struct_is_32_bytes_with_kernel_offsets():
    """The struct format is 32 bytes and its fields sit at the ctypes offsets of §10."""
    assert spidev.SPI_IOC_TRANSFER_FORMAT == "=QQIIHBBBBBB"
    assert spidev.SPI_IOC_TRANSFER_SIZE == ctypes.sizeof(SpiIocTransfer) == 32
    offsets = {name: getattr(SpiIocTransfer, name).offset for name, _ in SpiIocTransfer._fields_}
    assert offsets == {
        "tx_buf": 0,
        "rx_buf": 8,
        "len": 16,
        "speed_hz": 20,
        "delay_usecs": 24,
        "bits_per_word": 26,
        "cs_change": 27,
        "tx_nbits": 28,
        "rx_nbits": 29,
        "word_delay_usecs": 30,
        "pad": 31,
    }


def test_pack_spi_ioc_transfer_equals_ctypes_struct_bytes():
    """pack_spi_ioc_transfer produces the same bytes as the C struct with the same fields."""
    rx = ctypes.create_string_buffer(PACKET)
    fields = dict(
        tx_buf=0x1122334455667788,
        rx_buf=ctypes.addressof(rx),
        len=PACKET,
        speed_hz=18_000_000,
        delay_usecs=0x0102,
        bits_per_word=8,
        cs_change=1,
        tx_nbits=1,
        rx_nbits=2,
        word_delay_usecs=3,
    )
    expected = bytes(SpiIocTransfer(**fields))
    packed = pack_spi_ioc_transfer(
        tx_buf=fields["tx_buf"],
        rx_buf=fields["rx_buf"],
        length=PACKET,
        speed_hz=18_000_000,
        delay_usecs=0x0102,
        bits_per_word=8,
        cs_change=True,
        tx_nbits=1,
        rx_nbits=2,
        word_delay_usecs=3,
    )
    assert packed == expected
    assert pack_spi_ioc_transfer(length=PACKET) == bytes(SpiIocTransfer(len=PACKET))


# --- errors ---------------------------------------------------------------------


def test_missing_device_names_it_and_says_how_to_enable_spi(tmp_path):
    """A nonexistent node raises SpiDeviceNotFoundError telling how to enable SPI."""
    device = str(tmp_path / "spidev9.9")
    with pytest.raises(SpiDeviceNotFoundError) as info:
        SpidevTransport(device)
    assert str(info.value) == f"{device}: no such device. {ENABLE_SPI}"
    assert info.value.device == device
    assert info.value.reason == "no such device"
    assert info.value.os_errno == errno.ENOENT
    assert isinstance(info.value, SpiDeviceError)
    assert isinstance(info.value, LeptonError)


def test_directory_is_not_a_spi_device(tmp_path):
    """Opening a directory (EISDIR, also as root) raises NotASpiDeviceError."""
    with pytest.raises(NotASpiDeviceError) as info:
        SpidevTransport(str(tmp_path))
    assert str(info.value) == f"{tmp_path}: not a SPI device (it is a directory). {NOT_SPI}"


def open_fds():
    """Return the set of this process's open file descriptors."""
    return set(os.listdir("/proc/self/fd"))


def test_regular_file_rejects_spi_ioctls_and_is_closed_again(tmp_path):
    """A regular file fails SPI_IOC_WR_MODE with ENOTTY: not a SPI device, no fd leaked."""
    path = tmp_path / "not-spi"
    path.write_bytes(packets(2))
    before = open_fds()
    with pytest.raises(NotASpiDeviceError) as info:
        SpidevTransport(str(path))
    assert str(info.value) == (
        f"{path}: not a SPI device (ioctl SPI_IOC_WR_MODE failed: "
        f"Inappropriate ioctl for device). {NOT_SPI}"
    )
    assert info.value.os_errno == errno.ENOTTY
    assert open_fds() == before


def test_eacces_maps_to_spi_group_advice():
    """EACCES from open names the device and says to join the spi group."""
    exc = OSError(errno.EACCES, os.strerror(errno.EACCES), "/dev/spidev0.0")
    error = spi_error_from_oserror("/dev/spidev0.0", exc, "open")
    assert type(error) is SpiPermissionError
    assert str(error) == (
        "/dev/spidev0.0: open: permission denied. Add your user to the spi group with "
        "`sudo usermod -aG spi $USER`, then log out and in again"
    )


def test_eperm_maps_to_spi_group_advice_too():
    """EPERM is treated like EACCES."""
    error = spi_error_from_oserror("/dev/spidev0.1", OSError(errno.EPERM, "x"), "open")
    assert type(error) is SpiPermissionError
    assert error.device == "/dev/spidev0.1"


def test_emsgsize_maps_to_bufsiz_advice():
    """EMSGSIZE from read says the transfer exceeds bufsiz and how to raise it."""
    error = spi_error_from_oserror(
        "/dev/spidev0.0", OSError(errno.EMSGSIZE, "Message too long"), "read of 9840 bytes"
    )
    assert type(error) is SpiBufferSizeError
    assert str(error) == (
        "/dev/spidev0.0: read of 9840 bytes is longer than the spidev buffer (bufsiz). "
        "Read at most max_read_bytes per transfer, or raise the limit with "
        "`spidev.bufsiz=65536` on the kernel command line (/boot/firmware/cmdline.txt) "
        "and reboot"
    )


def test_other_errno_keeps_the_system_text():
    """An unexpected errno is reported with the operation and strerror, no advice."""
    error = spi_error_from_oserror("/dev/spidev0.0", OSError(errno.EIO, "x"), "read of 164 bytes")
    assert type(error) is SpiDeviceError
    assert str(error) == "/dev/spidev0.0: read of 164 bytes failed: Input/output error"
    assert error.fix == ""


@pytest.mark.parametrize("speed", [0, -1, 20_000_001, 40_000_000])
def test_speed_outside_lepton_range_is_rejected(speed):
    """speed_hz above the Lepton's 20 MHz maximum (or not positive) is a RangeError."""
    with pytest.raises(RangeError) as info:
        SpidevTransport("/nonexistent", speed)
    assert str(info.value) == (
        f"speed_hz must be 1..20000000 (the Lepton's maximum SCK is 20 MHz), got {speed}"
    )


@pytest.mark.parametrize("speed", [18e6, "18000000", True])
def test_speed_must_be_an_integer(speed):
    """A float, string or bool speed is rejected before touching the device."""
    with pytest.raises(RangeError) as info:
        SpidevTransport("/nonexistent", speed)
    assert str(info.value) == f"speed_hz must be an integer number of Hz, got {speed!r}"


# --- configuration and reads ------------------------------------------------------


def test_setup_ioctls_set_mode3_msb_first_8_bits_and_speed(tmp_path, bufsiz_file):
    """Opening issues WR_MODE 3, WR_LSB_FIRST 0, WR_BITS_PER_WORD 8, WR_MAX_SPEED_HZ in order."""
    path = tmp_path / "stream"
    path.write_bytes(b"")
    ioctl = RecordingIoctl()
    with SpidevTransport(str(path), 20_000_000, bufsiz_path=bufsiz_file(4096), ioctl=ioctl):
        pass
    assert ioctl.calls == [
        (0x40016B01, b"\x03"),
        (0x40016B02, b"\x00"),
        (0x40016B03, b"\x08"),
        (0x40046B04, struct.pack("=I", 20_000_000)),
    ]


def test_default_speed_is_18_mhz_and_exported(tmp_path, bufsiz_file):
    """Without a speed the transport clocks at lepton.DEFAULT_SPI_SPEED_HZ, 18 MHz."""
    path = tmp_path / "stream"
    path.write_bytes(b"")
    ioctl = RecordingIoctl()
    with SpidevTransport(str(path), bufsiz_path=bufsiz_file(4096), ioctl=ioctl) as transport:
        assert transport.speed_hz == lepton.DEFAULT_SPI_SPEED_HZ == 18_000_000
    assert ioctl.calls[-1] == (0x40046B04, struct.pack("=I", 18_000_000))


@pytest.mark.parametrize(
    "bufsiz, max_read",
    [(4096, 3936), (65536, 65436), (10000, 9840), (10004, 10004), (164, 164)],
)
def test_max_read_bytes_is_whole_packets_within_bufsiz(tmp_path, bufsiz_file, bufsiz, max_read):
    """max_read_bytes is bufsiz rounded down to whole 164-byte packets."""
    path = tmp_path / "stream"
    path.write_bytes(b"")
    with open_stream(path, bufsiz_file(bufsiz)) as transport:
        assert transport.bufsiz == bufsiz
        assert transport.max_read_bytes == max_read


def test_bufsiz_defaults_to_4096_when_sysfs_file_is_missing(tmp_path):
    """Without /sys/module/spidev/parameters/bufsiz the kernel default 4096 applies."""
    assert read_bufsiz(str(tmp_path / "missing")) == 4096
    (tmp_path / "junk").write_text("lots\n")
    assert read_bufsiz(str(tmp_path / "junk")) == 4096


def test_bufsiz_smaller_than_a_packet_is_an_error(tmp_path, bufsiz_file):
    """A bufsiz below 164 bytes cannot carry one packet: SpiBufferSizeError."""
    with pytest.raises(SpiBufferSizeError) as info:
        open_stream(tmp_path / "never-opened", bufsiz_file(100))
    assert str(info.value) == (
        f"{tmp_path / 'never-opened'}: spidev bufsiz is 100 bytes, less than one 164-byte "
        "packet. Read at most max_read_bytes per transfer, or raise the limit with "
        "`spidev.bufsiz=65536` on the kernel command line (/boot/firmware/cmdline.txt) "
        "and reboot"
    )


def test_read_returns_at_most_max_read_bytes_of_whole_packets(tmp_path, bufsiz_file):
    """Each read is one transfer of whole packets within bufsiz; the stream comes back in order."""
    stream = packets(50)
    path = tmp_path / "stream"
    path.write_bytes(stream)
    with open_stream(path, bufsiz_file(4096)) as transport:
        reads = [transport.read(60 * PACKET) for _ in range(3)]
        assert transport.read(60 * PACKET) == b""
    assert [len(r) for r in reads] == [24 * PACKET, 24 * PACKET, 2 * PACKET]
    assert b"".join(reads) == stream


@pytest.mark.parametrize("n_bytes, packets_read", [(164, 1), (165, 1), (327, 1), (4096, 24)])
def test_read_rounds_down_to_whole_packets(tmp_path, bufsiz_file, n_bytes, packets_read):
    """A request that is not whole packets is rounded down: a transfer never ends mid-packet."""
    path = tmp_path / "stream"
    path.write_bytes(packets(30))
    with open_stream(path, bufsiz_file(65536)) as transport:
        assert transport.read(n_bytes) == packets(packets_read)


@pytest.mark.parametrize("n_bytes", [0, -164, 1, 163])
def test_read_of_less_than_a_packet_is_refused(tmp_path, bufsiz_file, n_bytes):
    """read() needs room for at least one 164-byte packet."""
    path = tmp_path / "stream"
    path.write_bytes(packets(3))
    with open_stream(path, bufsiz_file(4096)) as transport, pytest.raises(RangeError) as info:
        transport.read(n_bytes)
    assert str(info.value) == f"n_bytes must be >= 164 (one packet), got {n_bytes}"


def test_fifo_written_in_odd_chunks_reads_back_whole_packets(tmp_path, bufsiz_file):
    """Bytes arriving in odd-sized pieces through a FIFO are reassembled into whole packets."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    stream = packets(7)
    with open_stream(fifo, bufsiz_file(4096)) as transport:
        writer_fd = os.open(fifo, os.O_WRONLY)
        try:
            os.write(writer_fd, stream[:101])
            result = []
            reader = threading.Thread(target=lambda: result.append(transport.read(7 * PACKET)))
            reader.start()
            for start in range(101, len(stream), 37):
                os.write(writer_fd, stream[start : start + 37])
            reader.join(timeout=10)
            assert not reader.is_alive()
        finally:
            os.close(writer_fd)
    assert result == [stream]


def test_end_of_stand_in_file_drops_the_partial_packet(tmp_path, bufsiz_file):
    """A stand-in that ends returns its whole packets, then b"" (the Transport contract)."""
    path = tmp_path / "short"
    path.write_bytes(packets(1) + b"\x01" * 10)
    with open_stream(path, bufsiz_file(4096)) as transport:
        assert transport.read(2 * PACKET) == packets(1)
        assert transport.read(2 * PACKET) == b""


def test_read_after_close_returns_nothing_and_close_is_idempotent(tmp_path, bufsiz_file):
    """After close(), read() returns b""; a second close() does nothing."""
    path = tmp_path / "stream"
    path.write_bytes(packets(1))
    transport = open_stream(path, bufsiz_file(4096))
    transport.close()
    transport.close()
    assert transport.closed
    assert transport.read(PACKET) == b""


def test_resync_idles_for_185_ms_without_transfers(tmp_path, bufsiz_file):
    """resync() sleeps 0.185 s through the injected sleep and reads nothing."""
    path = tmp_path / "stream"
    path.write_bytes(packets(2))
    sleeps = []
    with open_stream(path, bufsiz_file(4096), sleep=sleeps.append) as transport:
        transport.resync()
        assert sleeps == [RESYNC_PAUSE_S] == [0.185]
        assert transport.read(2 * PACKET) == packets(2)


def test_is_a_transport_and_feeds_the_camera(tmp_path, bufsiz_file):
    """A simulated Lepton 3 stream read through SpidevTransport gives Lepton its frames back."""
    stack = np.load(DATA / "TheCacophonyProject_python-cptv__v1.frames000-008.stack.npy")[:3]
    simulator = VospiSimulator(Model.LEPTON3)
    path = tmp_path / "stream"
    path.write_bytes(b"".join(simulator.stream(stack)))
    transport = open_stream(path, bufsiz_file(4096))
    assert isinstance(transport, Transport)
    with Lepton(transport=transport, model=Model.LEPTON3) as camera:
        frames = list(camera.frames())
        assert camera.counters.crc_errors == 0
    assert len(frames) == 3
    for frame, expected in zip(frames, stack, strict=True):
        np.testing.assert_array_equal(frame.pixels, expected)
