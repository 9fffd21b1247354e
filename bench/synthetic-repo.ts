import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

/**
 * A deterministic synthetic repository: TypeScript and Python modules of small functions and
 * classes, with identifiers drawn from a domain vocabulary, so that BM25 sees realistic term
 * frequencies (a few very common words, a long tail of rare ones) and the chunker sees real
 * definition boundaries (about one chunk per top-level definition).
 */

/** mulberry32: tiny, fast, deterministic across platforms. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VERBS = (
  'get set load save parse render build create update delete fetch send validate resolve merge ' +
  'split encode decode compute find filter sort apply register dispatch handle flush open close ' +
  'read write sync schedule retry normalize serialize hydrate invalidate compress index scan emit ' +
  'subscribe'
).split(' ');
const NOUNS = (
  'user account session token config request response cache buffer stream record entry node graph ' +
  'edge vertex matrix vector query result schema table column row page layout widget theme color ' +
  'font image thumbnail invoice payment order cart product price discount coupon shipment address ' +
  'message channel queue worker job task timer event listener handler route path file directory ' +
  'archive chunk block segment offset cursor snapshot lock mutex socket packet frame header payload ' +
  'checksum digest signature certificate permission role policy audit metric histogram counter ' +
  'gauge span'
).split(' ');
const ADJECTIVES = (
  'pending active stale dirty cached remote local primary secondary default current previous next ' +
  'partial complete raw compiled encrypted signed nested'
).split(' ');
const WORDS = (
  'the value is returned when missing otherwise we fall back to defaults this keeps order stable ' +
  'across runs note that callers must hold lock before calling retries are bounded errors propagate ' +
  'unchanged items each'
).split(' ');

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

/** Zipf-ish: low indexes much more often, so some words are common and many are rare. */
function pickSkewed<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() ** 2.2 * items.length)] as T;
}

function cap(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/** A camelCase identifier; every `unique` one gets a numeric suffix so the corpus has rare terms. */
function identifier(random: () => number, serial: number): string {
  const parts = [pick(random, VERBS), cap(pickSkewed(random, ADJECTIVES)), cap(pickSkewed(random, NOUNS))];
  if (random() < 0.5) parts.push(cap(pickSkewed(random, NOUNS)));
  return `${parts.join('')}${serial.toString(36)}`;
}

function comment(random: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(random() < 0.3 ? pickSkewed(random, NOUNS) : pick(random, WORDS));
  return out.join(' ');
}

function tsFunction(random: () => number, name: string): string {
  const noun = pickSkewed(random, NOUNS);
  const other = pickSkewed(random, NOUNS);
  const lines = [
    `/** ${cap(comment(random, 6 + Math.floor(random() * 8)))}. */`,
    `export async function ${name}(${noun}: ${cap(noun)}, options: ${cap(other)}Options = {}): Promise<${cap(other)}[]> {`,
    `  const ${other}s: ${cap(other)}[] = [];`,
  ];
  const body = 4 + Math.floor(random() * 12);
  for (let i = 0; i < body; i++) {
    const a = pickSkewed(random, NOUNS);
    const v = pick(random, VERBS);
    switch (Math.floor(random() * 4)) {
      case 0:
        lines.push(
          `  const ${a}${i} = await ${noun}.${v}${cap(a)}(options.${pickSkewed(random, ADJECTIVES)});`,
        );
        break;
      case 1:
        lines.push(
          `  if (!${noun}.${pickSkewed(random, ADJECTIVES)}) throw new Error('${comment(random, 4)}');`,
        );
        break;
      case 2:
        lines.push(`  for (const ${a} of ${noun}.${a}s) ${other}s.push(${v}${cap(a)}(${a}));`);
        break;
      default:
        lines.push(`  // ${comment(random, 5 + Math.floor(random() * 6))}`);
    }
  }
  lines.push(`  return ${other}s;`, '}', '');
  return lines.join('\n');
}

function tsClass(random: () => number, name: string, serial: number): string {
  const noun = pickSkewed(random, NOUNS);
  const lines = [
    `export class ${cap(name)} {`,
    `  private readonly ${noun}s = new Map<string, ${cap(noun)}>();`,
    '',
  ];
  const methods = 2 + Math.floor(random() * 3);
  for (let m = 0; m < methods; m++) {
    const method = identifier(random, serial * 10 + m);
    lines.push(`  ${method}(key: string): ${cap(noun)} | undefined {`);
    for (let i = 0; i < 2 + Math.floor(random() * 4); i++) {
      lines.push(`    // ${comment(random, 4 + Math.floor(random() * 5))}`);
    }
    lines.push(`    return this.${noun}s.get(key);`, '  }', '');
  }
  lines.push('}', '');
  return lines.join('\n');
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function pyFunction(random: () => number, name: string): string {
  const snake = snakeCase(name);
  const noun = pickSkewed(random, NOUNS);
  const lines = [
    `def ${snake}(${noun}, options=None):`,
    `    """${cap(comment(random, 6 + Math.floor(random() * 8)))}."""`,
  ];
  const body = 3 + Math.floor(random() * 10);
  for (let i = 0; i < body; i++) {
    const a = pickSkewed(random, NOUNS);
    if (random() < 0.5) lines.push(`    ${a}_${i} = ${noun}.${pick(random, VERBS)}_${a}(options)`);
    else lines.push(`    # ${comment(random, 5 + Math.floor(random() * 6))}`);
  }
  lines.push(`    return ${noun}`, '', '');
  return lines.join('\n');
}

export interface SyntheticRepo {
  readonly files: number;
  /** Top-level definitions written: roughly the number of chunks the chunker will make. */
  readonly definitions: number;
  /** A sample of the definitions written (name as spelled in the file, and that file), for queries. */
  readonly identifiers: readonly { readonly name: string; readonly path: string }[];
}

/**
 * Writes about `definitions` top-level definitions into `dir`, ~20 per module, in nested packages.
 * Same `seed`, same repository, byte for byte.
 */
export async function generateRepo(dir: string, definitions: number, seed = 42): Promise<SyntheticRepo> {
  const random = rng(seed);
  const perFile = 20;
  const identifiers: { name: string; path: string }[] = [];
  let serial = 0;
  let files = 0;
  for (let written = 0; written < definitions; files++) {
    const pkg = `pkg${Math.floor(files / 50)}/${pick(random, NOUNS)}`;
    const python = random() < 0.3;
    const name = `${pick(random, NOUNS)}_${files}.${python ? 'py' : 'ts'}`;
    const parts: string[] = [
      python ? 'import os\nimport sys\n\n' : "import { strict } from 'node:assert';\n\n",
    ];
    const count = Math.min(perFile, definitions - written);
    for (let d = 0; d < count; d++) {
      const id = identifier(random, serial++);
      if (random() < 0.05) identifiers.push({ name: python ? snakeCase(id) : id, path: `${pkg}/${name}` });
      if (python) parts.push(pyFunction(random, id));
      else parts.push(random() < 0.15 ? tsClass(random, id, serial) : tsFunction(random, id));
    }
    written += count;
    await mkdir(join(dir, pkg), { recursive: true });
    await writeFile(join(dir, pkg, name), parts.join('\n'));
  }
  return { files, definitions, identifiers };
}

/** Every file under `dir` with its content, paths relative to `dir` (the owner's `write` request shape). */
export function readRepoFiles(dir: string): { path: string; content: string }[] {
  const files: { path: string; content: string }[] = [];
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      const full = join(at, name);
      if (statSync(full).isDirectory()) walk(full);
      else files.push({ path: relative(dir, full), content: readFileSync(full, 'utf8') });
    }
  };
  walk(dir);
  return files;
}
