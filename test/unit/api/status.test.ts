/**
 * Status objects byte for byte as the API server writes them (apimachinery
 * pkg/api/errors/errors.go, encoded by Go's encoding/json in struct field order).
 */
import { describe, expect, it } from "vitest";
import { invalid, required } from "../../../actors/api/field-error.ts";
import {
  alreadyExistsStatus,
  badRequestStatus,
  conflictStatus,
  forbiddenStatus,
  goneStatus,
  internalErrorStatus,
  invalidStatus,
  methodNotAllowedStatus,
  notFoundStatus,
  requestEntityTooLargeStatus,
  unauthorizedStatus,
  unprocessablePatchStatus,
} from "../../../actors/api/status.ts";

const pods = { group: "", resource: "pods" };
const json = (v: unknown) => JSON.stringify(v);

describe("metav1.Status failures", () => {
  it("404 NotFound", () => {
    expect(json(notFoundStatus(pods, "x"))).toBe(
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \\"x\\" not found","reason":"NotFound","details":{"name":"x","kind":"pods"},"code":404}',
    );
  });

  it("404 for a grouped resource names it resource.group", () => {
    expect(notFoundStatus({ group: "apps", resource: "deployments" }, "web")).toMatchObject({
      message: 'deployments.apps "web" not found',
      details: { name: "web", group: "apps", kind: "deployments" },
    });
  });

  it("409 AlreadyExists", () => {
    expect(json(alreadyExistsStatus(pods, "x"))).toBe(
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \\"x\\" already exists","reason":"AlreadyExists","details":{"name":"x","kind":"pods"},"code":409}',
    );
  });

  it("409 Conflict on a stale resourceVersion", () => {
    expect(conflictStatus(pods, "x").message).toBe(
      'Operation cannot be fulfilled on pods "x": the object has been modified; please apply your changes to the latest version and try again',
    );
    expect(conflictStatus(pods, "x").code).toBe(409);
  });

  it("422 Invalid with causes from the field errors", () => {
    const s = invalidStatus({ group: "", kind: "Pod" }, "x", [
      required("spec.containers[0].image"),
    ]);
    expect(json(s)).toBe(
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Pod \\"x\\" is invalid: spec.containers[0].image: Required value","reason":"Invalid","details":{"name":"x","kind":"Pod","causes":[{"reason":"FieldValueRequired","message":"Required value","field":"spec.containers[0].image"}]},"code":422}',
    );
  });

  it("422 with several errors aggregates them in brackets", () => {
    const s = invalidStatus({ group: "apps", kind: "Deployment" }, "web", [
      required("spec.selector"),
      invalid("spec.replicas", -1, "must be greater than or equal to 0"),
    ]);
    expect(s.message).toBe(
      'Deployment.apps "web" is invalid: [spec.selector: Required value, spec.replicas: Invalid value: -1: must be greater than or equal to 0]',
    );
    expect(s.details?.causes?.[1]).toEqual({
      reason: "FieldValueInvalid",
      message: "Invalid value: -1: must be greater than or equal to 0",
      field: "spec.replicas",
    });
  });

  it("400, 401, 403, 405, 410, 413, 500", () => {
    expect(json(badRequestStatus("field label not supported: spec.foo"))).toBe(
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"field label not supported: spec.foo","reason":"BadRequest","code":400}',
    );
    expect(unauthorizedStatus()).toMatchObject({
      code: 401,
      reason: "Unauthorized",
      message: "not authorized",
    });
    expect(forbiddenStatus(pods, "x", 'User "bob" cannot get resource "pods"')).toMatchObject({
      code: 403,
      reason: "Forbidden",
      message: 'pods "x" is forbidden: User "bob" cannot get resource "pods"',
    });
    expect(methodNotAllowedStatus(pods, "deletecollection")).toMatchObject({
      code: 405,
      reason: "MethodNotAllowed",
      message: 'deletecollection is not supported on resources of kind "pods"',
    });
    expect(json(goneStatus())).toBe(
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version","reason":"Gone","code":410}',
    );
    expect(requestEntityTooLargeStatus("limit is 3145728")).toMatchObject({
      code: 413,
      reason: "RequestEntityTooLarge",
      message: "Request entity too large: limit is 3145728",
    });
    expect(json(internalErrorStatus("boom"))).toBe(
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Internal error occurred: boom","reason":"InternalError","details":{"causes":[{"message":"boom"}]},"code":500}',
    );
    expect(unprocessablePatchStatus()).toMatchObject({
      code: 422,
      reason: "Invalid",
      message: "the server rejected our request due to an error in our request",
    });
  });
});
