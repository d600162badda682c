import { afterAll, beforeAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FfmpegSource } from '../../src/camera/ffmpeg.js';
import { FolderSource } from '../../src/camera/folder.js';
import { RpicamSource } from '../../src/camera/rpicam.js';
import { SyntheticSource } from '../../src/camera/synthetic.js';
import { sharedData } from '../../src/util/paths.js';
import { frameSourceContract } from '../contract/framesource.js';
import { makeFakeRpicam, makeVideo, startMjpegServer } from './camera-fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'edgefit-camera-'));
let video = '';
let fakeRpicamDir = '';
let mjpeg: Awaited<ReturnType<typeof startMjpegServer>> | null = null;
beforeAll(async () => {
  video = makeVideo(tmp);
  fakeRpicamDir = makeFakeRpicam();
  mjpeg = await startMjpegServer();
});
afterAll(async () => {
  await mjpeg?.close();
  rmSync(tmp, { recursive: true, force: true });
  if (fakeRpicamDir) rmSync(fakeRpicamDir, { recursive: true, force: true });
});

frameSourceContract('ffmpeg lavfi test source', (o) => new FfmpegSource('lavfi:testsrc2=size=640x480:rate=30', o));
frameSourceContract('ffmpeg video file, looped', (o) => new FfmpegSource(`file:${video}`, o));
frameSourceContract('ffmpeg HTTP MJPEG stream', (o) => new FfmpegSource(mjpeg!.url, o));
frameSourceContract('folder of photos', (o) => new FolderSource(join(sharedData, 'images', 'test'), o));
frameSourceContract('synthetic', (o) => new SyntheticSource(o));
frameSourceContract('rpicam pipeline (stand-in camera binary, real ffmpeg)', (o) => new RpicamSource('rpicam', { ...o, searchPath: fakeRpicamDir }));
