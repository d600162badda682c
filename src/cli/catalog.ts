import type { Command } from 'commander';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EdgefitError, errorMessage } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { generateSigningKeys, loadPrivateKey, loadPublicKey, signaturePathOf, signCatalog, verifyCatalog } from '../catalog/signature.js';

function readCatalog(path: string | undefined): Buffer {
  if (!path) throw new EdgefitError('E_FLAGS', '--catalog FILE is required');
  try { return readFileSync(path); } catch (err) {
    throw new EdgefitError('E_FLAGS', `cannot read --catalog ${path} (${errorMessage(err)})`, { cause: err });
  }
}

function need(flag: string, v: string | undefined): string {
  if (!v) throw new EdgefitError('E_FLAGS', `--${flag} is required`);
  return v;
}

export function register(program: Command): void {
  const catalog = program.command('catalog').description('sign and verify the model catalog (Ed25519, detached <catalog>.sig; docs/fleet.md)');

  catalog.command('keygen')
    .description('make an Ed25519 key pair: NAME.key.pem (private, mode 0600: keep it off the devices) and NAME.pub.pem (models.publicKey)')
    .requiredOption('--out <dir>', 'directory to write the two files to')
    .option('--name <name>', 'file name stem', 'edgefit-catalog')
    .option('--force', 'overwrite existing files')
    .action(async (flags: { out: string; name: string; force?: boolean }) => {
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(flags.name)) throw new EdgefitError('E_FLAGS', `--name may only hold letters, digits, '.', '_', '-' (got ${JSON.stringify(flags.name)})`);
      const priv = join(flags.out, `${flags.name}.key.pem`);
      const pub = join(flags.out, `${flags.name}.pub.pem`);
      if (!flags.force && (existsSync(priv) || existsSync(pub))) throw new EdgefitError('E_FLAGS', `${priv} or ${pub} exists; pass --force to replace the key (devices configured with the old public key will refuse catalogs signed by the new one)`);
      const k = generateSigningKeys();
      await writeFileAtomic(priv, k.privatePem);
      chmodSync(priv, 0o600);
      await writeFileAtomic(pub, k.publicPem);
      process.stdout.write(`key ${k.keyId}\nprivate: ${priv} (keep it secret, off the devices)\npublic:  ${pub} (set models.publicKey to it on every device)\n`);
    });

  catalog.command('sign')
    .description('sign the catalog file\'s exact bytes; writes FILE.sig (the catalog needs a catalogVersion higher than the last one published)')
    .option('--key <private.pem>', 'the Ed25519 private key')
    .option('--catalog <file>', 'the catalog JSON to sign')
    .option('--out <file>', 'where the signature goes (default: <catalog>.sig)')
    .action(async (flags: { key?: string; catalog?: string; out?: string }) => {
      const key = loadPrivateKey(need('key', flags.key));
      const path = need('catalog', flags.catalog);
      const sig = signCatalog(readCatalog(path), path, key);
      const out = flags.out ?? signaturePathOf(path);
      await writeFileAtomic(out, JSON.stringify(sig, null, 2) + '\n');
      process.stdout.write(`signed ${path} (catalogVersion ${sig.catalogVersion}, sha256 ${sig.catalogSha256}) with key ${sig.keyId} -> ${out}\n`);
    });

  catalog.command('verify')
    .description('check the catalog against its signature and a public key (exit 1 when it does not verify)')
    .option('--key <public.pem>', 'the Ed25519 public key')
    .option('--catalog <file>', 'the catalog JSON')
    .option('--sig <file>', 'the signature (default: <catalog>.sig)')
    .action((flags: { key?: string; catalog?: string; sig?: string }) => {
      const key = loadPublicKey(need('key', flags.key), 'check --key');
      const path = need('catalog', flags.catalog);
      let sigText: string | undefined;
      if (flags.sig) {
        try { sigText = readFileSync(flags.sig, 'utf8'); } catch (err) { throw new EdgefitError('E_FLAGS', `cannot read --sig ${flags.sig} (${errorMessage(err)})`, { cause: err }); }
      }
      const v = verifyCatalog(readCatalog(path), path, key, sigText);
      process.stdout.write(`ok: ${path} catalogVersion ${v.catalogVersion}, sha256 ${v.catalogSha256}, signed by key ${v.keyId}\n`);
    });
}
