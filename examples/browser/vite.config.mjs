// Serves the repository to the browser example: the page at /examples/browser/, the
// built SDK at /dist/, the bundled demo model at /models/demo-shapes/. With COOP/COEP
// headers, so the page is crossOriginIsolated: SharedArrayBuffer exists there and the
// WASM backend can run threads (a page without them runs on 1, and says so).
//   npm run build && npx vite --config examples/browser/vite.config.mjs
import { fileURLToPath } from "node:url";

const isolated = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" };

export default {
  root: fileURLToPath(new URL("../..", import.meta.url)),
  server: { host: "127.0.0.1", headers: isolated },
  preview: { host: "127.0.0.1", headers: isolated },
  // jSquash finds its .wasm beside its own JS: serve it as published, not pre-bundled.
  optimizeDeps: { noDiscovery: true, include: [] },
  logLevel: "warn",
};
