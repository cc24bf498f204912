# Emulated `mimxrt` module: the internal QSPI flash as a block device (FAT on OpenMV).
import _blockdev


class Flash(_blockdev.BlockDev):
    def __init__(self):
        super().__init__("flash")
