/**
 * Field selectors: apimachinery pkg/fields/selector.go (ParseSelector, EscapeValue,
 * UnescapeValue, hasTerm/notHasTerm) and the per-kind field label conversions of
 * pkg/apis/core/v1/conversion.go.
 */
import { describe, expect, it } from "vitest";
import {
  convertFieldSelector,
  escapeValue,
  FieldSelectorError,
  fieldSelectorToString,
  matchesFields,
  objectMatchesFieldSelector,
  parseFieldSelector,
  selectableFields,
  unescapeValue,
} from "../../../actors/api/field-selector.ts";

const roundTrip = (s: string) => fieldSelectorToString(parseFieldSelector(s));

describe("field selector syntax", () => {
  it.each([
    ["", ""],
    ["metadata.name=x", "metadata.name=x"],
    ["metadata.name==x", "metadata.name=x"], // == is the same term as =
    ["status.phase!=Running", "status.phase!=Running"],
    ["b=2,a=1", "a=1,b=2"], // terms are sorted
    ["a=1,,b=2", "a=1,b=2"], // empty terms are skipped
    ["a=x\\,y", "a=x\\,y"], // an escaped comma stays in the value
    ["a=x\\=y\\\\z", "a=x\\=y\\\\z"],
    ["a=", "a="],
  ])("%j → %j", (input, expected) => {
    expect(roundTrip(input)).toBe(expected);
  });

  it("unescapes values", () => {
    const sel = parseFieldSelector("a=x\\,y\\=z\\\\");
    expect(sel.requirements[0]!.value).toBe("x,y=z\\");
    expect(escapeValue("x,y=z\\")).toBe("x\\,y\\=z\\\\");
  });

  it.each([
    ["a", "invalid selector: 'a'; can't understand 'a'"],
    ["a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"],
    ["a=b=c", "invalid field selector: unescaped character in value: ="],
    ["a=b\\x", "invalid field selector: invalid escape sequence: \\x"],
    ["a=b\\", "invalid field selector: invalid escape sequence: \\"],
  ])("%j fails: %s", (input, message) => {
    expect(() => parseFieldSelector(input)).toThrow(FieldSelectorError);
    expect(() => parseFieldSelector(input)).toThrow(message);
  });

  it("does not trim whitespace around fields or values", () => {
    expect(parseFieldSelector("a = b").requirements[0]).toEqual({
      field: "a ",
      operator: "=",
      value: " b",
    });
  });

  it("reading a missing field as empty: a= matches it, a!= does not", () => {
    expect(matchesFields(parseFieldSelector("a="), {})).toBe(true);
    expect(matchesFields(parseFieldSelector("a!="), {})).toBe(false);
    expect(unescapeValue("plain")).toBe("plain");
  });
});

describe("per-resource field labels", () => {
  const pod = {
    metadata: { name: "web-1", namespace: "default" },
    spec: {
      nodeName: "n1",
      restartPolicy: "Always",
      schedulerName: "default-scheduler",
      hostNetwork: true,
    },
    status: { phase: "Running", podIP: "10.0.0.5", podIPs: [{ ip: "10.0.0.5" }] },
  };

  it("pods select on spec.nodeName, status.phase, status.podIP, ...", () => {
    const sel = convertFieldSelector(
      "pods",
      parseFieldSelector("spec.nodeName=n1,status.phase!=Pending"),
    );
    expect(objectMatchesFieldSelector("pods", sel, pod)).toBe(true);
    expect(selectableFields("pods", pod)["spec.hostNetwork"]).toBe("true");
    expect(selectableFields("pods", pod)["status.podIP"]).toBe("10.0.0.5");
  });

  it("maps the legacy spec.host label to spec.nodeName for pods", () => {
    const sel = convertFieldSelector("pods", parseFieldSelector("spec.host=n1"));
    expect(sel.requirements[0]!.field).toBe("spec.nodeName");
  });

  it("rejects unsupported labels with the conversion function's message", () => {
    expect(() => convertFieldSelector("pods", parseFieldSelector("spec.foo=bar"))).toThrow(
      "field label not supported: spec.foo",
    );
    expect(() => convertFieldSelector("configmaps", parseFieldSelector("data.x=1"))).toThrow(
      '"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"',
    );
  });

  it("events, secrets, nodes, services expose their fields", () => {
    const ev = {
      metadata: { name: "e", namespace: "default" },
      involvedObject: { kind: "Pod", name: "web-1", namespace: "default" },
      reason: "Scheduled",
      type: "Normal",
      source: { component: "default-scheduler" },
    };
    const sel = convertFieldSelector(
      "events",
      parseFieldSelector(
        "involvedObject.kind=Pod,involvedObject.name=web-1,type=Normal,source=default-scheduler",
      ),
    );
    expect(objectMatchesFieldSelector("events", sel, ev)).toBe(true);
    expect(selectableFields("secrets", { type: "Opaque" }).type).toBe("Opaque");
    expect(selectableFields("nodes", { spec: {} })["spec.unschedulable"]).toBe("false");
    expect(selectableFields("services", { spec: { type: "NodePort" } })["spec.type"]).toBe(
      "NodePort",
    );
  });
});
