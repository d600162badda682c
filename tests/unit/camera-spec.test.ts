import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { cropScaleFilter, ffmpegArgs, parseFfmpegSpec } from '../../src/camera/ffmpeg-args.js';
import { parseRtspTimeoutOption } from '../../src/camera/ffmpeg-features.js';
import { diagnose, redactSource, StderrTail } from '../../src/camera/diagnose.js';
import { defaultCaptureSize, parseRpicamSpec } from '../../src/camera/rpicam.js';
import { createFrameSource, findCamera } from '../../src/camera/registry.js';
import { FfmpegSource } from '../../src/camera/ffmpeg.js';
import { FolderSource } from '../../src/camera/folder.js';
import { RpicamSource } from '../../src/camera/rpicam.js';
import { SyntheticSource } from '../../src/camera/synthetic.js';
import { sharedData } from '../../src/util/paths.js';

const opts = { width: 224, height: 224, fps: 30, watchdogSeconds: 10, loop: true };
const args = (spec: string, o: Partial<{ loop: boolean; realtime: boolean }> = {}) =>
  ffmpegArgs(parseFfmpegSpec(spec), { width: 224, height: 224 }, { fps: 15, loop: o.loop ?? false, realtime: o.realtime ?? true, timeoutSeconds: 5 });
const before = (a: string[], flag: string) => a.indexOf(flag) < a.indexOf('-i');

describe('ffmpeg source specs and arguments', () => {
  it('classifies every input kind', () => {
    expect(parseFfmpegSpec('/dev/video2')).toEqual({ kind: 'v4l2', url: '/dev/video2', extra: [] });
    expect(parseFfmpegSpec('rtsp://u:p@cam/live').kind).toBe('rtsp');
    expect(parseFfmpegSpec('http://cam:8080/video.mjpg').kind).toBe('http');
    expect(parseFfmpegSpec('lavfi:testsrc2=size=640x480:rate=30')).toEqual({ kind: 'lavfi', url: 'testsrc2=size=640x480:rate=30', extra: [] });
    expect(parseFfmpegSpec('file:/tmp/a.mp4')).toEqual({ kind: 'file', url: '/tmp/a.mp4', extra: [] });
    expect(parseFfmpegSpec('ffmpeg:/tmp/a.mp4').kind).toBe('file');
    expect(parseFfmpegSpec('/dev/video0?input_format=mjpeg&video_size=1280x720').extra).toEqual(['-input_format', 'mjpeg', '-video_size', '1280x720']);
  });

  it('refuses bad specs with a message that says what is expected', () => {
    expect(() => parseFfmpegSpec('')).toThrow(/empty/);
    expect(() => parseFfmpegSpec('lavfi:')).toThrow(/filtergraph/);
    expect(() => parseFfmpegSpec('/dev/videoX')).toThrow(/videoN/);
    expect(() => parseFfmpegSpec('/dev/video0?evil=1')).toThrow(/unknown option evil/);
    expect(() => parseFfmpegSpec('/dev/video0?video_size=-vf')).toThrow(/bad value/);
    expect(() => parseFfmpegSpec('gopher://x/y')).toThrow(/unsupported scheme/);
  });

  it('the RTSP socket timeout: -timeout from ffmpeg 5 on, -stimeout before (where -timeout means listen)', () => {
    const at = (a: string[], flag: string) => a.slice(a.indexOf(flag), a.indexOf(flag) + 2);
    const o = { fps: 15, loop: false, realtime: true, timeoutSeconds: 5 };
    const modern = ffmpegArgs(parseFfmpegSpec('rtsp://cam/x'), { width: 64, height: 64 }, { ...o, rtspTimeoutOption: 'timeout' });
    expect(at(modern, '-timeout')).toEqual(['-timeout', '5000000']);
    expect(modern).not.toContain('-stimeout');
    const old = ffmpegArgs(parseFfmpegSpec('rtsp://cam/x'), { width: 64, height: 64 }, { ...o, rtspTimeoutOption: 'stimeout' });
    expect(at(old, '-stimeout')).toEqual(['-stimeout', '5000000']);
    expect(old).not.toContain('-timeout');
    // the option lists of ffmpeg 5.1 and 4.4 (`ffmpeg -h demuxer=rtsp`)
    expect(parseRtspTimeoutOption([
      '  -listen_timeout    <int>        .D......... set maximum timeout (in seconds) to wait for incoming connections (-1 is infinite, imply flag listen)',
      '  -timeout           <int64>      .D......... set timeout (in microseconds) of socket I/O operations (from INT_MIN to I64_MAX) (default 0)',
    ].join('\n'))).toBe('timeout');
    expect(parseRtspTimeoutOption([
      '  -timeout           <int>        .D......... set maximum timeout (in seconds) to wait for incoming connections (-1 is infinite, imply flag listen) (deprecated, use listen_timeout)',
      '  -stimeout          <int64>      .D......... set timeout (in microseconds) of socket TCP I/O operations (from INT_MIN to I64_MAX) (default 0)',
    ].join('\n'))).toBe('stimeout');
    expect(parseRtspTimeoutOption('')).toBe('timeout');
  });

  it('builds the per-kind options: tcp for RTSP, -re and -stream_loop for files, -re for lavfi', () => {
    const rtsp = args('rtsp://cam/x');
    expect(rtsp.slice(rtsp.indexOf('-rtsp_transport'), rtsp.indexOf('-rtsp_transport') + 2)).toEqual(['-rtsp_transport', 'tcp']);
    expect(before(rtsp, '-timeout')).toBe(true);
    expect(rtsp).not.toContain('-re');
    const looped = args('/v.mp4', { loop: true });
    expect(before(looped, '-re') && before(looped, '-stream_loop')).toBe(true);
    expect(looped[looped.indexOf('-stream_loop') + 1]).toBe('-1');
    expect(args('/v.mp4')).not.toContain('-stream_loop');
    expect(args('/v.mp4', { realtime: false })).not.toContain('-re');
    expect(before(args('lavfi:testsrc2'), '-re')).toBe(true);
    const still = args('/photos/cat.JPG', { loop: true });
    expect(still.slice(still.indexOf('-loop'), still.indexOf('-loop') + 4)).toEqual(['-loop', '1', '-framerate', '15']);
    expect(still).not.toContain('-stream_loop');
    expect(still[still.indexOf('-vf') + 1]).not.toMatch(/fps=/);
    expect(looped[looped.indexOf('-vf') + 1]).toMatch(/^fps=15,crop=/);
    const v4l2 = args('/dev/video0');
    expect(v4l2.slice(v4l2.indexOf('-f'), v4l2.indexOf('-f') + 2)).toEqual(['-f', 'v4l2']);
    for (const a of [rtsp, looped, v4l2]) {
      expect(a.slice(-5)).toEqual(['-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
      expect(a.slice(0, 4)).toEqual(['-hide_banner', '-nostdin', '-loglevel', 'error']);
    }
  });

  it('crops to the output aspect before scaling', () => {
    expect(cropScaleFilter({ width: 224, height: 224 })).toBe("crop=w='min(iw,ih*1/1)':h='min(ih,iw*1/1)',scale=224:224:flags=bicubic,format=rgb24");
    expect(cropScaleFilter({ width: 320, height: 240 })).toContain("crop=w='min(iw,ih*4/3)':h='min(ih,iw*3/4)'");
    // a detector's frame: the whole picture squashed, no crop
    expect(cropScaleFilter({ width: 300, height: 300, fit: 'stretch' })).toBe('scale=300:300:flags=bilinear,format=rgb24');
  });
});

describe('diagnosis of capture failures', () => {
  const exit = { code: 1, signal: null };
  it('names the cause and what to do', () => {
    expect(diagnose('/dev/video99', ['/dev/video99: No such file or directory'], exit)).toMatch(/does not exist.*plugged in/);
    expect(diagnose('/dev/video0', ['Cannot open video device /dev/video0: Permission denied'], exit)).toMatch(/permission denied.*'video' group/);
    expect(diagnose('rtsp://a:secret@h/x', ['rtsp://a:secret@h/x: Connection refused'], exit)).toBe('connection refused by rtsp://a:***@h/x: is the camera or stream server up, and the host and port right?');
    expect(diagnose('/dev/video0', ['Device or resource busy'], exit)).toMatch(/busy/);
    expect(diagnose('http://h/x', ['Server returned 401 Unauthorized (authorization failed)'], exit)).toMatch(/credentials/);
    expect(diagnose('x', [], { code: null, signal: 'SIGKILL' })).toBe('capture of x was killed by SIGKILL without saying why');
    expect(diagnose('x', ['weird thing'], exit)).toBe('capture of x exited with code 1: weird thing');
  });

  it('redacts passwords and bounds stderr', () => {
    expect(redactSource('rtsp://admin:hunter2@10.0.0.5:554/s')).toBe('rtsp://admin:***@10.0.0.5:554/s');
    expect(redactSource('http://10.0.0.5:8080/s')).toBe('http://10.0.0.5:8080/s');
    expect(redactSource('/data/cam@1.mp4')).toBe('/data/cam@1.mp4');
    // a password holding '@' or '/' is hidden whole, in the source and in what ffmpeg printed about it
    const src = 'rtsp://admin:p@ss/w0rd@10.0.0.5/s';
    const msg = diagnose(src, [`[rtsp @ 0x55] method DESCRIBE failed for ${src} p@ss/w0rd`], exit);
    expect(msg).not.toMatch(/p@ss|w0rd/);
    expect(msg).toContain('rtsp://admin:***@10.0.0.5/s');
    const t = new StderrTail(100);
    for (let i = 0; i < 1000; i++) t.push(`line ${i}\n`);
    expect(t.last()).toBe('line 999');
    expect(t.lines().join('\n').length).toBeLessThanOrEqual(100);
  });
});

describe('rpicam specs', () => {
  it('parses camera, codec and capture size', () => {
    expect(parseRpicamSpec('rpicam')).toEqual({ camera: 0, codec: 'yuv420', capture: null });
    expect(parseRpicamSpec('libcamera:1?codec=mjpeg&capture=1296x972')).toEqual({ camera: 1, codec: 'mjpeg', capture: { width: 1296, height: 972 } });
    expect(() => parseRpicamSpec('rpicam?capture=1296x972')).toThrow(/multiple of 64/);
    expect(() => parseRpicamSpec('rpicam?codec=h264')).toThrow(/codec/);
  });
  it('captures 4:3 at widths that are multiples of 64, large enough for the output', () => {
    expect(defaultCaptureSize({ width: 224, height: 224 })).toEqual({ width: 640, height: 480 });
    expect(defaultCaptureSize({ width: 512, height: 512 })).toEqual({ width: 1280, height: 960 });
  });
});

describe('registry', () => {
  it('creates the source a spec names', async () => {
    expect(await createFrameSource('synthetic', opts)).toBeInstanceOf(SyntheticSource);
    expect(await createFrameSource('rpicam:0', opts)).toBeInstanceOf(RpicamSource);
    expect(await createFrameSource(join(sharedData, 'images', 'test'), opts)).toBeInstanceOf(FolderSource);
    expect(await createFrameSource('folder:/nonexistent', opts)).toBeInstanceOf(FolderSource);
    for (const s of ['/dev/video0', 'rtsp://h/x', 'https://h/x.mjpg', 'lavfi:testsrc2', '/tmp/clip.mp4']) {
      expect(await createFrameSource(s, opts)).toBeInstanceOf(FfmpegSource);
    }
    expect((await createFrameSource('rtsp://u:pw@h/x', opts)).name).toBe('ffmpeg:rtsp://u:***@h/x');
    await expect(createFrameSource(' ', opts)).rejects.toThrow(/empty/);
    await expect(createFrameSource('synthetic', { ...opts, width: -3 })).rejects.toThrow(/width/);
  });

  it('auto picks the first device that is a capture device, else synthetic', async () => {
    const probe = (usable: string[]) => ({ devices: async () => ['/dev/video0', '/dev/video1', '/dev/video2'], usable: async (d: string) => usable.includes(d) });
    expect(await findCamera(probe(['/dev/video1', '/dev/video2']))).toBe('/dev/video1');
    expect(await findCamera(probe([]))).toBeNull();
    // this machine has no camera: auto falls back to the synthetic pattern
    const s = await createFrameSource('auto', opts);
    expect(s.name === 'synthetic' || s.name.startsWith('ffmpeg:/dev/video')).toBe(true);
  });
});
