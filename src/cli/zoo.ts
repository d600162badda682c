import type { Command } from 'commander';

export function register(program: Command): void {
  program.command('zoo').description('list and build small-CNN variants (MobileNet-v1/v2, ShuffleNet, SqueezeNet, Xception)');
}
