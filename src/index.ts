// paligemma-edge: the public API. Only Web-standard code is reachable from here;
// runtime adapters (src/runtime/*) add what differs per runtime.
