/**
 * Label selectors: the grammar, errors and matching of apimachinery pkg/labels/selector.go
 * (cases after its selector_test.go: TestSelectorParse, TestLexer, TestRequirementConstructor,
 * TestSetSelectorParser) and metav1.LabelSelectorAsSelector.
 */
import { describe, expect, it } from "vitest";
import {
  formatLabelSelectorObject,
  formatLabels,
  fromLabelSelectorObject,
  LabelSelectorError,
  matches,
  parseLabelSelector,
  selectorFromSet,
  selectorToString,
} from "../../../actors/api/label-selector.ts";

const canonical = (s: string) => selectorToString(parseLabelSelector(s));

describe("label selector syntax (labels.Parse)", () => {
  it.each([
    ["", ""],
    ["x=a,y=b,z=c", "x=a,y=b,z=c"],
    ["z=c,y=b,x=a", "x=a,y=b,z=c"], // requirements are sorted by key
    ["x==a", "x==a"],
    ["x!=a", "x!=a"],
    ["x=", "x="], // the empty value
    ["x= ", "x="],
    [" x = a , y = b ", "x=a,y=b"], // whitespace between tokens is ignored
    ["x\t=\na", "x=a"],
    ["x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"],
    ["x in (b,a,a)", "x in (a,b)"], // values sorted and de-duplicated
    ["x notin (in)", "x notin (in)"], // keywords are identifiers where values are expected
    ["in in (notin)", "in in (notin)"],
    ["!x", "!x"],
    ["x,!y", "x,!y"],
    ["x>1", "x>1"],
    ["x<10", "x<10"],
    ["example.com/app=web", "example.com/app=web"],
  ])("%j parses to %j", (input, expected) => {
    expect(canonical(input)).toBe(expected);
  });

  it.each([
    ["x=a,", "found '', expected: identifier after ','"],
    [",x=a", "found ',', expected: !, identifier, or 'end of string'"],
    ["x=a b", "found 'b', expected: ',' or 'end of string'"],
    ["x in a", "unable to parse requirement: found 'a' expected: '('"],
    ["x in (a", "unable to parse requirement: found '', expected: ',' or ')'"],
    // gt/lt values are label values too, so a negative number is rejected
    ["x<-1", 'values[0][x]: Invalid value: "-1": a valid label must be an empty string'],
    ["x (a)", "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"],
    ["x=(a)", "unable to parse requirement: found '(', expected: identifier"],
    ["!x=a", "found '=', expected: ',' or 'end of string'"],
    [
      "x>a",
      "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer",
    ],
  ])("%j fails: %s", (input, message) => {
    expect(() => parseLabelSelector(input)).toThrow(LabelSelectorError);
    expect(() => parseLabelSelector(input)).toThrow(message);
  });

  it("a lexer error names the unknown symbol run", () => {
    expect(() => parseLabelSelector("x=<a")).toThrow("found '<', expected: identifier");
  });

  it("invalid keys are reported against the parser's nil field path", () => {
    expect(() => parseLabelSelector("-x=a")).toThrow(
      'unable to parse requirement: <nil>: Invalid value: "-x": name part must consist of alphanumeric characters',
    );
    expect(() => parseLabelSelector(`${"k".repeat(64)}=a`)).toThrow(
      "name part must be no more than 63 characters",
    );
  });

  it("invalid values are reported at values[i][key]", () => {
    expect(() => parseLabelSelector("x=a$b")).toThrow(
      'values[0][x]: Invalid value: "a$b": a valid label must be an empty string or consist of alphanumeric characters',
    );
  });
});

describe("label selector matching (Requirement.Matches)", () => {
  const labels = { app: "web", tier: "frontend", replicas: "3" };
  it.each([
    ["", true],
    ["app=web", true],
    ["app==web", true],
    ["app=db", false],
    ["app!=db", true],
    ["missing!=x", true], // != and notin match objects without the key
    ["app in (web,db)", true],
    ["app notin (web)", false],
    ["missing notin (a)", true],
    ["missing in (a)", false],
    ["app", true],
    ["missing", false],
    ["!missing", true],
    ["!app", false],
    ["replicas>2", true],
    ["replicas>3", false],
    ["replicas<4", true],
    ["app>1", false], // a non-integer label value never satisfies gt/lt
    ["missing<1", false],
    ["app=web,tier=frontend", true],
    ["app=web,tier=backend", false],
  ])("%j against app=web,tier=frontend,replicas=3 → %s", (sel, expected) => {
    expect(matches(parseLabelSelector(sel), labels)).toBe(expected);
  });
});

describe("metav1.LabelSelector conversion (LabelSelectorAsSelector)", () => {
  it("null selects nothing, an empty selector everything", () => {
    expect(matches(fromLabelSelectorObject(null), {})).toBe(false);
    expect(matches(fromLabelSelectorObject({}), { a: "b" })).toBe(true);
  });

  it("matchLabels and matchExpressions combine with AND", () => {
    const sel = fromLabelSelectorObject({
      matchLabels: { app: "web" },
      matchExpressions: [
        { key: "tier", operator: "In", values: ["frontend", "edge"] },
        { key: "canary", operator: "DoesNotExist" },
        { key: "env", operator: "Exists" },
        { key: "zone", operator: "NotIn", values: ["b"] },
      ],
    });
    expect(selectorToString(sel)).toBe(
      "app=web,!canary,env,tier in (edge,frontend),zone notin (b)",
    );
    expect(matches(sel, { app: "web", tier: "edge", env: "prod" })).toBe(true);
    expect(matches(sel, { app: "web", tier: "edge", env: "prod", canary: "1" })).toBe(false);
  });

  it("rejects unknown operators and empty In values like Kubernetes", () => {
    expect(() =>
      fromLabelSelectorObject({ matchExpressions: [{ key: "a", operator: "Gt", values: ["1"] }] }),
    ).toThrow('"Gt" is not a valid label selector operator');
    expect(() =>
      fromLabelSelectorObject({ matchExpressions: [{ key: "a", operator: "In", values: [] }] }),
    ).toThrow("for 'in', 'notin' operators, values set can't be empty");
  });

  it("formats selectors for kubectl's SELECTOR column", () => {
    expect(formatLabelSelectorObject({ matchLabels: { app: "nginx" } })).toBe("app=nginx");
    expect(formatLabelSelectorObject({})).toBe("<none>");
    expect(formatLabelSelectorObject(null)).toBe("<none>");
    expect(formatLabels({ b: "2", a: "1" })).toBe("a=1,b=2");
    expect(formatLabels({})).toBe("<none>");
    expect(selectorToString(selectorFromSet({ b: "2", a: "1" }))).toBe("a=1,b=2");
  });
});
