/**
 * Process metrics that work under Deno. prom-client's collectDefaultMetrics() mostly runs, but its
 * event-loop-lag gauges report NaN and 9223372036 under Deno (no working monitorEventLoopDelay),
 * so the standard process_* and heap series are collected here from Deno's own APIs.
 */
import client from "prom-client";
import process from "node:process";

const startTimeSeconds = Math.round(Date.now() / 1000 - performance.now() / 1000);

/** Registers process_* and nodejs_heap_* gauges computed at scrape time. */
export function registerProcessMetrics(registry: client.Registry): void {
  const registers = [registry];
  new client.Counter({
    name: "process_cpu_user_seconds_total",
    help: "Total user CPU time spent in seconds",
    registers,
    collect() {
      this.reset();
      this.inc(process.cpuUsage().user / 1e6);
    },
  });
  new client.Counter({
    name: "process_cpu_system_seconds_total",
    help: "Total system CPU time spent in seconds",
    registers,
    collect() {
      this.reset();
      this.inc(process.cpuUsage().system / 1e6);
    },
  });
  new client.Gauge({
    name: "process_start_time_seconds",
    help: "Start time of the process since unix epoch in seconds",
    registers,
  }).set(startTimeSeconds);
  const memory = (field: keyof Deno.MemoryUsage, name: string, help: string) =>
    new client.Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(Deno.memoryUsage()[field]);
      },
    });
  memory("rss", "process_resident_memory_bytes", "Resident memory size in bytes");
  memory("heapTotal", "nodejs_heap_size_total_bytes", "Process heap size in bytes");
  memory("heapUsed", "nodejs_heap_size_used_bytes", "Process heap size used in bytes");
  memory("external", "nodejs_external_memory_bytes", "V8 external memory size in bytes");
}
