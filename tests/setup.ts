// Every test runs as a Node user of the package would: through the Node entry.
import "../src/runtime/node.js";
