/**
 * The scenario's `local:` section (backend local, cluster/local/): the testbed's deployment,
 * what a Deployment manifest and the kubelet's settings would say, on a time scale fit for
 * minute-long episodes (see `TIME_SCALE`). Here, beside the scenario schema, so that the
 * schema owns every default without importing cluster/; cluster/local/spec.ts re-exports it.
 */
import { z } from "zod";

/**
 * Kubernetes timings divided by 10: the kubelet's crash back-off (10 s doubling to 300 s)
 * becomes 1 s doubling to 30 s, its 10 s readiness period 1 s. Episodes step every 1-2 s of
 * wall time (the scenario's `stepSeconds`), so one testbed second stands for ten cluster
 * seconds of control dynamics while requests, CPU and memory stay in real units.
 */
export const TIME_SCALE = 10;

export const deploymentSpecSchema = z
  .object({
    namespace: z.string().default("chaos-rl").describe("The `namespace` label of every series."),
    name: z.string().default("demo").describe("Deployment name; pods are named `<name>-<template hash>-<suffix>`."),
    replicas: z.number().int().min(0).max(64).default(3).describe("Initial desired replicas (`spec.replicas`)."),
    cpuCores: z.number().positive().max(64).default(0.5).describe("CPU limit of each replica, cores (`limits.cpu`)."),
    memoryMiB: z.number().int().min(32).default(256).describe("Memory limit of each replica, MiB (`limits.memory`)."),
    workMs: z.number().min(0).max(1000).default(2).describe("CPU time one /api/work request costs, ms."),
    allocKiB: z.number().int().min(0).default(128).describe("Memory one /api/work request allocates, KiB."),
    readinessPeriodMs: z.number().int().positive().default(1000).describe("Readiness probe period, ms (10 s / 10)."),
    startupDelayMs: z
      .number()
      .int()
      .min(0)
      .default(2000)
      .describe(
        "Time a started container waits before its first readiness probe, ms: a cluster's container start plus the probe's initialDelaySeconds, 20 s / 10 (the simulator's new pod takes 2-4 steps of 10 s). Without it a replacement is ready in about a second, faster than one observation.",
      ),
    readinessTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(1000)
      .describe("Readiness probe timeout, ms (generous: a busy 2-core machine answers late)."),
    readinessFailureThreshold: z
      .number()
      .int()
      .positive()
      .default(3)
      .describe("Failed probes in a row that make a pod unready (Kubernetes' default)."),
    backoffBaseMs: z
      .number()
      .int()
      .positive()
      .default(1000)
      .describe("Crash back-off after the first crash, ms (10 s / 10)."),
    backoffMaxMs: z.number().int().positive().default(30_000).describe("Crash back-off ceiling, ms (300 s / 10)."),
    backoffResetMs: z
      .number()
      .int()
      .positive()
      .default(60_000)
      .describe("A container that ran this long resets its back-off, ms (10 min / 10)."),
    terminationGraceMs: z
      .number()
      .int()
      .min(0)
      .default(3000)
      .describe("SIGTERM to SIGKILL on deletion, ms (30 s / 10)."),
    startTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(30_000)
      .describe("A new replica that is not ready within this is an environment error."),
    cgroups: z
      .enum(["auto", "v1", "v2", "none"])
      .default("auto")
      .describe("Limit mechanism: auto tries v2, then v1, then none (limits not enforced, recorded)."),
  })
  .strict();
export type DeploymentSpecInput = z.input<typeof deploymentSpecSchema>;
export type DeploymentSpec = z.output<typeof deploymentSpecSchema>;

export const localSectionSchema = deploymentSpecSchema
  .extend({
    scrapeIntervalS: z
      .number()
      .min(0.1)
      .max(60)
      .default(1)
      .describe("Prometheus's scrape interval, seconds; the collector's rate window follows from it and stepSeconds."),
    parallelEpisodes: z
      .number()
      .int()
      .min(1)
      .max(16)
      .default(1)
      .describe(
        "Episodes run at once, each on a testbed of its own (replicas, balancer, load generator, Prometheus); --jobs can only lower it. They share the machine's CPU: raise it only where the cores leave room.",
      ),
  })
  .strict()
  .describe(
    `The local testbed (backend local): real replicas, limits, probes and back-off. Time runs on the wall clock: stepSeconds are real seconds (1-2 s steps), and kubelet timings are Kubernetes' divided by ${TIME_SCALE}.`,
  );
export type LocalSection = z.output<typeof localSectionSchema>;
