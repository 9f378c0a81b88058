// Bundles the portable core (dist/index.js) and the runtime entries beside it.
// WGSL sources are inlined as strings (`import src from "x.wgsl?raw"`, as in vite),
// and the .wasm files are copied next to the bundles where src/wasm/load.ts looks.
import { readFile, copyFile, mkdir, readdir } from "node:fs/promises";
import typescript from "@rollup/plugin-typescript";

const rawText = {
  name: "raw-text",
  async resolveId(id, importer) {
    if (!id.endsWith("?raw")) return null;
    const r = await this.resolve(id.slice(0, -4), importer, { skipSelf: true });
    return r && r.id + "?raw";
  },
  async load(id) {
    if (!id.endsWith("?raw")) return null;
    return `export default ${JSON.stringify(await readFile(id.slice(0, -4), "utf8"))};`;
  },
};

const copyWasm = {
  name: "copy-wasm",
  async writeBundle() {
    await mkdir("dist", { recursive: true });
    for (const f of await readdir("src/wasm")) {
      if (f.endsWith(".wasm")) await copyFile(`src/wasm/${f}`, `dist/${f}`);
    }
  },
};

export default {
  input: {
    index: "src/index.ts",
    node: "src/runtime/node.ts",
    workerd: "src/runtime/workerd.ts",
    demo: "src/demo.ts",
    worker: "src/worker/entry.ts",
    "node-worker": "src/runtime/node-worker.ts",
    cli: "examples/node/cli.ts",
  },
  output: {
    dir: "dist",
    format: "es",
    sourcemap: true,
    // The workerd entry imports src/wasm/x.wasm; copyWasm puts it beside the bundle.
    paths: (id) => (/\/src\/wasm\/\w+\.wasm$/.test(id) ? `./${id.split("/").pop()}` : id),
  },
  external: [/^node:/, "webgpu", /^@jsquash\//, /\.wasm$/],
  plugins: [
    rawText,
    typescript({ tsconfig: "./tsconfig.build.json" }),
    // The CLI lives outside src/ (it is a program, not the library): compiled on its own, no declarations.
    typescript({
      tsconfig: "./tsconfig.json",
      include: ["examples/node/**/*.ts", "src/**/*.d.ts"],
      compilerOptions: { declaration: false, noEmit: false, outDir: "dist" },
    }),
    copyWasm,
  ],
};
