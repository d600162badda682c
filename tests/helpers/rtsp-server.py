# A real RTSP camera for the tests: Debian's GStreamer RTSP server on loopback, streaming videotestsrc as H.264
# (x264enc), as IP cameras do. Needs gir1.2-gst-rtsp-server-1.0, python3-gi, gstreamer1.0-plugins-{base,good,ugly}
# (scripts/test-deps.mjs installs them). Prints one line "RTSP READY rtsp://127.0.0.1:PORT/PATH" once it listens.
#   rtsp-server.py PORT PATH WIDTH HEIGHT FPS
import signal, sys

import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer

port, path, width, height, fps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
if not path.startswith("/"):
    path = "/" + path
Gst.init(None)

# is-live: frames at the stream's rate, like a camera (not as fast as the CPU allows). One key frame per second
# and no B-frames (tune=zerolatency): a client that connects late, or again after an outage, decodes within a
# second. The factory is shared: every client sees the same stream, started on the first DESCRIBE.
launch = (
    f"( videotestsrc is-live=true pattern=smpte ! video/x-raw,width={width},height={height},framerate={fps}/1 "
    f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} bitrate=500 "
    f"! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1 )"
)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(launch)
factory.set_shared(True)

server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
server.get_mount_points().add_factory(path, factory)
if server.attach(None) == 0:
    print(f"cannot listen on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    sys.exit(2)

loop = GLib.MainLoop()
for sig in (signal.SIGTERM, signal.SIGINT):
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
print(f"RTSP READY rtsp://127.0.0.1:{port}{path}", flush=True)
loop.run()
