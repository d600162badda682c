import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A short real video file made by ffmpeg itself (the test owns it, in a temp dir). */
export function makeVideo(dir: string, seconds = 2, size = '320x240', rate = 30): string {
  const path = join(dir, `clip-${size}-${rate}.mkv`);
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${rate}`,
    '-t', String(seconds), '-c:v', 'mpeg4', '-q:v', '5', path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg could not make the test video: ${r.stderr}`);
  return path;
}

/**
 * A stand-in for rpicam-vid on a machine with no Pi camera: same command line, same output (raw yuv420 or
 * MJPEG on stdout), produced by ffmpeg's test source. Only the camera is fake; the pipeline is real.
 */
export function makeFakeRpicam(): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-fake-rpicam-'));
  const script = `#!/usr/bin/env bash
w=640; h=480; fps=30; codec=yuv420
while [ $# -gt 0 ]; do
  case "$1" in
    --width) w=$2; shift;; --height) h=$2; shift;; --framerate) fps=$2; shift;; --codec) codec=$2; shift;;
  esac; shift
done
if [ "$codec" = mjpeg ]; then fmt=(-c:v mjpeg -f mjpeg); else fmt=(-f rawvideo -pix_fmt yuv420p); fi
exec ffmpeg -hide_banner -nostdin -loglevel error -re -f lavfi -i "testsrc2=size=\${w}x\${h}:rate=\${fps}" "\${fmt[@]}" pipe:1
`;
  const p = join(dir, 'rpicam-vid');
  writeFileSync(p, script);
  chmodSync(p, 0o755);
  return dir;
}

/**
 * ffmpeg 4.4 (Ubuntu 22.04, JetPack 6) as far as RTSP's socket timeout goes, around the real ffmpeg: its option list
 * names it -stimeout, and -timeout there is the old name of -listen_timeout, which makes ffmpeg wait for a camera to
 * connect to it (on a camera's address that fails as below). Everything else is the real ffmpeg.
 */
export function makeFakeFfmpeg4(): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-fake-ffmpeg4-'));
  const script = `#!/usr/bin/env bash
if [ "$*" = "-hide_banner -h demuxer=rtsp" ]; then
  cat <<'HELP'
Demuxer rtsp [RTSP input]:
RTSP demuxer AVOptions:
  -initial_pause     <boolean>    .D......... do not start playing the stream immediately (default false)
  -rtsp_transport    <flags>      .D......... set RTSP transport protocols (default 0)
  -listen_timeout    <int>        .D......... set maximum timeout (in seconds) to wait for incoming connections (-1 is infinite, imply flag listen) (from INT_MIN to INT_MAX) (default -1)
  -timeout           <int>        .D......... set maximum timeout (in seconds) to wait for incoming connections (-1 is infinite, imply flag listen) (deprecated, use listen_timeout) (from INT_MIN to INT_MAX) (default -1)
  -stimeout          <int64>      .D......... set timeout (in microseconds) of socket TCP I/O operations (from INT_MIN to I64_MAX) (default 0)
HELP
  exit 0
fi
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -timeout) echo "[rtsp @ 0x5581] Unable to open RTSP for listening" >&2; exit 1;;
    -stimeout) args+=(-timeout "$2"); shift;;
    *) args+=("$1");;
  esac; shift
done
exec ffmpeg "\${args[@]}"
`;
  const p = join(dir, 'ffmpeg');
  writeFileSync(p, script);
  chmodSync(p, 0o755);
  return p;
}

/**
 * An HTTP MJPEG camera on loopback (multipart/x-mixed-replace, what IP cameras and ESP32-CAMs serve):
 * each client gets its own ffmpeg encoding a test pattern. Returns the URL and a close function.
 */
export async function startMjpegServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const { createServer } = await import('node:http');
  const { spawn } = await import('node:child_process');
  const children = new Set<import('node:child_process').ChildProcess>();
  const server = createServer((req, res) => {
    if (req.url !== '/stream.mjpg') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace;boundary=ffmpeg' });
    const ff = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30',
      '-q:v', '6', '-f', 'mpjpeg', 'pipe:1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.add(ff);
    ff.stdout.pipe(res);
    const end = () => { ff.kill('SIGKILL'); };
    req.on('close', end);
    ff.on('exit', () => { children.delete(ff); res.end(); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/stream.mjpg`,
    close: async () => {
      for (const c of children) c.kill('SIGKILL');
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
