import type { Command } from 'commander';
import { collect } from '../config/index.js';
import { pullModels, describePullItem, loadCatalog, buildLadder, ladderWarning } from '../catalog/index.js';
import { accuracyOf } from '../select/accuracy.js';
import { configFrom, withConfig, type ConfigFlags } from './config-flags.js';

export function register(program: Command): void {
  const models = program.command('models').description('the model catalog: pull pretrained models, list them, show the variant ladder');

  withConfig(models
    .command('pull')
    .description('download (or copy from a mirror) the catalog\'s models, verify sha256, store them atomically and convert them to ONNX once')
    .option('--mirror <url|dir>', 'fetch from this http(s) URL or directory instead of upstream (only there)')
    .option('--only <id>', 'pull only this model id (repeatable)', collect)
    .option('--force', 'download and verify again even when a good copy is present (the good copy stays if the new one is bad)'))
    .action(async (flags: ConfigFlags & { mirror?: string; only?: string[]; force?: boolean }) => {
      const config = configFrom(flags);
      const report = await pullModels(config, {
        ...(flags.mirror ? { mirror: flags.mirror } : {}),
        ...(flags.only ? { only: flags.only } : {}),
        force: flags.force ?? false,
        deviceForms: true,
        log: (l) => process.stdout.write(l + '\n'),
      });
      process.stdout.write(`${report.ok ? 'all models verified and converted' : 'some models are not usable (see above)'}; stored in ${report.stateDir}/models\n`);
      if (!report.ok) process.exitCode = 1;
    });

  withConfig(models
    .command('list')
    .description('the catalog\'s models')
    .option('--json', 'print JSON'))
    .action((flags: ConfigFlags & { json?: boolean }) => {
      const config = configFrom(flags);
      const catalog = loadCatalog(config.models.catalog);
      if (flags.json) { process.stdout.write(JSON.stringify(catalog.models, null, 2) + '\n'); return; }
      for (const m of catalog.models) {
        const acc = m.referenceAccuracy !== undefined ? `top-1 ${(m.referenceAccuracy * 100).toFixed(1)}%` : '';
        process.stdout.write(`${m.id.padEnd(32)} ${m.task.padEnd(8)} ${m.format.padEnd(6)} ${acc}\n`);
      }
    });

  withConfig(models
    .command('ladder')
    .description('the variants the selector would climb, from what is on disk')
    .option('--json', 'print JSON'))
    .action(async (flags: ConfigFlags & { json?: boolean }) => {
      const config = configFrom(flags);
      const variants = await buildLadder(config, { log: (l) => process.stderr.write(l + '\n') });
      const warning = ladderWarning(variants);
      if (warning) process.stderr.write(`WARNING: ${warning}\n`);
      if (flags.json) { process.stdout.write(JSON.stringify(variants, null, 2) + '\n'); return; }
      for (const v of variants) {
        const acc = accuracyOf(v);
        const top1 = acc ? `${(acc.value * 100).toFixed(1)}% ${acc.kind}` : 'top-1 unknown';
        process.stdout.write(`${v.id.padEnd(40)} ${v.precision.padEnd(5)} ${String(v.resolution).padStart(4)}  ${(v.macs / 1e6).toFixed(1).padStart(7)} MMACs  ${(v.params / 1e6).toFixed(2).padStart(6)} M params  ${top1.padEnd(15)}${v.pretrained ? '' : '  (random weights)'}\n`);
      }
    });
}
