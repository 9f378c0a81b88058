// The shipped declarations compile in a consumer's project under a Node-only tsconfig
// (lib ES2022 + @types/node), a DOM one (with @webgpu/types), a bundler one (no types
// at all) and Deno's checker, with skipLibCheck off: correct calls compile, and the
// batch overload and wrong inputs are told apart (tests/consumer/project/types/).
// This checkout's build stands in for the installed package (package.test.ts installs
// the real tarball).
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DENO } from "../harness/deno.js";
import { run, typeCheck, writeProject } from "./project.js";

const dir = mkdtempSync(join(tmpdir(), "pg-types-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the package's types in a consumer project", () => {
  it("compile under Node-only, DOM, bundler and Deno settings, with wrong calls rejected", async () => {
    if (!existsSync("dist/types/index.d.ts")) throw new Error("no dist/types: npm run build first");
    writeProject(dir);
    // A copy, not a link: Deno resolves a linked package as local files, not as an npm package.
    const pkg = join(dir, "node_modules/paligemma-edge");
    mkdirSync(pkg, { recursive: true });
    cpSync("package.json", join(pkg, "package.json"));
    cpSync("dist", join(pkg, "dist"), { recursive: true });
    for (const types of ["@types/node", "@webgpu/types"]) {
      mkdirSync(join(dir, "node_modules", types, ".."), { recursive: true });
      symlinkSync(resolve("node_modules", types), join(dir, "node_modules", types));
    }
    await typeCheck(dir, resolve("node_modules/typescript/bin/tsc"), DENO);
  });

  it("would fail on a wrong call that compiles", async () => {
    // The check above can fail: the same project with one @ts-expect-error dropped does not compile.
    const { readFileSync, writeFileSync } = await import("node:fs");
    const file = join(dir, "types/common.ts");
    const source = readFileSync(file, "utf8");
    writeFileSync(file, source.replace("// @ts-expect-error a number is not an image\n", ""));
    try {
      await expect(run(process.execPath, [resolve("node_modules/typescript/bin/tsc"), "-p", "tsconfig.node.json"], dir)).rejects.toThrow(
        /Argument of type 'number' is not assignable to parameter of type 'ImageInput'/,
      );
    } finally {
      writeFileSync(file, source);
    }
  });
});
