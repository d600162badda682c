/** Valid configuration documents the config fuzzer starts from (every section, comments, lists, TLS, flow style). */
export const CONFIG_SEEDS_YAML: string[] = [
  `# edgefit configuration
deviceId: cam-kitchen
stateDir: /var/lib/edgefit
camera:
  source: /dev/video0
  width: 640
  height: 480
  fps: 15
  loop: true
  watchdogSeconds: 10
engine:
  providers: [tensorrt, cuda, cpu]
  threads: 0
  timeoutMs: 5000
budget:
  latencyMs: 80
  percentile: 90
mqtt:
  url: mqtts://broker.lan:8883
  prefix: edgefit
  username: cam-kitchen
  password: "s3cret"
  tls:
    ca: /etc/edgefit/ca.crt
  keepaliveSeconds: 30
  results:
    mode: change
    threshold: 0.5
  homeAssistant:
    enabled: true
    prefix: homeassistant
log:
  level: info
`,
  `deviceId: "pi-4.garage_2"
camera: { source: "rtsp://10.0.0.5/stream", fps: 10 }
mqtt:
  prefix: site/a/edgefit
  outbox:
    maxMessages: 10000
models:
  task: person
  allowZooFallback: false
`,
];

export const CONFIG_SEEDS_JSON: string[] = [
  JSON.stringify({ deviceId: 'jetson-1', camera: { source: 'folder:/data/images', loop: false }, budget: { fps: 20, memoryMb: 512 }, mqtt: { url: 'mqtt://127.0.0.1:1883', prefix: 'edgefit', results: { mode: 'every' } }, log: { level: 'debug', json: true } }, null, 2),
  JSON.stringify({ engine: { providers: ['cpu'], threads: 2 }, profile: { minRuns: 10 }, adapt: {} }),
];
