/**
 * `$(VAR_NAME)` references in a container's command and args, expanded from its environment
 * (Kubernetes' third_party/forked/golang/expansion): a defined variable is replaced, an
 * undefined reference is left as written, `$$` is an escaped `$`, any other `$` is literal.
 * Pure.
 */
export function expandEnvReferences(input: string, env: Record<string, string>): string {
  let out = "";
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c !== "$" || i + 1 >= input.length) {
      out += c;
      continue;
    }
    const next = input[i + 1];
    if (next === "$") {
      out += "$";
      i++;
    } else if (next === "(") {
      const close = input.indexOf(")", i + 2);
      if (close < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      out += Object.hasOwn(env, name) ? env[name] : `$(${name})`;
      i = close;
    } else out += c;
  }
  return out;
}
