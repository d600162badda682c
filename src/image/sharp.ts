import type SharpType from 'sharp';

let loaded: Promise<typeof SharpType> | undefined;

/**
 * sharp (libvips) on first use: it adds ~27 MB to a process, which a daemon reading a V4L2 camera through ffmpeg
 * never needs. Image files (folder camera, classify, calibration) and snapshots load it when they first run.
 */
export function loadSharp(): Promise<typeof SharpType> {
  loaded ??= import('sharp').then((m) => (m as unknown as { default: typeof SharpType }).default ?? (m as unknown as typeof SharpType));
  return loaded;
}
