import type { Command } from 'commander';
import { EdgefitError, errorMessage } from '../util/errors.js';
import { startDashboard } from '../dashboard/server.js';
import { AUTH_ENV, authFromEnv } from '../dashboard/guard.js';
import { redact } from '../mqtt/link.js';

interface DashboardFlags {
  broker: string; port: string; host: string; allowedHost: string[]; prefix: string; shareGroup?: string;
  username?: string; password?: string; tlsCa?: string; tlsCert?: string; tlsKey?: string; metricsMaxDevices: string;
}

const collect = (v: string, prev: string[]): string[] => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

export function register(program: Command): void {
  program
    .command('dashboard')
    .description('a web page of the fleet: every device\'s status, model, latency and fps, live from the MQTT broker')
    .requiredOption('--broker <url>', 'MQTT broker the devices publish to, e.g. mqtts://broker.local:8883')
    .option('--port <n>', 'HTTP port of the page', '8080')
    .option('--host <addr>', `listen address; anything but loopback needs credentials in ${AUTH_ENV.token} or ${AUTH_ENV.user} + ${AUTH_ENV.password}`, '127.0.0.1')
    .option('--allowed-host <name>', 'a host name the page is opened by, besides loopback (repeat, or comma-separate); other Host headers get 421 (DNS rebinding)', collect, [])
    .option('--prefix <p>', 'topic prefix the devices use (mqtt.prefix)', 'edgefit')
    .option('--share-group <g>', 'read telemetry through the MQTT 5 shared subscription $share/<g>/...: several dashboards split the load')
    .option('--username <u>', 'MQTT username (or EDGEFIT_MQTT_USERNAME)')
    .option('--password <p>', 'MQTT password (prefer EDGEFIT_MQTT_PASSWORD: flags show in ps)')
    .option('--tls-ca <file>', 'CA certificate the broker\'s certificate is checked against (mqtts://)')
    .option('--tls-cert <file>', 'client certificate, for a broker that requires one')
    .option('--tls-key <file>', 'the client certificate\'s private key')
    .option('--metrics-max-devices <n>', 'devices whose own series /metrics exports (the first seen); the rest are counted in edgefit_metrics_devices_omitted', '10000')
    .action(async (f: DashboardFlags) => {
      const port = Number(f.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new EdgefitError('E_FLAGS', `--port must be 0-65535, not ${JSON.stringify(f.port)}`);
      const metricsMaxDevices = Number(f.metricsMaxDevices);
      if (!Number.isInteger(metricsMaxDevices) || metricsMaxDevices < 0 || metricsMaxDevices > 100_000) throw new EdgefitError('E_FLAGS', `--metrics-max-devices must be 0-100000, not ${JSON.stringify(f.metricsMaxDevices)}`);
      if (Boolean(f.tlsCert) !== Boolean(f.tlsKey)) throw new EdgefitError('E_FLAGS', '--tls-cert and --tls-key go together');
      const username = f.username ?? process.env.EDGEFIT_MQTT_USERNAME;
      const password = f.password ?? process.env.EDGEFIT_MQTT_PASSWORD;
      // the page's own credentials: from the environment only (flags show in ps and shell history)
      const auth = authFromEnv(process.env);
      const tls = { ...(f.tlsCa ? { ca: f.tlsCa } : {}), ...(f.tlsCert ? { cert: f.tlsCert } : {}), ...(f.tlsKey ? { key: f.tlsKey } : {}) };
      const d = await startDashboard({
        url: f.broker, prefix: f.prefix, port, host: f.host, metricsMaxDevices,
        ...(f.allowedHost.length ? { allowedHosts: f.allowedHost } : {}), ...(auth ? { auth } : {}), ...(Object.keys(tls).length ? { tls } : {}),
        ...(f.shareGroup ? { shareGroup: f.shareGroup } : {}), ...(username ? { username } : {}), ...(password ? { password } : {}),
      });
      const access = auth ? `, ${auth.token ? 'token' : 'Basic auth'} required` : '';
      process.stdout.write(`edgefit dashboard: ${d.url}/ (broker ${redact(f.broker)}, prefix ${f.prefix}${f.shareGroup ? `, telemetry via $share/${f.shareGroup}` : ''}${access})\n`);
      const stop = (sig: string) => {
        process.stderr.write(`${sig}: stopping the dashboard\n`);
        d.stop().then(() => process.exit(0), (err: unknown) => { process.stderr.write(`stop failed: ${errorMessage(err)}\n`); process.exit(1); });
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
      d.ingest.on('problem', (err: unknown) => process.stderr.write(`mqtt: ${errorMessage(err)}\n`));
    });
}
