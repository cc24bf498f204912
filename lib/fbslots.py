# Lean mode, for firmware whose GC heap is too small for frame-sized buffers (OpenMV 4.5.0-4.5.5:
# one 280 KB heap, no SDRAM heap): rtspd's frame slots and connection buffers go into the
# camera's frame-buffer memory (SDRAM outside the GC heap: 10-20 MB there) and its staging
# copy shrinks to a few KB (RtspServer(alloc=, stage=)).
#
# sensor.alloc_extra_fb(w, h, GRAYSCALE) takes w * h bytes from the frame-buffer pool (fb_alloc,
# kept until dealloc_extra_fb() or a soft reset) and the image's bytearray() is a view of those
# bytes, not a copy (firmware py_sensor.c py_sensor_alloc_extra_fb, py_image.c
# py_image_bytearray: mp_obj_new_bytearray_by_ref @v4.5.2). The sensor's own frame buffers are
# sized from what is left (framebuffer.c framebuffer_raw_buffer_size), so this works before
# or after the camera is set up.


class FbAlloc:
    """alloc(n) -> a bytearray of n bytes in frame-buffer memory (MemoryError when the pool
    is full; AttributeError/ImportError where the firmware has no sensor.alloc_extra_fb)."""

    def __init__(self):
        import sensor
        self._sensor = sensor
        self.count = 0
        self.bytes = 0

    def __call__(self, n):
        s = self._sensor
        b = s.alloc_extra_fb(n, 1, s.GRAYSCALE).bytearray()     # one row of n pixels
        self.count += 1
        self.bytes += n
        return b

    def free(self):
        """Give everything back (newest first, as fb_alloc is a stack)."""
        for _ in range(self.count):
            self._sensor.dealloc_extra_fb()
        self.count = 0
        self.bytes = 0
