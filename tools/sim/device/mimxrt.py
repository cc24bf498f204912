# Emulated `mimxrt` module: the internal QSPI flash as a block device (FAT on OpenMV).
# Shaped by the firmware profile at the end of this file.
import _blockdev
import _profile


class Flash(_blockdev.BlockDev):
    def __init__(self):
        super().__init__("flash")


_profile.gate(globals(), "mimxrt")
_profile.forget("mimxrt")
