# The emulated `image` module inside MicroPython, without a board: blank images, views,
# colours, rectangles and the text layout. (Frames, JPEG and the host side are covered by
# tests/test_sim_camera.py.) The firmware version normally comes from the board; here it is
# set directly.
import image


def firmware(*v):
    image._board = (v[0], v[1], v[2], 0)


def ink(img):
    """Set of (x, y) of non-black pixels."""
    out = set()
    for y in range(img.height()):
        for x in range(img.width()):
            if img.get_pixel(x, y) != (0, 0, 0):
                out.add((x, y))
    return out


def text_ink(text, scale=1, w=48, h=32, **kw):
    firmware(5, 0, 0)
    img = image.Image(w, h, image.RGB565)
    img.draw_string((0, 0), text, scale=scale, **kw)
    return ink(img)


def test_blank_image_and_its_views():
    img = image.Image(8, 4, image.RGB565)
    assert (img.width(), img.height(), img.format(), img.size()) == (8, 4, image.RGB565, 64)
    assert len(memoryview(img)) == 64 and bytes(img) == bytes(64)
    ba = img.bytearray()
    assert isinstance(ba, bytearray) and len(ba) == 64
    ba[5] = 0xAB                                  # a view of the pixels, not a copy
    assert memoryview(img)[5] == 0xAB
    gray = image.Image(5, 3, image.GRAYSCALE)
    assert gray.size() == 15 and len(gray) == 3


def test_colours_tuples_ints_and_default_white():
    img = image.Image(4, 1, image.RGB565)
    img.set_pixel(0, 0, (255, 0, 0))
    img.set_pixel(1, 0, 0x07E0)                   # an int is the raw RGB565 value
    img.set_pixel(2, 0)
    img.set_pixel(3, 0, (300, -5, 255))           # clamped like the firmware
    assert img.get_pixel(0, 0) == (255, 0, 0)
    assert img.get_pixel(1, 0) == (0, 255, 0)
    assert img.get_pixel(2, 0) == (255, 255, 255)
    assert img.get_pixel(3, 0) == (255, 0, 255)
    assert bytes(img)[2:4] == b"\xe0\x07"         # stored little-endian, as on the camera
    assert img.get_pixel(4, 0) is None


def test_rectangle_fill_and_border():
    firmware(4, 8, 1)
    img = image.Image(10, 10, image.RGB565)
    img.draw_rectangle((2, 2, 5, 4), color=(255, 255, 255), fill=True)
    assert ink(img) == {(x, y) for x in range(2, 7) for y in range(2, 6)}
    img = image.Image(10, 10, image.RGB565)
    img.draw_rectangle(1, 1, 4, 3, color=(255, 255, 255))       # 4.x positional form
    edge = {(x, y) for x in range(1, 5) for y in range(1, 4)} - {(2, 2), (3, 2)}
    assert ink(img) == edge
    firmware(5, 0, 0)
    try:
        img.draw_rectangle(1, 1, 4, 3)
        assert False, "5.0 takes the rectangle as a tuple only"
    except TypeError:
        pass


def test_draw_string_forms_by_firmware():
    img = image.Image(32, 16, image.RGB565)
    firmware(4, 8, 1)
    img.draw_string(0, 0, "A", color=(255, 255, 255))
    img.draw_string((0, 0, "A"), (255, 255, 255))
    try:
        img.draw_string((0, 0), "A")
        assert False, "4.x rejects the 5.0 form"
    except ValueError:                            # what 4.x raises (tuple has wrong length)
        pass
    firmware(5, 0, 0)
    img.draw_string((0, 0), "A", (255, 255, 255), 2)
    try:
        img.draw_string(0, 0, "A")
        assert False, "5.0 rejects the 4.x form"
    except TypeError:
        pass
    try:
        img.draw_string((0, 0), "A", scale=0)
        assert False
    except OSError:
        pass


def test_text_uses_the_8x10_cell():
    one = text_ink("AB")
    assert one and all(x < 16 and 1 <= y <= 8 for x, y in one)    # rows 0 and 9 blank
    assert {x // 8 for x, y in one} == {0, 1}
    assert text_ink("A\nB") != text_ink("AB")
    assert {(x, y - 10) for x, y in text_ink("\nB")} == {(x - 8, y) for x, y in text_ink(" B")}
    assert text_ink("A\x01B") == text_ink("AB")    # unknown characters take no room
    assert text_ink("A\r\nB") == text_ink("A\nB")


def test_text_scales_like_the_firmware():
    one = text_ink("7")
    two = text_ink("7", scale=2)
    assert two == {(2 * x + i, 2 * y + j) for x, y in one for i in (0, 1) for j in (0, 1)}
    half = text_ink("7", scale=1.5)
    assert half and all(x < 12 and y < 15 for x, y in half)
    spaced = text_ink("AA", x_spacing=3)
    assert min(x for x, y in spaced if x >= 8) >= min(x for x, y in text_ink("A")) + 11


def test_jpeg_images_are_immutable():
    raw = memoryview(bytearray(image.HDR + 4))
    img = image.Image(2, 2, image.JPEG, raw, 4)
    assert img.format() == image.JPEG and img.size() == 4 and len(memoryview(img)) == 4
    for draw in (lambda: img.draw_string((0, 0), "x"),
                 lambda: img.draw_rectangle((0, 0, 1, 1)),
                 lambda: img.set_pixel(0, 0)):
        try:
            draw()
            assert False, "drawing on a JPEG image must fail"
        except ValueError:
            pass
    assert img.to_jpeg(quality=50) is img          # already JPEG: nothing to do


def test_subsampling_constants():
    subs = (image.JPEG_SUBSAMPLING_AUTO, image.JPEG_SUBSAMPLING_444,
            image.JPEG_SUBSAMPLING_422, image.JPEG_SUBSAMPLING_420)
    assert len(set(subs)) == 4 and image.JPEG_SUBSAMPLING_AUTO == 0
    assert len({image.RGB565, image.GRAYSCALE, image.JPEG}) == 3
