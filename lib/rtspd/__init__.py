# rtspd: RTSP server + RTP/JPEG (RFC 2435) streamer + RTCP for the OpenMV Cam RT1062.
# (Not called `rtsp`: the firmware freezes OpenMV's own module of that name, and frozen wins.)
from rtspd.server import RtspServer

__all__ = ("RtspServer",)
