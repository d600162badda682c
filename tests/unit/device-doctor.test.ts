import { describe, it, expect, vi } from 'vitest';
import { Command } from 'commander';
import { cp, mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../src/util/paths.js';
import { probeDevice } from '../../src/device/probe.js';
import { diagnose, type DoctorReport } from '../../src/device/doctor.js';
import { renderDoctor } from '../../src/device/doctor-render.js';
import { createFakeOrt, JETSON_GPU_BACKENDS, NPM_ARM64_BACKENDS } from '../../src/device/fake-ort.js';
import type { OrtBindingLike } from '../../src/device/providers.js';
import { register } from '../../src/cli/doctor.js';

const boards = join(projectRoot, 'tests/fixtures/boards');

async function doctorFor(root: string, ort?: OrtBindingLike): Promise<DoctorReport> {
  return diagnose(await probeDevice({ root, ort }));
}

function lines(r: DoctorReport, area: string, level?: string): string[] {
  return r.advice.filter((a) => a.area === area && (!level || a.level === level)).map((a) => a.text);
}

async function copyBoard(name: string): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), `edgefit-${name}-`));
  await cp(join(boards, name), root, { recursive: true });
  return root;
}

describe('doctor advice on recorded boards', () => {
  it('Pi 4: power supply, missing ffmpeg, rpicam found, cgroup cap, NEON int8', async () => {
    const r = await doctorFor(join(boards, 'pi4'));
    expect(lines(r, 'power', 'warn')).toEqual(['under-voltage since boot (throttled=0x50000): use a 5.1 V 3 A power supply and a short cable']);
    expect(lines(r, 'thermal', 'info')).toEqual(['since boot: throttled (throttled=0x50000); not now']);
    expect(lines(r, 'camera', 'warn')).toEqual(['ffmpeg not found: USB (V4L2) and RTSP cameras need it: `sudo apt install ffmpeg`']);
    expect(lines(r, 'camera', 'ok')).toContain('CSI camera modules: /usr/bin/rpicam-vid found (libcamera)');
    // the codec/ISP nodes of the SoC are not offered as cameras
    expect(lines(r, 'camera', 'ok')).toContain('V4L2 camera devices: /dev/video0 (HD Pro Webcam C920), /dev/video1 (HD Pro Webcam C920)');
    expect(lines(r, 'memory')[0]).toMatch(/^cgroup v2 caps this process at 512 MB \(140 MB used\): models are sized to 372 MB/);
    expect(lines(r, 'int8', 'ok')[0]).toMatch(/plain NEON/);
    expect(lines(r, 'broker')).toEqual(['no mosquitto: `sudo apt install mosquitto`, or let edgefit start its embedded broker (aedes)']);
    expect(lines(r, 'gpu')).toEqual([]);
    expect(lines(r, 'runtime', 'info')[0]).toMatch(/providers not probed/);
  });

  it('Pi 5: everything installed, never throttled, dot-product int8', async () => {
    const r = await doctorFor(join(boards, 'pi5'));
    expect(r.advice.filter((a) => a.level === 'warn')).toEqual([]);
    expect(lines(r, 'thermal', 'ok')).toEqual(['no under-voltage or throttling since boot (throttled=0x0)']);
    expect(lines(r, 'broker', 'ok')).toEqual(['mosquitto found (/usr/sbin/mosquitto)']);
    expect(lines(r, 'int8', 'ok')[0]).toMatch(/dot-product/);
    // rp1-cfe and pispbe are the CSI receiver and ISP, reached through libcamera
    expect(lines(r, 'camera').some((t) => t.startsWith('V4L2 camera devices'))).toBe(false);
  });

  it('Pi 4 throttled now, hot, vcgencmd missing: warnings say so', async () => {
    const root = await copyBoard('pi4');
    try {
      await writeFile(join(root, 'commands/vcgencmd_get_throttled.txt'), 'throttled=0x6\n');
      await writeFile(join(root, 'sys/class/thermal/thermal_zone0/temp'), '82000\n');
      const r = await doctorFor(root);
      expect(lines(r, 'thermal', 'warn')).toEqual([
        'cpu-thermal at 82 °C: close to thermal throttling; add a heatsink or fan before profiling',
        'firmware reports now: ARM frequency capped, throttled (throttled=0x6): measurements taken now are pessimistic',
      ]);
      expect(lines(r, 'power')).toEqual([]);
      await unlink(join(root, 'commands/vcgencmd_get_throttled.txt'));
      const r2 = await doctorFor(root);
      expect(lines(r2, 'thermal', 'info')).toEqual(['throttling not checked: vcgencmd not found (`sudo apt install raspi-utils`)']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('Jetson Orin with the stock npm package: names the missing GPU build, libraries and JetPack are fine', async () => {
    const r = await doctorFor(join(boards, 'jetson-orin'), createFakeOrt({ backends: NPM_ARM64_BACKENDS, working: ['cpu'] }));
    expect(lines(r, 'gpu', 'ok')).toEqual([
      'JetPack 6.0 (L4T R36.3.0): CUDA 12 generation',
      'GPU libraries found: CUDA runtime 12.2.140, cuDNN 8.9.4, TensorRT 8.6.2',
    ]);
    const warns = lines(r, 'gpu', 'warn');
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatch(/^the onnxruntime binding exposes no cuda or tensorrt provider: the npm linux-arm64 package is CPU-only: build onnxruntime on the board with .*--build_nodejs --use_cuda .*--use_tensorrt/);
    expect(lines(r, 'runtime', 'ok')).toEqual(['onnxruntime 1.30.0 (simulated binding): providers proven by a session: cpu']);
    expect(lines(r, 'memory', 'info')[0]).toMatch(/GPU shares the 7442 MB of RAM/);
    expect(lines(r, 'camera', 'info')[0]).toMatch(/vi-output .* raw Bayer/);
  });

  it('Jetson Orin with a JetPack GPU build: cuda and tensorrt proven', async () => {
    const r = await doctorFor(join(boards, 'jetson-orin'), createFakeOrt({ backends: JETSON_GPU_BACKENDS, working: ['cpu', 'cuda', 'tensorrt'] }));
    expect(lines(r, 'gpu', 'warn')).toEqual([]);
    expect(lines(r, 'gpu', 'ok').filter((t) => / proven: /.test(t))).toEqual([
      'cuda proven: session with only cuda ran the probe model; profiler shows every node on CUDAExecutionProvider',
      'tensorrt proven: session with only tensorrt ran the probe model; profiler shows every node on TensorrtExecutionProvider',
    ]);
  });

  it('Jetson Orin with a CUDA-only build: tensorrt named as missing from the binding', async () => {
    const r = await doctorFor(join(boards, 'jetson-orin'), createFakeOrt({ backends: JETSON_GPU_BACKENDS.filter((b) => b.name !== 'tensorrt'), working: ['cpu', 'cuda'] }));
    expect(lines(r, 'gpu', 'warn')).toEqual([expect.stringMatching(/^the onnxruntime binding exposes no tensorrt provider: /)]);
    expect(lines(r, 'gpu', 'ok')).toContain('cuda proven: session with only cuda ran the probe model; profiler shows every node on CUDAExecutionProvider');
  });

  it('Jetson Orin missing TensorRT and the GPU device node, with a cuda provider that fails to load', async () => {
    const root = await copyBoard('jetson-orin');
    try {
      await rm(join(root, 'usr/lib/aarch64-linux-gnu/libnvinfer.so.8'));
      await rm(join(root, 'usr/lib/aarch64-linux-gnu/libnvinfer.so.8.6.2'));
      await rm(join(root, 'dev/nvgpu'), { recursive: true });
      const fake = createFakeOrt({
        backends: JETSON_GPU_BACKENDS,
        working: ['cpu'],
        failing: { cuda: 'CUDA failure 100: no CUDA-capable device is detected', tensorrt: 'libnvinfer.so.8: cannot open shared object file' },
      });
      const r = await doctorFor(root, fake);
      expect(lines(r, 'gpu', 'warn')).toEqual([
        'no GPU device node (/dev/nvgpu, /dev/nvhost-ctrl-gpu, /dev/nvidia0): the GPU driver is not loaded, or this container was started without --runtime nvidia',
        'libnvinfer (TensorRT) not found: the tensorrt provider cannot work without it: install `sudo apt install nvidia-jetpack`',
        'cuda is listed but a session with it failed: CUDA failure 100: no CUDA-capable device is detected',
        'tensorrt is listed but a session with it failed: libnvinfer.so.8: cannot open shared object file',
      ]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('JetPack 4 (Jetson Nano): glibc 2.27 is too old for the prebuilt binaries', async () => {
    const root = await copyBoard('jetson-orin');
    try {
      await writeFile(join(root, 'proc/device-tree/model'), 'NVIDIA Jetson Nano Developer Kit\0');
      const a57 = 'processor\t: 0\nmodel name\t: ARMv8 Processor rev 1 (v8l)\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x1\nCPU part\t: 0xd07\nCPU revision\t: 1\n\n';
      await writeFile(join(root, 'proc/cpuinfo'), [0, 1, 2, 3].map((i) => a57.replace('processor\t: 0', `processor\t: ${i}`)).join(''));
      await writeFile(join(root, 'etc/nv_tegra_release'), '# R32 (release), REVISION: 7.4, GCID: 33514132, BOARD: t210ref, EABI: aarch64\n');
      await writeFile(join(root, 'etc/os-release'), 'ID=ubuntu\nVERSION_ID="18.04"\nPRETTY_NAME="Ubuntu 18.04.6 LTS"\n');
      const r = await doctorFor(root);
      expect(r.device.board.kind).toBe('jetson-nano');
      expect(r.device.cpu).toMatchObject({ model: 'Cortex-A57', cores: 4 });
      expect(r.device.cpu.int8.kernel).toBe('arm-neon');
      expect(lines(r, 'runtime', 'warn')[0]).toMatch(/^glibc 2.27 is older than 2.28/);
      expect(lines(r, 'gpu', 'warn')[0]).toMatch(/^JetPack 4.6.4 \(L4T R32.7.4, Ubuntu 18.04, glibc 2.27\) is too old/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('x86 without VNNI: int8 fidelity warning, no GPU advice without a GPU device, Docker cgroup v1 cap', async () => {
    const r = await doctorFor(join(boards, 'x86'));
    expect(lines(r, 'int8', 'warn')[0]).toMatch(/no VNNI: .*saturation.*7 bits \(reduce_range\) or verify fidelity/);
    expect(lines(r, 'gpu')).toEqual([]);
    expect(lines(r, 'memory')[0]).toMatch(/^cgroup v1 caps this process at 2048 MB \(300 MB used\): models are sized to 1748 MB/);
    expect(lines(r, 'camera', 'info')[0]).toMatch(/no \/dev\/video\* camera/);
  });

  it('renders facts, features and every advice line', async () => {
    const r = await doctorFor(join(boards, 'pi4'));
    const text = renderDoctor(r);
    expect(text).toMatch(/^edgefit doctor: Raspberry Pi 4 Model B Rev 1.4 \(raspberry-pi-4\)/);
    expect(text).toContain('4x Cortex-A72 (part 0xd08) @ 1800 MHz');
    expect(text).toContain('0x50000: now none; since boot under-voltage, throttled');
    expect(text).toMatch(/asimddp +no +no dot product/);
    for (const a of r.advice) expect(text).toContain(a.text);
    // warnings first
    expect(text.indexOf('[warn]')).toBeLessThan(text.indexOf('[ok]'));
  });
});

describe('edgefit doctor command', () => {
  // in-process, with only this command registered: the compiled CLI also loads every other command
  async function doctorCli(args: string[]): Promise<string> {
    const program = new Command().exitOverride();
    register(program);
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    try {
      await program.parseAsync(['node', 'edgefit', 'doctor', ...args]);
    } finally {
      spy.mockRestore();
    }
    return out;
  }

  it('prints the JSON report of a recorded tree', async () => {
    const r = JSON.parse(await doctorCli(['--json', '--root', join(boards, 'pi5')])) as DoctorReport;
    expect(r.device.board.kind).toBe('raspberry-pi-5');
    expect(r.fingerprint).toBe('raspberry-pi-5_cortex-a76-x4_asimd.asimddp_ort-none');
    expect(r.advice.length).toBeGreaterThan(3);
  });

  it('simulated providers need a recorded tree and valid names, and are marked simulated', async () => {
    await expect(doctorCli(['--simulate-providers', 'cpu,cuda'])).rejects.toThrow(/--simulate-providers only applies to a recorded tree/);
    await expect(doctorCli(['--root', join(boards, 'pi5'), '--simulate-providers', 'cpu,gpu'])).rejects.toThrow(/comma list of cpu, cuda, tensorrt/);
    const text = await doctorCli(['--root', join(boards, 'jetson-orin'), '--simulate-providers', 'cpu,cuda,tensorrt']);
    expect(text).toContain('tensorrt, cuda, cpu proven (listed: cpu, cuda, tensorrt) [simulated]');
  });

  it('checks the ffmpeg of camera.ffmpegPath (--set or the config), not only ffmpeg on PATH', async () => {
    // pi4 has no ffmpeg on PATH; the configured one is elsewhere
    const root = await copyBoard('pi4');
    try {
      await mkdir(join(root, 'opt/ffmpeg/bin'), { recursive: true });
      await writeFile(join(root, 'opt/ffmpeg/bin/ffmpeg'), '#!/bin/sh\n');
      const found = JSON.parse(await doctorCli(['--json', '--root', root, '--set', 'camera.ffmpegPath=/opt/ffmpeg/bin/ffmpeg'])) as DoctorReport;
      expect(lines(found, 'camera')).toContain('ffmpeg found (/opt/ffmpeg/bin/ffmpeg): USB (V4L2) and RTSP cameras work');
      expect(found.findings.tools.ffmpeg).toBe('/opt/ffmpeg/bin/ffmpeg');
      // pi5 has /usr/bin/ffmpeg, but the configured program is what the camera runs
      const missing = JSON.parse(await doctorCli(['--json', '--root', join(boards, 'pi5'), '--set', 'camera.ffmpegPath=/opt/none/ffmpeg'])) as DoctorReport;
      expect(lines(missing, 'camera', 'warn')).toContain('ffmpeg not found at /opt/none/ffmpeg (camera.ffmpegPath): USB (V4L2) and RTSP cameras need it: fix camera.ffmpegPath, or install ffmpeg (`sudo apt install ffmpeg`) and leave it at ffmpeg');
      // a bare name is looked up on PATH, as the camera does
      const named = JSON.parse(await doctorCli(['--json', '--root', join(boards, 'pi5'), '--set', 'camera.ffmpegPath=ffmpeg'])) as DoctorReport;
      expect(named.findings.tools.ffmpeg).toBe('/usr/bin/ffmpeg');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
