#!/usr/bin/env node
// Runs before `npm test`: the suite talks to a real mosquitto, ffmpeg, Chromium and RTSP camera (GStreamer). On a fresh Debian/Ubuntu
// machine as root they are installed with apt; otherwise this prints the command to run and stops.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const needs = [
  { pkg: 'mosquitto', paths: ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'] },
  { pkg: 'mosquitto-clients', paths: ['/usr/bin/mosquitto_sub'] },
  { pkg: 'ffmpeg', paths: ['/usr/bin/ffmpeg'] },
  { pkg: 'chromium', paths: ['/usr/bin/chromium'] },
  // the dashboard's /metrics is scraped by a real Prometheus (tests/serial/dashboard-prometheus.test.ts)
  { pkg: 'prometheus', paths: ['/usr/bin/prometheus'] },
  // the service unit's checks: systemd-analyze verify/security, and its system call filter applied with seccomp
  { pkg: 'systemd', paths: ['/usr/bin/systemd-analyze'] },
  { pkg: 'python3-seccomp', paths: ['/usr/lib/python3/dist-packages/seccomp.cpython-311-x86_64-linux-gnu.so'], probe: ['/usr/bin/python3', '-c', 'import seccomp'] },
  // the RTSP camera of the tests (tests/helpers/rtsp-server.py): GStreamer's RTSP server streaming videotestsrc
  // (base) as H.264 (x264enc: ugly) in RTP (rtph264pay: good), driven from Debian's python3 through gi
  { pkg: 'python3-gi', paths: [], probe: ['/usr/bin/python3', '-c', 'import gi'] },
  { pkg: 'gir1.2-gst-rtsp-server-1.0', paths: [], probe: gstProbe('') },
  { pkg: 'gstreamer1.0-plugins-base', paths: [], probe: gstProbe('videotestsrc') },
  { pkg: 'gstreamer1.0-plugins-good', paths: [], probe: gstProbe('rtph264pay') },
  { pkg: 'gstreamer1.0-plugins-ugly', paths: [], probe: gstProbe('x264enc') },
];
/** a python probe that the GStreamer RTSP server loads and, if given, that the element exists */
function gstProbe(element) {
  const find = element ? `; Gst.init(None); assert Gst.ElementFactory.find('${element}')` : '';
  return ['/usr/bin/python3', '-c', `import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); from gi.repository import Gst, GstRtspServer${find}`];
}
const present = (n) => n.paths.some((p) => existsSync(p)) || (n.probe !== undefined && spawnSync(n.probe[0], n.probe.slice(1), { stdio: 'ignore' }).status === 0);
const missing = needs.filter((n) => !present(n)).map((n) => n.pkg);
if (missing.length === 0) process.exit(0);
const isRoot = process.getuid?.() === 0;
const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
if (!isRoot || !hasApt) {
  console.error(`the tests need: ${missing.join(' ')}\n  install them with:  sudo apt-get install -y --no-install-recommends ${missing.join(' ')}`);
  process.exit(1);
}
console.error(`installing test dependencies: ${missing.join(' ')}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
// the distribution's broker and Prometheus services are not wanted: tests start their own on free loopback ports
for (const service of ['mosquitto', 'prometheus']) {
  spawnSync('systemctl', ['stop', service], { stdio: 'ignore' });
  spawnSync('systemctl', ['disable', service], { stdio: 'ignore' });
}
