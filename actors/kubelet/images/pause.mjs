// bosun/pause: does nothing until killed (SIGTERM exits 0).
setInterval(() => {}, 1 << 30);
process.on("SIGTERM", () => process.exit(0));
