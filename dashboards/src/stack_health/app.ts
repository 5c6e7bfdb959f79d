/** Stack-health row "App process": the inference server's own resources, per replica. */
import { COLOR, type Row, SIZE, steps, timeseriesPanel, UNIT } from "../defaults.ts";
import { app, RATE_INTERVAL } from "../promql.ts";

/** The app-process row of the stack-health dashboard. */
export function appProcessRow(): Row {
  return {
    title: "App process",
    panels: [
      timeseriesPanel({
        title: "App CPU",
        description:
          "CPU time the app uses per second, user plus system, per replica: 100 % is one core " +
          "busy. Deno runs JavaScript on one thread, so a replica near 100 % is saturated.",
        unit: UNIT.percent,
        span: SIZE.third,
        queries: [{
          expr:
            `sum by (instance) (rate(${
              app("process_cpu_user_seconds_total")
            }[${RATE_INTERVAL}]) + ` +
            `rate(${app("process_cpu_system_seconds_total")}[${RATE_INTERVAL}]))`,
          legend: "{{instance}}",
        }],
      }).thresholds(steps(COLOR.ok, [0.7, COLOR.warn], [0.9, COLOR.bad])),
      timeseriesPanel({
        title: "App memory",
        description:
          "Resident memory and V8 heap in use, per replica. A heap that only grows under steady " +
          "traffic is a leak; resident memory near the container limit gets the app killed.",
        unit: UNIT.bytes,
        span: SIZE.third,
        queries: [
          {
            expr: `sum by (instance) (${app("process_resident_memory_bytes")})`,
            legend: "resident {{instance}}",
          },
          {
            expr: `sum by (instance) (${app("nodejs_heap_size_used_bytes")})`,
            legend: "heap used {{instance}}",
          },
        ],
      }),
      timeseriesPanel({
        title: "App uptime",
        description:
          "Time since each replica started (process_start_time_seconds). A drop to zero is a " +
          "restart: counters reset, which rate() and increase() handle, and in-memory budgets " +
          "start over.",
        unit: UNIT.seconds,
        span: SIZE.third,
        queries: [{
          expr: `time() - max by (instance) (${app("process_start_time_seconds")})`,
          legend: "{{instance}}",
        }],
      }),
    ],
  };
}
