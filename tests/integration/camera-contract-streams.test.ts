import { afterAll, beforeAll } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { FfmpegSource } from '../../src/camera/ffmpeg.js';
import { FolderSource } from '../../src/camera/folder.js';
import { RpicamSource } from '../../src/camera/rpicam.js';
import { sharedData } from '../../src/util/paths.js';
import { frameSourceContract } from '../contract/framesource.js';
import { makeFakeRpicam, startMjpegServer } from './camera-fixtures.js';

let fakeRpicamDir = '';
let mjpeg: Awaited<ReturnType<typeof startMjpegServer>> | null = null;
beforeAll(async () => {
  fakeRpicamDir = makeFakeRpicam();
  mjpeg = await startMjpegServer();
});
afterAll(async () => {
  await mjpeg?.close();
  if (fakeRpicamDir) rmSync(fakeRpicamDir, { recursive: true, force: true });
});

frameSourceContract('ffmpeg HTTP MJPEG stream', (o) => new FfmpegSource(mjpeg!.url, o));
frameSourceContract('folder of photos', (o) => new FolderSource(join(sharedData, 'images', 'test'), o));
frameSourceContract('rpicam pipeline (stand-in camera binary, real ffmpeg)', (o) => new RpicamSource('rpicam', { ...o, searchPath: fakeRpicamDir }));
