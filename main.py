# main.py: the OpenMV Cam RT1062 IP camera (RTSP, 720p). Settings: config.json.
#
# Find the drive the app must run from first (boot.py's SD card decision, or the same check
# made now when the app was started from OpenMV IDE without boot.py), so every module below
# is imported from that drive; then run the camera (lib/ipcam.py).
import sdcheck

sdcheck.decide()

import ipcam

ipcam.main()
