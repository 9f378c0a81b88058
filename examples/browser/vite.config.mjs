// Serves the repository to the browser example: the page at /examples/browser/, the
// built SDK at /dist/, the bundled demo model at /models/demo-shapes/.
//   npm run build && npx vite --config examples/browser/vite.config.mjs
import { fileURLToPath } from "node:url";

export default {
  root: fileURLToPath(new URL("../..", import.meta.url)),
  server: { host: "127.0.0.1" },
  // jSquash finds its .wasm beside its own JS: serve it as published, not pre-bundled.
  optimizeDeps: { noDiscovery: true, include: [] },
  logLevel: "warn",
};
