import { afterAll, beforeAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FfmpegSource } from '../../src/camera/ffmpeg.js';
import { SyntheticSource } from '../../src/camera/synthetic.js';
import { frameSourceContract } from '../contract/framesource.js';
import { makeVideo } from './camera-fixtures.js';

// the other implementations run the same suite in camera-contract-streams.test.ts (files kept short)
const tmp = mkdtempSync(join(tmpdir(), 'edgefit-camera-'));
let video = '';
beforeAll(() => {
  video = makeVideo(tmp);
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

frameSourceContract('ffmpeg lavfi test source', (o) => new FfmpegSource('lavfi:testsrc2=size=640x480:rate=30', o));
frameSourceContract('ffmpeg video file, looped', (o) => new FfmpegSource(`file:${video}`, o));
frameSourceContract('synthetic', (o) => new SyntheticSource(o));
