import { execFile } from 'node:child_process';

/**
 * The name of the RTSP demuxer's socket timeout (microseconds). ffmpeg 5.0 renamed it: up to 4.4 (Ubuntu 20.04 and
 * 22.04, hence JetPack 5 and 6; Debian 11) it is `-stimeout`, and `-timeout` there is the deprecated name of
 * `-listen_timeout` (seconds) that turns the client into an RTSP *server* waiting for a camera to connect to it.
 */
export type RtspTimeoutOption = 'timeout' | 'stimeout';

const rtspTimeout = new Map<string, Promise<RtspTimeoutOption>>();

/**
 * Asks the ffmpeg program which name its RTSP socket timeout has (once per program path). Reads the option list
 * rather than the version string: distribution and git builds spell their versions every which way. An ffmpeg that
 * cannot be asked gets the current name; starting it then fails with the usual "not installed" message.
 */
export function rtspTimeoutOption(ffmpegPath: string): Promise<RtspTimeoutOption> {
  let known = rtspTimeout.get(ffmpegPath);
  if (!known) {
    known = new Promise((resolve) => {
      execFile(ffmpegPath, ['-hide_banner', '-h', 'demuxer=rtsp'], { timeout: 10_000, maxBuffer: 1 << 20 }, (err, stdout) => {
        const help = String(stdout ?? '');
        // not remembered when unanswered: ffmpeg may be installed (or come back) while the daemon retries
        if (err && help === '') rtspTimeout.delete(ffmpegPath);
        resolve(parseRtspTimeoutOption(help));
      });
    });
    rtspTimeout.set(ffmpegPath, known);
  }
  return known;
}

/** From the output of `ffmpeg -h demuxer=rtsp`. */
export function parseRtspTimeoutOption(help: string): RtspTimeoutOption {
  return /^\s*-stimeout\s/m.test(help) ? 'stimeout' : 'timeout';
}
