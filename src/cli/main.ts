import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../util/paths.js';
import { commands } from './commands.js';
import { watchStdio } from './stdout.js';

export async function main(argv: string[]): Promise<void> {
  watchStdio();
  const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string };
  const program = new Command();
  program
    .name('edgefit')
    .description('Measures what this board can afford, picks the largest small CNN that fits, runs it int8 on the camera, reports over MQTT.')
    .version(pkg.version)
    .showHelpAfterError()
    .exitOverride((err) => {
      // commander's own usage errors: message already printed; exit non-zero without a stack
      process.exit(err.exitCode);
    });
  const name = argv.slice(2).find((a) => !a.startsWith('-'));
  // a Set: an alias (classify) shares its command's loader, which registers both names once
  const wanted = name !== undefined && name in commands ? [commands[name]!] : [...new Set(Object.values(commands))];
  for (const load of wanted) (await load())(program);
  await program.parseAsync(argv);
}
