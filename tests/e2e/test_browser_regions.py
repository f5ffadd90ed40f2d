"""Measurement regions and alarms on the viewer page, in headless Chromium against a real
daemon replaying a known frame (a 20 °C gradient with one 100 °C pixel)."""

from __future__ import annotations

import json

from websockets.sync.client import connect

from tests.e2e.test_browser import (
    COOL,
    FRAME_WAIT_MS,
    HOT,
    open_viewer,
    pixel_centre,
    wait_for_text,
    write_known_frame,
)


def regions_daemon(start_daemon, tmp_path, conf: str = ""):
    path = tmp_path / "server.conf"
    path.write_text(conf)
    return start_daemon("-c", str(path), "--source", "replay", "--replay",
                        write_known_frame(tmp_path))


def list_names(page) -> list[str]:
    return page.eval_on_selector_all("#roi-list .roi-name", "inputs => inputs.map(i => i.value)")


def test_draw_a_box_and_a_spot_see_their_values_rename_and_delete(new_page, start_daemon,
                                                                   tmp_path):
    """With "Draw regions" on, dragging over the hot pixel draws a box labelled with its max,
    clicking drops a spot labelled with its value; a second viewer sees both; renaming in
    the list and deleting change every viewer's page."""
    daemon = regions_daemon(start_daemon, tmp_path)
    page = open_viewer(new_page, daemon)
    other = open_viewer(new_page, daemon)
    assert page.is_visible("#roi-empty")
    page.click("#roi-edit")
    assert page.get_attribute("#roi-edit", "aria-pressed") == "true"

    page.mouse.move(*pixel_centre(page, 90, 20))
    page.mouse.down()
    page.mouse.move(*pixel_centre(page, 100, 30), steps=5)
    page.mouse.move(*pixel_centre(page, 110, 40), steps=5)
    page.mouse.up()
    page.wait_for_selector("#rois .roi[data-name=box1]")
    wait_for_text(page, "#rois .roi[data-name=box1] .roi-label", "box1 max 100.0°C")
    assert page.evaluate("viewer.state.rois") == [{"name": "box1", "box": [90, 20, 110, 40]}]

    page.mouse.click(*pixel_centre(page, *COOL))
    page.wait_for_selector("#rois .roi[data-name=spot1]")
    wait_for_text(page, "#rois .roi[data-name=spot1] .roi-label", "spot1 28.0°C")
    assert list_names(page) == ["box1", "spot1"]
    wait_for_text(other, "#roi-list li[data-name=spot1] .roi-value", "28.0°C")
    assert list_names(other) == ["box1", "spot1"]

    box = page.locator("#rois .roi[data-name=box1]").bounding_box()
    want_x, want_y = pixel_centre(page, 90, 20)
    half_pixel = box["width"] / 21 / 2
    assert abs(box["x"] - (want_x - half_pixel)) <= 2 and abs(box["y"] - (want_y - half_pixel)) <= 2

    page.fill("#roi-list li[data-name=box1] .roi-name", "hot-corner")
    page.press("#roi-list li[data-name=box1] .roi-name", "Enter")
    other.wait_for_selector("#rois .roi[data-name=hot-corner]", timeout=FRAME_WAIT_MS)
    wait_for_text(other, "#rois .roi[data-name=hot-corner] .roi-label", "hot-corner max 100.0°C")

    other.click("#roi-list li[data-name=spot1] .roi-delete")
    page.wait_for_function("viewer.state.rois.length === 1", timeout=FRAME_WAIT_MS)
    assert list_names(page) == ["hot-corner"] and page.locator("#rois .roi").count() == 1


def test_drag_moves_and_the_handle_resizes(new_page, start_daemon, tmp_path):
    """Dragging a region moves it by whole pixels; dragging its corner handle resizes it."""
    daemon = regions_daemon(start_daemon, tmp_path, "[ROI b]\nBox = 10 10 19 19\n")
    page = open_viewer(new_page, daemon)
    page.wait_for_selector("#rois .roi[data-name=b]")
    page.click("#roi-edit")
    page.mouse.move(*pixel_centre(page, 15, 15))
    page.mouse.down()
    page.mouse.move(*pixel_centre(page, 45, 25), steps=8)
    page.mouse.up()
    page.wait_for_function("viewer.state.rois[0].box[0] === 40", timeout=FRAME_WAIT_MS)
    assert page.evaluate("viewer.state.rois") == [{"name": "b", "box": [40, 20, 49, 29]}]
    handle = page.locator("#rois .roi[data-name=b] .roi-handle").bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(*pixel_centre(page, 60, 35), steps=8)
    page.mouse.up()
    page.wait_for_function("viewer.state.rois[0].box[2] === 60", timeout=FRAME_WAIT_MS)
    assert page.evaluate("viewer.state.rois") == [{"name": "b", "box": [40, 20, 60, 35]}]


def test_a_tap_on_a_phone_drops_a_spot(new_page, start_daemon, tmp_path):
    """On a touch screen (390x844), a tap in drawing mode drops a spot on the tapped pixel."""
    daemon = regions_daemon(start_daemon, tmp_path)
    page = open_viewer(new_page, daemon, width=390, height=844, is_mobile=True, has_touch=True,
                       device_scale_factor=2)
    page.tap("#roi-edit")
    page.touchscreen.tap(*pixel_centre(page, *HOT))
    page.wait_for_selector("#rois .roi[data-name=spot1]")
    wait_for_text(page, "#rois .roi[data-name=spot1] .roi-label", "spot1 100.0°C")
    assert page.evaluate("viewer.state.rois") == [{"name": "spot1", "spot": list(HOT), "size": 1}]


def test_alarm_banner_and_highlight_for_every_viewer(new_page, start_daemon, tmp_path):
    """An alarm over the hot pixel's box shows the banner and highlights the box on every
    page; a rule changed by command so it no longer holds takes both away."""
    daemon = regions_daemon(start_daemon, tmp_path, "[ROI b]\nBox = 95 25 105 35\n"
                            "[Alarm hot]\nROI = b\nStat = max\nAbove = 90\n")
    pages = [open_viewer(new_page, daemon), open_viewer(new_page, daemon, width=390,
                                                         height=844, is_mobile=True,
                                                         has_touch=True)]
    for page in pages:
        page.wait_for_selector("#alarm-banner:not([hidden])", timeout=FRAME_WAIT_MS)
        text = page.text_content("#alarm-banner")
        assert "hot: b max 100.0°C (above 90.0°C) since" in text, text
        assert "alarm" in page.get_attribute("#rois .roi[data-name=b]", "class")
        assert "alarm" in page.get_attribute("#roi-list li[data-name=b]", "class")
    with connect(daemon.ws_url + "/stream", open_timeout=5) as ws:
        ws.send(json.dumps({"cmd": "alarm", "op": "set", "name": "hot", "roi": "b",
                            "stat": "max", "above": 150}))
    for page in pages:
        page.wait_for_selector("#alarm-banner", state="hidden", timeout=FRAME_WAIT_MS)
        assert "alarm" not in page.get_attribute("#rois .roi[data-name=b]", "class")
