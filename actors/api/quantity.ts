/**
 * Kubernetes resource quantities (`k8s.io/apimachinery/pkg/api/resource`): a signed decimal
 * number, then a binary suffix (Ki Mi Gi Ti Pi Ei), a decimal suffix (n u m "" k M G T P E) or a
 * decimal exponent (`1e3`, `5E-3`). The scheduler compares integers, as kube-scheduler does:
 * CPU in millicores (`MilliValue`, rounded up) and everything else in units (`Value`, rounded
 * up). Arithmetic is exact (BigInt), so `0.1` cores is 100 millicores, not 100.00000000000001.
 */

export class QuantityError extends Error {
  constructor(input: string) {
    super(
      `quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (got ${JSON.stringify(input)})`,
    );
    this.name = "QuantityError";
  }
}

const BINARY_SUFFIX_SHIFT: Readonly<Record<string, bigint>> = {
  Ki: 10n,
  Mi: 20n,
  Gi: 30n,
  Ti: 40n,
  Pi: 50n,
  Ei: 60n,
};

const DECIMAL_SUFFIX_EXPONENT: Readonly<Record<string, number>> = {
  n: -9,
  u: -6,
  m: -3,
  "": 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

const QUANTITY_PATTERN =
  /^([+-]?)(\d+\.?\d*|\.\d+)(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/;

/** An exact rational: numerator / 10^decimals * 2^shift, decimal exponent folded in. */
interface Exact {
  numerator: bigint;
  denominator: bigint;
}

function parseExact(input: string): Exact {
  const m = QUANTITY_PATTERN.exec(input.trim());
  if (m === null) throw new QuantityError(input);
  const [, sign, digits = "", exponentPart, suffix = ""] = m;
  const [whole = "", fraction = ""] = digits.split(".");
  let numerator = BigInt(`${whole}${fraction}` || "0");
  let denominator = 10n ** BigInt(fraction.length);
  if (sign === "-") numerator = -numerator;
  let exponent = exponentPart !== undefined ? Number(exponentPart.slice(1)) : 0;
  const shift = BINARY_SUFFIX_SHIFT[suffix];
  if (shift !== undefined) numerator <<= shift;
  else exponent += DECIMAL_SUFFIX_EXPONENT[suffix] ?? 0;
  if (exponent >= 0) numerator *= 10n ** BigInt(exponent);
  else denominator *= 10n ** BigInt(-exponent);
  return { numerator, denominator };
}

/** ceil(n / d) for d > 0, in BigInt (BigInt division truncates toward zero). */
function ceilDiv(n: bigint, d: bigint): bigint {
  const q = n / d;
  return n % d !== 0n && n > 0n ? q + 1n : q;
}

/** `Quantity.Value()`: whole units, rounded up (memory in bytes, pod counts). */
export function quantityValue(input: string | number): number {
  if (typeof input === "number") return Math.ceil(input);
  const { numerator, denominator } = parseExact(input);
  return Number(ceilDiv(numerator, denominator));
}

/** `Quantity.MilliValue()`: thousandths, rounded up (CPU in millicores). */
export function quantityMilliValue(input: string | number): number {
  if (typeof input === "number") return Math.ceil(input * 1000);
  const { numerator, denominator } = parseExact(input);
  return Number(ceilDiv(numerator * 1000n, denominator));
}

/** True when `input` parses as a quantity. */
export function isQuantity(input: string): boolean {
  try {
    parseExact(input);
    return true;
  } catch {
    return false;
  }
}

/** Millicores in Kubernetes' canonical form: `2`, `1500m`. */
export function formatMilliCpu(milli: number): string {
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

/** Bytes in the largest exact binary suffix: `1Gi`, `512Mi`, `1000`. */
export function formatBytes(bytes: number): string {
  if (bytes === 0) return "0";
  for (const [suffix, shift] of Object.entries(BINARY_SUFFIX_SHIFT).reverse()) {
    const unit = 2 ** Number(shift);
    if (bytes % unit === 0) return `${bytes / unit}${suffix}`;
  }
  return String(bytes);
}
