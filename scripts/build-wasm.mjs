// Compiles each AssemblyScript entry (assembly/<name>.ts) to src/wasm/<name>.wasm,
// where src/wasm/load.ts finds it next to itself (rollup copies it into dist/).
import { execFileSync } from "node:child_process";

const modules = process.argv.slice(2).length ? process.argv.slice(2) : [];
const target = process.env.ASC_TARGET ?? "release";
for (const name of modules) {
  execFileSync(
    "npx",
    ["asc", `assembly/${name}.ts`, "--config", "asconfig.json", "--target", target, "-o", `src/wasm/${name}.wasm`],
    { stdio: "inherit" },
  );
}
