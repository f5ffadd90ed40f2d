"""lepton.power: GPIO line specs and the libgpiod switch's errors (no GPIO chip here)."""

import pytest

from lepton.power import GpiodPowerSwitch, GpioLine, PowerSwitch, parse_gpio_line
from lepton.simulated_board import SimulatedBoard


def test_parse_gpio_line():
    """gpiochipN:OFFSET names a chip under /dev and a line; anything else is refused."""
    line = parse_gpio_line(" gpiochip0:17 ")
    assert line == GpioLine("/dev/gpiochip0", 17) and str(line) == "gpiochip0:17"
    with pytest.raises(ValueError) as caught:
        parse_gpio_line("GPIO17")
    assert str(caught.value) == (
        "GPIO line must be gpiochipN:OFFSET, e.g. gpiochip0:17, got 'GPIO17'")


def test_missing_chip_is_an_oserror_with_a_fix():
    """A chip that does not exist: PowerSwitchError (an OSError) naming it and the fix."""
    with pytest.raises(OSError) as caught:
        GpiodPowerSwitch("gpiochip99:17")
    assert caught.value.errno == 2
    assert str(caught.value) == ("/dev/gpiochip99: no such GPIO chip. "
                                 "Check the name with `ls /dev/gpiochip*` (or `gpiodetect`)")


def test_simulated_board_is_a_power_switch():
    """The simulated board satisfies the PowerSwitch protocol."""
    assert isinstance(SimulatedBoard(), PowerSwitch)
