import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { makeTempDir } from './temp-dir.js';

/**
 * A small project for CLI and serve tests: `registerQuuxblatRoutes` is defined once (in
 * src/server/routes.ts), so a search for it has one right first answer.
 */
export const DEMO_PROJECT: Readonly<Record<string, string>> = {
  'src/server/routes.ts': `import { handleRequest } from './handler.js';

export function registerQuuxblatRoutes(app: App): void {
  app.get('/health', (req, res) => res.send('ok'));
  app.post('/items', handleRequest);
}
`,
  'src/server/handler.ts': `export async function handleRequest(req: Request, res: Response): Promise<void> {
  const body = await req.json();
  res.status(201).send(body);
}
`,
  'src/util/strings.py': `def slugify(text):
    return "-".join(text.lower().split())
`,
  'README.md': '# Demo\n\nRoutes are registered in the server module.\n',
};

/** Writes the demo project into a fresh temp dir (removed by removeTempDirs) and returns its path. */
export async function makeDemoProject(prefix: string): Promise<string> {
  const dir = join(await makeTempDir(prefix), 'demo');
  for (const [path, content] of Object.entries(DEMO_PROJECT)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}

/**
 * Writes `count` one-function modules `<subdir>/m<i>.ts` into `dir`, each naming `round` in its
 * function, so that a second round changes every file: enough work that a catch-up of all of them
 * is still running when a test stops the process doing it.
 */
export async function writeManyModules(
  dir: string,
  subdir: string,
  count: number,
  round: string,
): Promise<void> {
  await mkdir(join(dir, subdir), { recursive: true });
  for (let i = 0; i < count; i++) {
    await writeFile(
      join(dir, subdir, `m${i}.ts`),
      `export function gen${i}${round}(a: number): number {\n  return a * ${i};\n}\n`,
    );
  }
}
