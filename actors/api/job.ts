/**
 * Jobs and CronJobs (`batch/v1`) as the API server has them: defaults (`pkg/apis/batch/v1`
 * defaulters and the Job strategy's generated selector) and validation
 * (`pkg/apis/batch/validation`). The controllers that run them are in actors/controllers
 * (job.ts, cronjob.ts).
 */
import { parseCronSchedule } from "./cron-schedule.ts";
import { defaultTemplate, setDefault } from "./defaults.ts";
import { type FieldError, invalid, notSupported, required, tooLong } from "./field-error.ts";
import { asObject, asString, isJsonObject, type JsonObject, type JsonValue } from "./json.ts";
import { fromLabelSelectorObject, type LabelSelectorObject, matches } from "./label-selector.ts";
import { validateImmutable } from "./object-meta.ts";
import { validatePodSpec } from "./validation.ts";

/** Labels the Job strategy stamps on its pod template and selects by (`batch/v1` well-known). */
export const JOB_CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid";
export const JOB_NAME_LABEL = "batch.kubernetes.io/job-name";
export const LEGACY_CONTROLLER_UID_LABEL = "controller-uid";
export const LEGACY_JOB_NAME_LABEL = "job-name";
/** kube's default `backoffLimit`. */
export const DEFAULT_BACKOFF_LIMIT = 6;
export const JOB_RESTART_POLICIES = ["OnFailure", "Never"] as const;
export const CONCURRENCY_POLICIES = ["Allow", "Forbid", "Replace"] as const;
/** A CronJob's name leaves room for the 11-character suffix of its Jobs' names. */
export const MAX_CRONJOB_NAME_LENGTH = 52;

/** `SetDefaults_Job`, plus the pod template's defaults. */
export function defaultJobSpec(spec: JsonObject): void {
  if (spec.completions === undefined && spec.parallelism === undefined) {
    spec.completions = 1;
    spec.parallelism = 1;
  }
  setDefault(spec, "parallelism", 1);
  setDefault(spec, "backoffLimit", DEFAULT_BACKOFF_LIMIT);
  setDefault(spec, "completionMode", "NonIndexed");
  setDefault(spec, "suspend", false);
  setDefault(spec, "podReplacementPolicy", "TerminatingOrFailed");
  defaultTemplate(spec);
}

/**
 * The Job strategy's `generateSelector`: unless `manualSelector`, the pods are selected by the
 * Job's uid and labelled with it and the Job's name.
 */
export function defaultJob(job: JsonObject): void {
  const spec = asObject(job.spec);
  job.spec = spec;
  defaultJobSpec(spec);
  if (spec.manualSelector === true) return;
  const meta = asObject(job.metadata);
  const uid = asString(meta.uid);
  if (uid === "") return; // an update keeps the selector it was created with
  const name = asString(meta.name);
  const template = asObject(spec.template);
  const tmeta = asObject(template.metadata);
  tmeta.labels = {
    ...asObject(tmeta.labels),
    [JOB_CONTROLLER_UID_LABEL]: uid,
    [JOB_NAME_LABEL]: name,
    [LEGACY_CONTROLLER_UID_LABEL]: uid,
    [LEGACY_JOB_NAME_LABEL]: name,
  };
  template.metadata = tmeta;
  spec.template = template;
  if (spec.selector === undefined)
    spec.selector = { matchLabels: { [JOB_CONTROLLER_UID_LABEL]: uid } };
}

/** `SetDefaults_CronJob`, and the job template's. */
export function defaultCronJob(cj: JsonObject): void {
  const spec = asObject(cj.spec);
  cj.spec = spec;
  setDefault(spec, "concurrencyPolicy", "Allow");
  setDefault(spec, "suspend", false);
  setDefault(spec, "successfulJobsHistoryLimit", 3);
  setDefault(spec, "failedJobsHistoryLimit", 1);
  const jobTemplate = asObject(spec.jobTemplate);
  const jobSpec = asObject(jobTemplate.spec);
  defaultJobSpec(jobSpec);
  jobTemplate.spec = jobSpec;
  spec.jobTemplate = jobTemplate;
}

function nonNegativeInt(value: JsonValue | undefined, path: string): FieldError[] {
  if (value === undefined || value === null) return [];
  return typeof value === "number" && Number.isInteger(value) && value >= 0
    ? []
    : [invalid(path, value, "must be greater than or equal to 0")];
}

function positiveInt(value: JsonValue | undefined, path: string): FieldError[] {
  if (value === undefined || value === null) return [];
  return typeof value === "number" && Number.isInteger(value) && value > 0
    ? []
    : [invalid(path, value, "must be greater than 0")];
}

/** `validateJobSpec` (a Job's, or a CronJob's job template's, at `path`). */
export function validateJobSpec(specValue: JsonValue | undefined, path: string): FieldError[] {
  const spec = asObject(specValue);
  const errs: FieldError[] = [
    ...nonNegativeInt(spec.parallelism, `${path}.parallelism`),
    ...nonNegativeInt(spec.completions, `${path}.completions`),
    ...nonNegativeInt(spec.backoffLimit, `${path}.backoffLimit`),
    ...positiveInt(spec.activeDeadlineSeconds, `${path}.activeDeadlineSeconds`),
    ...nonNegativeInt(spec.ttlSecondsAfterFinished, `${path}.ttlSecondsAfterFinished`),
  ];
  if (spec.completionMode !== undefined && spec.completionMode !== "NonIndexed")
    errs.push(notSupported(`${path}.completionMode`, spec.completionMode, ["NonIndexed"]));
  const template = spec.template;
  if (!isJsonObject(template)) {
    errs.push(required(`${path}.template`));
    return errs;
  }
  const podSpec = asObject(template.spec);
  errs.push(...validatePodSpec(podSpec, `${path}.template.spec`));
  if (
    !JOB_RESTART_POLICIES.includes(podSpec.restartPolicy as (typeof JOB_RESTART_POLICIES)[number])
  )
    errs.push(
      notSupported(
        `${path}.template.spec.restartPolicy`,
        podSpec.restartPolicy ?? "",
        JOB_RESTART_POLICIES,
      ),
    );
  const selector = spec.selector;
  if (isJsonObject(selector)) {
    try {
      const labels = asObject(asObject(template.metadata).labels) as Record<string, string>;
      if (!matches(fromLabelSelectorObject(selector as unknown as LabelSelectorObject), labels))
        errs.push(
          invalid(
            `${path}.template.metadata.labels`,
            labels,
            "`selector` does not match template `labels`",
          ),
        );
    } catch (e) {
      errs.push(invalid(`${path}.selector`, selector, (e as Error).message));
    }
  }
  return errs;
}

export function validateJob(job: JsonObject): FieldError[] {
  const spec = asObject(job.spec);
  const errs = validateJobSpec(spec, "spec");
  if (spec.manualSelector === true && !isJsonObject(spec.selector))
    errs.push(required("spec.selector"));
  return errs;
}

export function validateJobUpdate(job: JsonObject, old: JsonObject): FieldError[] {
  const spec = asObject(job.spec);
  const was = asObject(old.spec);
  return [
    ...validateImmutable(spec.selector, was.selector, "spec.selector"),
    ...validateImmutable(spec.template, was.template, "spec.template"),
    ...validateImmutable(spec.completions, was.completions, "spec.completions"),
  ];
}

export function validateCronJob(cj: JsonObject): FieldError[] {
  const errs: FieldError[] = [];
  const name = asString(asObject(cj.metadata).name);
  if (name.length > MAX_CRONJOB_NAME_LENGTH)
    errs.push(tooLong("metadata.name", MAX_CRONJOB_NAME_LENGTH));
  const spec = asObject(cj.spec);
  if (typeof spec.schedule !== "string" || spec.schedule === "")
    errs.push(required("spec.schedule"));
  else {
    try {
      parseCronSchedule(spec.schedule);
    } catch (e) {
      errs.push(invalid("spec.schedule", spec.schedule, (e as Error).message));
    }
  }
  if (
    spec.timeZone !== undefined &&
    spec.timeZone !== null &&
    spec.timeZone !== "Etc/UTC" &&
    spec.timeZone !== "UTC"
  )
    errs.push(notSupported("spec.timeZone", spec.timeZone, ["Etc/UTC", "UTC"]));
  if (
    !CONCURRENCY_POLICIES.includes(spec.concurrencyPolicy as (typeof CONCURRENCY_POLICIES)[number])
  )
    errs.push(
      notSupported("spec.concurrencyPolicy", spec.concurrencyPolicy ?? "", CONCURRENCY_POLICIES),
    );
  errs.push(
    ...nonNegativeInt(spec.startingDeadlineSeconds, "spec.startingDeadlineSeconds"),
    ...nonNegativeInt(spec.successfulJobsHistoryLimit, "spec.successfulJobsHistoryLimit"),
    ...nonNegativeInt(spec.failedJobsHistoryLimit, "spec.failedJobsHistoryLimit"),
  );
  const jobTemplate = spec.jobTemplate;
  if (!isJsonObject(jobTemplate)) errs.push(required("spec.jobTemplate"));
  else errs.push(...validateJobSpec(jobTemplate.spec, "spec.jobTemplate.spec"));
  return errs;
}
