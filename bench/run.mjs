// Runs a TypeScript benchmark program (bench/*.ts) with the same transforms the tests
// use (TypeScript, `?raw` WGSL imports), through Vite's SSR module loader:
//   node bench/run.mjs bench/model.ts [args...]
import { createServer } from "vite";

const [file, ...args] = process.argv.slice(2);
if (!file) {
  console.error("usage: node bench/run.mjs bench/<name>.ts [args...]");
  process.exit(2);
}
process.argv = [process.argv[0], file, ...args];
const server = await createServer({ server: { middlewareMode: true, hmr: false, ws: false }, appType: "custom", logLevel: "error" });
try {
  await server.ssrLoadModule(new URL(file, `file://${process.cwd()}/`).pathname);
} finally {
  await server.close();
}
// Dawn keeps the process alive after the device is gone.
process.exit(process.exitCode ?? 0);
