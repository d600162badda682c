import type { Command } from 'commander';
import { EdgefitError, errorMessage } from '../util/errors.js';
import { startDashboard } from '../dashboard/server.js';

interface DashboardFlags { broker: string; port: string; host: string; prefix: string; shareGroup?: string; username?: string; password?: string }

export function register(program: Command): void {
  program
    .command('dashboard')
    .description('a web page of the fleet: every device\'s status, model, latency and fps, live from the MQTT broker')
    .requiredOption('--broker <url>', 'MQTT broker the devices publish to, e.g. mqtt://broker.local:1883')
    .option('--port <n>', 'HTTP port of the page', '8080')
    .option('--host <addr>', 'listen address (the page can send snapshot commands: keep it on loopback unless behind auth)', '127.0.0.1')
    .option('--prefix <p>', 'topic prefix the devices use (mqtt.prefix)', 'edgefit')
    .option('--share-group <g>', 'read telemetry through the MQTT 5 shared subscription $share/<g>/...: several dashboards split the load')
    .option('--username <u>', 'MQTT username (or EDGEFIT_MQTT_USERNAME)')
    .option('--password <p>', 'MQTT password (prefer EDGEFIT_MQTT_PASSWORD: flags show in ps)')
    .action(async (f: DashboardFlags) => {
      const port = Number(f.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new EdgefitError('E_DASHBOARD_FLAG', `--port must be 0-65535, not ${JSON.stringify(f.port)}`);
      const username = f.username ?? process.env.EDGEFIT_MQTT_USERNAME;
      const password = f.password ?? process.env.EDGEFIT_MQTT_PASSWORD;
      const d = await startDashboard({
        url: f.broker, prefix: f.prefix, port, host: f.host,
        ...(f.shareGroup ? { shareGroup: f.shareGroup } : {}), ...(username ? { username } : {}), ...(password ? { password } : {}),
      });
      process.stdout.write(`edgefit dashboard: ${d.url}/ (broker ${f.broker.replace(/\/\/[^@/]*@/, '//***@')}, prefix ${f.prefix}${f.shareGroup ? `, telemetry via $share/${f.shareGroup}` : ''})\n`);
      const stop = (sig: string) => {
        process.stderr.write(`${sig}: stopping the dashboard\n`);
        d.stop().then(() => process.exit(0), (err: unknown) => { process.stderr.write(`stop failed: ${errorMessage(err)}\n`); process.exit(1); });
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
      d.ingest.on('problem', (err: unknown) => process.stderr.write(`mqtt: ${errorMessage(err)}\n`));
    });
}
