/**
 * Label selectors, with the semantics of apimachinery `pkg/labels/selector.go`:
 *
 *   <selector>    ::= <requirement> | <requirement> "," <selector>
 *   <requirement> ::= [!] KEY [ ("in" | "notin") "(" VALUES ")" | ("=" | "==" | "!=" | ">" | "<") VALUE ]
 *
 * Whitespace (space, tab, CR, LF) separates tokens and is otherwise ignored; `in`/`notin` are
 * keywords only where an operator is expected. Keys must be qualified names, values valid label
 * values, `>`/`<` values integers. Requirements are kept sorted by key and values sorted and
 * de-duplicated, so `selectorToString(parseLabelSelector(s))` is canonical. Error texts are Kubernetes' own.
 */
import { aggregateText, type FieldError, invalid, notSupported } from "./field-error.ts";
import { isQualifiedName, isValidLabelValue } from "./name-rules.ts";

/** `selection.Operator` values. */
export type Operator = "in" | "notin" | "=" | "==" | "!=" | "exists" | "!" | "gt" | "lt";

export interface Requirement {
  readonly key: string;
  readonly operator: Operator;
  readonly values: readonly string[];
}

/**
 * A parsed selector. `nothing` is `labels.Nothing()` (what a nil `metav1.LabelSelector`
 * converts to); an empty requirement list is `labels.Everything()`.
 */
export interface LabelSelector {
  readonly requirements: readonly Requirement[];
  readonly nothing?: true;
}

export type Labels = Readonly<Record<string, string>>;

/** `metav1.LabelSelector` as it appears in Deployment/ReplicaSet/Service specs. */
export interface LabelSelectorObject {
  matchLabels?: Record<string, string> | null;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] | null }> | null;
}

export class LabelSelectorError extends Error {
  override name = "LabelSelectorError";
}

export const EVERYTHING: LabelSelector = { requirements: [] };
export const NOTHING: LabelSelector = { requirements: [], nothing: true };

const VALID_OPERATORS: readonly string[] = [
  "in",
  "notin",
  "=",
  "==",
  "!=",
  "gt",
  "lt",
  "exists",
  "!",
];
const BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt";

// ---------------------------------------------------------------------------------------------
// Requirements
// ---------------------------------------------------------------------------------------------

/**
 * `labels.NewRequirement`: validates the key, the operator's arity and the values, and throws a
 * LabelSelectorError whose text is the aggregated field errors (paths `key`, `values`,
 * `values[i]`, `values[i][key]`, as the Go code builds them from a nil root path).
 */
export function newRequirement(
  key: string,
  operator: Operator,
  values: readonly string[],
): Requirement {
  const errs: FieldError[] = [];
  for (const m of isQualifiedName(key)) errs.push(invalid("key", key, m));
  switch (operator) {
    case "in":
    case "notin":
      if (values.length === 0)
        errs.push(
          invalid("values", values, "for 'in', 'notin' operators, values set can't be empty"),
        );
      break;
    case "=":
    case "==":
    case "!=":
      if (values.length !== 1)
        errs.push(invalid("values", values, "exact-match compatibility requires one single value"));
      break;
    case "exists":
    case "!":
      if (values.length !== 0)
        errs.push(
          invalid("values", values, "values set must be empty for exists and does not exist"),
        );
      break;
    case "gt":
    case "lt":
      if (values.length !== 1)
        errs.push(
          invalid("values", values, "for 'Gt', 'Lt' operators, exactly one value is required"),
        );
      values.forEach((v, i) => {
        if (parseInt64(v) === undefined)
          errs.push(
            invalid(`values[${i}]`, v, "for 'Gt', 'Lt' operators, the value must be an integer"),
          );
      });
      break;
    default:
      errs.push(notSupported("operator", operator, VALID_OPERATORS));
  }
  values.forEach((v, i) => {
    for (const m of isValidLabelValue(v)) errs.push(invalid(`values[${i}][${key}]`, v, m));
  });
  if (errs.length > 0) throw new LabelSelectorError(aggregateText(errs));
  return { key, operator, values: [...values] };
}

/** Go's `strconv.ParseInt(s, 10, 64)`: optional sign, decimal digits, within int64. */
function parseInt64(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const n = BigInt(s);
  if (n > 9223372036854775807n || n < -9223372036854775808n) return undefined;
  return n;
}

/** `Requirement.Matches`. */
export function requirementMatches(r: Requirement, labels: Labels): boolean {
  const has = Object.hasOwn(labels, r.key);
  switch (r.operator) {
    case "in":
    case "=":
    case "==":
      return has && r.values.includes(labels[r.key]!);
    case "notin":
    case "!=":
      return !has || !r.values.includes(labels[r.key]!);
    case "exists":
      return has;
    case "!":
      return !has;
    case "gt":
    case "lt": {
      if (!has || r.values.length !== 1) return false;
      const lv = parseInt64(labels[r.key]!);
      const rv = parseInt64(r.values[0]!);
      if (lv === undefined || rv === undefined) return false;
      return r.operator === "gt" ? lv > rv : lv < rv;
    }
  }
}

/** `Requirement.String()`: values are printed sorted. */
export function requirementToString(r: Requirement): string {
  let s = r.operator === "!" ? `!${r.key}` : r.key;
  switch (r.operator) {
    case "exists":
    case "!":
      return s;
    case "=":
    case "==":
    case "!=":
      s += r.operator;
      break;
    case "gt":
      s += ">";
      break;
    case "lt":
      s += "<";
      break;
    case "in":
    case "notin":
      s += ` ${r.operator} (`;
      break;
  }
  s += r.values.length === 1 ? r.values[0] : [...r.values].sort(compareStrings).join(",");
  if (r.operator === "in" || r.operator === "notin") s += ")";
  return s;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortByKey(reqs: Requirement[]): Requirement[] {
  // Go uses sort.Sort (not stable); a stable sort gives the same key order deterministically.
  return reqs.sort((a, b) => compareStrings(a.key, b.key));
}

// ---------------------------------------------------------------------------------------------
// Selectors
// ---------------------------------------------------------------------------------------------

export function matches(selector: LabelSelector, labels: Labels | null | undefined): boolean {
  if (selector.nothing) return false;
  const ls = labels ?? {};
  return selector.requirements.every((r) => requirementMatches(r, ls));
}

export function selectorToString(selector: LabelSelector): string {
  return selector.requirements.map(requirementToString).join(",");
}

export function isEverything(selector: LabelSelector): boolean {
  return !selector.nothing && selector.requirements.length === 0;
}

/** `labels.SelectorFromSet`: `k=v` for each entry; an empty set selects everything. */
export function selectorFromSet(set: Labels | null | undefined): LabelSelector {
  const reqs: Requirement[] = Object.entries(set ?? {}).map(([key, v]) => ({
    key,
    operator: "=" as const,
    values: [v],
  }));
  return { requirements: sortByKey(reqs) };
}

/** `labels.FormatLabels`: `k=v,...` sorted by key, `<none>` when empty (kubectl's columns). */
export function formatLabels(labels: Labels | null | undefined): string {
  const s = selectorToString(selectorFromSet(labels));
  return s.length === 0 ? "<none>" : s;
}

/**
 * `metav1.LabelSelectorAsSelector`: null → Nothing, empty → Everything, otherwise matchLabels as
 * `=` and matchExpressions with In/NotIn/Exists/DoesNotExist.
 */
export function fromLabelSelectorObject(
  obj: LabelSelectorObject | null | undefined,
): LabelSelector {
  if (obj === null || obj === undefined) return NOTHING;
  const matchLabels = obj.matchLabels ?? {};
  const exprs = obj.matchExpressions ?? [];
  if (Object.keys(matchLabels).length + exprs.length === 0) return EVERYTHING;
  const reqs: Requirement[] = [];
  for (const [k, v] of Object.entries(matchLabels)) reqs.push(newRequirement(k, "=", [v]));
  for (const e of exprs) {
    const op = LABEL_SELECTOR_OPERATORS[e.operator];
    if (op === undefined)
      throw new LabelSelectorError(
        `${JSON.stringify(e.operator)} is not a valid label selector operator`,
      );
    reqs.push(newRequirement(e.key, op, [...(e.values ?? [])]));
  }
  return { requirements: sortByKey(reqs) };
}

const LABEL_SELECTOR_OPERATORS: Record<string, Operator> = {
  In: "in",
  NotIn: "notin",
  Exists: "exists",
  DoesNotExist: "!",
};

/** `metav1.FormatLabelSelector`: the SELECTOR column of kubectl's wide output. */
export function formatLabelSelectorObject(obj: LabelSelectorObject | null | undefined): string {
  let s: string;
  try {
    s = selectorToString(fromLabelSelectorObject(obj));
  } catch {
    return "<error>";
  }
  return s.length === 0 ? "<none>" : s;
}

// ---------------------------------------------------------------------------------------------
// Lexer and parser
// ---------------------------------------------------------------------------------------------

type Token =
  | "error"
  | "eos"
  | "closedPar"
  | "comma"
  | "doesNotExist"
  | "doubleEquals"
  | "equals"
  | "greaterThan"
  | "identifier"
  | "in"
  | "lessThan"
  | "notEquals"
  | "notIn"
  | "openPar";

const LITERAL_TOKENS: Record<string, Token> = {
  ")": "closedPar",
  ",": "comma",
  "!": "doesNotExist",
  "==": "doubleEquals",
  "=": "equals",
  ">": "greaterThan",
  in: "in",
  "<": "lessThan",
  "!=": "notEquals",
  notin: "notIn",
  "(": "openPar",
};

interface Scanned {
  tok: Token;
  lit: string;
}

const isWhitespace = (ch: string) => ch === " " || ch === "\t" || ch === "\r" || ch === "\n";
const isSpecialSymbol = (ch: string) => "=!(),><".includes(ch);

function lex(input: string): Scanned[] {
  const out: Scanned[] = [];
  let pos = 0;
  for (;;) {
    while (pos < input.length && isWhitespace(input[pos]!)) pos++;
    if (pos >= input.length) {
      out.push({ tok: "eos", lit: "" });
      return out;
    }
    if (isSpecialSymbol(input[pos]!)) {
      // Longest run of special symbols that still forms a known operator ("!=", "==").
      let buffer = "";
      let last: Scanned | undefined;
      while (pos < input.length && isSpecialSymbol(input[pos]!)) {
        buffer += input[pos];
        const t = LITERAL_TOKENS[buffer];
        if (t !== undefined) {
          last = { tok: t, lit: buffer };
          pos++;
        } else if (last !== undefined) {
          break;
        } else {
          pos++;
        }
      }
      out.push(last ?? { tok: "error", lit: `error expected: keyword found '${buffer}'` });
      continue;
    }
    let buffer = "";
    while (pos < input.length && !isSpecialSymbol(input[pos]!) && !isWhitespace(input[pos]!)) {
      buffer += input[pos];
      pos++;
    }
    out.push({ tok: LITERAL_TOKENS[buffer] ?? "identifier", lit: buffer });
  }
}

class Parser {
  private position = 0;
  constructor(private readonly items: Scanned[]) {}

  /** In a values context the keywords `in`/`notin` are plain identifiers. */
  private look(valuesContext: boolean): Scanned {
    const item = this.items[this.position]!;
    if (valuesContext && (item.tok === "in" || item.tok === "notIn"))
      return { tok: "identifier", lit: item.lit };
    return item;
  }

  private next(valuesContext: boolean): Scanned {
    const item = this.look(valuesContext);
    this.position++;
    return item;
  }

  parse(): Requirement[] {
    const reqs: Requirement[] = [];
    for (;;) {
      const { tok, lit } = this.look(true);
      if (tok === "identifier" || tok === "doesNotExist") {
        let r: Requirement;
        try {
          r = this.parseRequirement();
        } catch (e) {
          throw new LabelSelectorError(`unable to parse requirement: ${(e as Error).message}`);
        }
        reqs.push(r);
        const after = this.next(true);
        if (after.tok === "eos") return reqs;
        if (after.tok === "comma") {
          const t2 = this.look(true);
          if (t2.tok !== "identifier" && t2.tok !== "doesNotExist")
            throw new LabelSelectorError(`found '${t2.lit}', expected: identifier after ','`);
        } else {
          throw new LabelSelectorError(`found '${after.lit}', expected: ',' or 'end of string'`);
        }
      } else if (tok === "eos") {
        return reqs;
      } else {
        throw new LabelSelectorError(`found '${lit}', expected: !, identifier, or 'end of string'`);
      }
    }
  }

  private parseRequirement(): Requirement {
    let { tok, lit } = this.next(true);
    let operator: Operator | undefined;
    if (tok === "doesNotExist") {
      operator = "!";
      ({ tok, lit } = this.next(true));
    }
    if (tok !== "identifier") throw new Error(`found '${lit}', expected: identifier`);
    const key = lit;
    const keyErrs = isQualifiedName(key);
    // The parser validates the key against a nil field.Path, which Go prints as "<nil>".
    if (keyErrs.length > 0)
      throw new Error(`<nil>: Invalid value: ${JSON.stringify(key)}: ${keyErrs.join("; ")}`);
    const ahead = this.look(true).tok;
    // `!key` is complete by itself: whatever follows must be ',' or the end, which the caller
    // checks (so `!a=b` fails with "found '=', expected: ',' or 'end of string'").
    if (operator === "!") return newRequirement(key, "!", []);
    if (ahead === "eos" || ahead === "comma") return newRequirement(key, "exists", []);
    const op = this.parseOperator();
    const values = op === "in" || op === "notin" ? this.parseValues() : this.parseExactValue();
    return newRequirement(key, op, [...values].sort(compareStrings));
  }

  private parseOperator(): Operator {
    const { tok, lit } = this.next(false);
    switch (tok) {
      case "in":
        return "in";
      case "equals":
        return "=";
      case "doubleEquals":
        return "==";
      case "greaterThan":
        return "gt";
      case "lessThan":
        return "lt";
      case "notIn":
        return "notin";
      case "notEquals":
        return "!=";
      default:
        throw new Error(`found '${lit}', expected: ${BINARY_OPERATORS}`);
    }
  }

  private parseValues(): Set<string> {
    const open = this.next(true);
    if (open.tok !== "openPar") throw new Error(`found '${open.lit}' expected: '('`);
    const { tok, lit } = this.look(true);
    if (tok === "identifier" || tok === "comma") {
      const s = this.parseIdentifiersList();
      if (this.next(true).tok !== "closedPar") throw new Error(`found '${lit}', expected: ')'`);
      return s;
    }
    if (tok === "closedPar") {
      this.next(true);
      return new Set([""]);
    }
    throw new Error(`found '${lit}', expected: ',', ')' or identifier`);
  }

  private parseIdentifiersList(): Set<string> {
    const s = new Set<string>();
    for (;;) {
      const { tok, lit } = this.next(true);
      if (tok === "identifier") {
        s.add(lit);
        const t2 = this.look(true);
        if (t2.tok === "comma") continue;
        if (t2.tok === "closedPar") return s;
        throw new Error(`found '${t2.lit}', expected: ',' or ')'`);
      }
      if (tok === "comma") {
        // "(,x)", "(x,)" and "(x,,y)" all contain the empty value.
        if (s.size === 0) s.add("");
        const t2 = this.look(true);
        if (t2.tok === "closedPar") {
          s.add("");
          return s;
        }
        if (t2.tok === "comma") {
          this.next(true);
          s.add("");
        }
        continue;
      }
      throw new Error(`found '${lit}', expected: ',', or identifier`);
    }
  }

  private parseExactValue(): Set<string> {
    const ahead = this.look(true);
    if (ahead.tok === "eos" || ahead.tok === "comma") return new Set([""]);
    const { tok, lit } = this.next(true);
    if (tok === "identifier") return new Set([lit]);
    throw new Error(`found '${lit}', expected: identifier`);
  }
}

/** `labels.Parse`. Throws LabelSelectorError with Kubernetes' message on bad input. */
export function parseLabelSelector(input: string): LabelSelector {
  const reqs = new Parser(lex(input)).parse();
  return { requirements: sortByKey(reqs) };
}
