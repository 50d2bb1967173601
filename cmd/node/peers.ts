/** Parses `n2=127.0.0.12:7100,n3=127.0.0.13:7100` into a peer map, naming what is wrong. */
export function parsePeers(spec: string | undefined, selfId: string): Record<string, string> {
  const peers: Record<string, string> = {};
  if (spec === undefined || spec.trim() === "") return peers;
  for (const part of spec.split(",")) {
    const match = /^([A-Za-z0-9_.-]{1,64})=([^\s:]+):(\d{1,5})$/.exec(part.trim());
    if (!match) throw new Error(`bad peer '${part}': expected id=host:port`);
    const [, id, host, port] = match as unknown as [string, string, string, string];
    if (Number(port) < 1 || Number(port) > 65_535) throw new Error(`bad port in peer '${part}'`);
    if (id === selfId) continue;
    if (id in peers) throw new Error(`peer '${id}' given twice`);
    peers[id] = `${host}:${port}`;
  }
  return peers;
}

/** Parses `host:port`. */
export function parseListen(spec: string): { host: string; port: number } {
  const match = /^([^\s:]+):(\d{1,5})$/.exec(spec.trim());
  if (!match) throw new Error(`bad listen address '${spec}': expected host:port`);
  const port = Number(match[2]);
  if (port > 65_535) throw new Error(`bad port in '${spec}'`);
  return { host: match[1] as string, port };
}
