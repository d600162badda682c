// PM2 process file for edgefit (CommonJS, so every PM2 5.3+ reads it in this "type": "module" package):
//   npm ci && npm run build && pm2 start ecosystem.config.cjs && pm2 save && pm2 startup
// ecosystem.config.js re-exports it for PM2 on Node >= 20.19 (require of ES modules).
'use strict';

const { existsSync } = require('node:fs');

// What a clean stop needs (SIGINT from PM2): the inference in flight (engine.timeoutMs, 5 s by default), the
// outbox drain (2 s) and the MQTT disconnect (3 s); kill_timeout leaves twice that before PM2 sends SIGKILL.
const DRAIN_MS = 5_000 + 2_000 + 3_000;

module.exports = {
  DRAIN_MS,
  apps: [
    {
      name: 'edgefit',
      script: 'bin/edgefit.js',
      // $EDGEFIT_CONFIG (the daemon reads it itself), else /etc/edgefit/config.yaml when there is one, else the
      // built-in defaults: a --config naming a missing file is refused, and PM2 would restart that for ever
      args: process.env.EDGEFIT_CONFIG || !existsSync('/etc/edgefit/config.yaml') ? ['run'] : ['run', '--config', '/etc/edgefit/config.yaml'],
      cwd: __dirname,
      exec_mode: 'fork',
      instances: 1,
      // the daemon calls process.send('ready') once a model runs; the first start profiles the board
      // (minutes on a Pi Zero), so the wait is long
      wait_ready: true,
      listen_timeout: 15 * 60 * 1000,
      kill_timeout: 2 * DRAIN_MS + 10_000,
      autorestart: true,
      // 100 ms, 150 ms, ... up to 15 s between restarts of a crashing daemon; reset after 30 s of uptime
      exp_backoff_restart_delay: 100,
      max_memory_restart: '900M',
      time: true,
      env: {
        NODE_ENV: 'production',
        // a fixed glibc mmap threshold: -20 MB RSS, inference no slower (see deploy/systemd/edgefit.service)
        MALLOC_MMAP_THRESHOLD_: '262144',
      },
    },
  ],
};
