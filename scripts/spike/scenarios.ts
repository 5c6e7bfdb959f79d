/**
 * The spike simulation's scenarios: which requests each sends, how fast, when it stops, and which
 * alerts it should fire with the shipped rules (alerts/*.rules.yml). Data, not behaviour: the
 * runner (traffic.ts) sends them and verify.ts waits for the alerts.
 */

/** One kind of request a scenario sends, repeated until its stop condition. */
export interface Stream {
  /** The tenant id sent in the body; an id the app does not know is billed as `other`. */
  tenant: string;
  model: string;
  /** The model the caller meant (routing-mistake): shown in the summary. */
  intendedModel?: string;
  /** Prompt length in tokens, about (one word of the filler is one token for these models). */
  promptTokens: number;
  maxTokens: number;
  /** A fixed number of requests... */
  requests?: number;
  /** ...or as many as it takes to spend this multiple of the tenant's hourly threshold. */
  thresholdFactor?: number;
  /** The reference tutorial's own prompt instead of the filler. */
  tutorialPrompt?: boolean;
}

/** An alert the scenario should fire: its name and labels it must carry. */
export interface ExpectedAlert {
  alertname: string;
  labels: Record<string, string>;
}

export interface Scenario {
  name: string;
  summary: string;
  streams: Stream[];
  /** Requests in flight at once. */
  concurrency: number;
  /** Spread the requests over about this many seconds (a loop, not one burst); 0 = no pacing. */
  spreadSeconds: number;
  /** A fixed request rate for this long instead of request counts (the calm baseline). */
  rate?: { requestsPerSecond: number; seconds: number };
  /** Expected alerts, by the billed tenant (`other` for unknown ids); empty: none may fire. */
  expectedAlerts: ExpectedAlert[];
  /** What the scenario aims at, for the summary. */
  aim: string;
  /** Hard bounds, whatever the stop conditions say. */
  maxRequests: number;
  maxSeconds: number;
}

/** The tutorial's spike loop prompt, numbered per request. */
export function tutorialPrompt(index: number): string {
  return `Write a detailed essay about request number ${index + 1} with extensive analysis and ` +
    "thorough coverage of all relevant topics";
}

const WORDS = (
  "budget context tenant window forecast ledger invoice quota usage token model request reply " +
  "latency stream cache price metric trace span alert dashboard sample series label value rate"
).split(" ");

/**
 * A filler prompt of about `tokens` tokens (each word is one token in o200k_base and
 * cl100k_base), different per request so no cache makes two requests alike.
 */
export function fillerPrompt(tokens: number, index: number): string {
  const words = new Array<string>(Math.max(1, tokens - 3));
  let state = (index + 1) * 2654435761 >>> 0;
  for (let i = 0; i < words.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    words[i] = WORDS[(state >>> 0) % WORDS.length];
  }
  return `Request ${index + 1}: ${words.join(" ")}`;
}

/** The scenarios, by name, in the order `--list` shows them. */
export const SCENARIOS: readonly Scenario[] = [
  {
    name: "reference",
    summary: "the reference tutorial's loop: 50 short gpt-4o requests from team-chat",
    streams: [{
      tenant: "team-chat",
      model: "gpt-4o",
      promptTokens: 20,
      maxTokens: 512,
      requests: 50,
      tutorialPrompt: true,
    }],
    concurrency: 1,
    spreadSeconds: 0,
    expectedAlerts: [],
    aim:
      "nothing: about a cent against team-chat's $100/hour — why the tutorial's alert never fired",
    maxRequests: 50,
    maxSeconds: 120,
  },
  {
    name: "runaway-tenant",
    summary:
      "an agent loop in team-internal resends a 30K-token context to gpt-4o until it has spent " +
      "1.5× the tenant's hourly threshold, within about a minute",
    streams: [{
      tenant: "team-internal",
      model: "gpt-4o",
      promptTokens: 30_000,
      maxTokens: 256,
      thresholdFactor: 1.5,
    }],
    concurrency: 4,
    spreadSeconds: 60,
    // Each request costs about $0.075: the p95 stays in the (0.05, 0.1] bucket, under the
    // per-request spike alert's $0.10, so only the hourly threshold fires.
    expectedAlerts: [{ alertname: "InferenceCostHigh", labels: { tenant: "team-internal" } }],
    aim: "team-internal's hourly threshold × 1.5",
    maxRequests: 1_000,
    maxSeconds: 300,
  },
  {
    name: "routing-mistake",
    summary:
      "team-search's retrieval traffic, 45K-token prompts meant for gpt-4o-mini, is routed to " +
      "gpt-4o: 16× the cost per request",
    streams: [{
      tenant: "team-search",
      model: "gpt-4o",
      intendedModel: "gpt-4o-mini",
      promptTokens: 45_000,
      maxTokens: 256,
      requests: 40,
    }],
    concurrency: 4,
    spreadSeconds: 60,
    expectedAlerts: [{
      alertname: "InferenceCostPerRequestSpike",
      labels: { model: "gpt-4o" },
    }],
    aim: "gpt-4o's p95 cost per request over $0.10 (about $0.11 a request; $4.50 in all)",
    maxRequests: 40,
    maxSeconds: 300,
  },
  {
    name: "100k-prompts",
    summary: "team-chat sends 40 prompts of 100K tokens to gpt-4o ($0.25 each)",
    streams: [{
      tenant: "team-chat",
      model: "gpt-4o",
      promptTokens: 100_000,
      maxTokens: 256,
      requests: 40,
    }],
    concurrency: 4,
    spreadSeconds: 60,
    expectedAlerts: [{
      alertname: "InferenceCostPerRequestSpike",
      labels: { model: "gpt-4o" },
    }],
    aim: "gpt-4o's p95 cost per request over $0.10 ($10 in all, under team-chat's $100/hour)",
    maxRequests: 40,
    maxSeconds: 300,
  },
  {
    name: "burst",
    summary:
      "every tenant at once, and one the app does not know (billed as `other`): 100K-token " +
      "claude-opus-4.1 prompts until each has spent 1.2× its hourly threshold, amid 400 small " +
      "gpt-4o-mini requests",
    streams: [
      ...["team-search", "team-chat", "team-internal", "team-unlisted"].map((tenant) => ({
        tenant,
        model: "claude-opus-4.1",
        promptTokens: 100_000,
        maxTokens: 256,
        thresholdFactor: 1.2,
      })),
      ...["team-search", "team-chat", "team-internal", "team-unlisted"].map((tenant) => ({
        tenant,
        model: "gpt-4o-mini",
        promptTokens: 400,
        maxTokens: 128,
        requests: 100,
      })),
    ],
    concurrency: 16,
    spreadSeconds: 30,
    expectedAlerts: [
      { alertname: "InferenceCostHigh", labels: { tenant: "team-search" } },
      { alertname: "InferenceCostHigh", labels: { tenant: "team-chat" } },
      { alertname: "InferenceCostHigh", labels: { tenant: "team-internal" } },
      // An unknown tenant is held to the default tenant's threshold.
      { alertname: "InferenceCostHigh", labels: { tenant: "other" } },
      { alertname: "InferenceCostPerRequestSpike", labels: { model: "claude-opus-4.1" } },
    ],
    aim: "every tenant's hourly threshold × 1.2 (other: default's)",
    maxRequests: 1_000,
    maxSeconds: 300,
  },
  {
    name: "calm",
    summary: "a steady trickle of small requests from every tenant: no alert may fire",
    streams: ["team-search", "team-chat", "team-internal", "default"].flatMap((tenant) => [
      { tenant, model: "gpt-4o-mini", promptTokens: 300, maxTokens: 64 },
      { tenant, model: "claude-3.5-haiku", promptTokens: 300, maxTokens: 64 },
    ]),
    concurrency: 2,
    spreadSeconds: 0,
    rate: { requestsPerSecond: 1, seconds: 180 },
    expectedAlerts: [],
    aim: "nothing: cents an hour, far under every threshold",
    maxRequests: 2_000,
    maxSeconds: 1_800,
  },
];

/** The scenario of that name, or undefined. */
export function scenarioNamed(name: string): Scenario | undefined {
  return SCENARIOS.find((scenario) => scenario.name === name);
}

/**
 * How long the shipped rules take to fire each alert once the traffic is in, from the rule files
 * (tests/alerts/spike_test.ts keeps this table equal to them): the group's evaluation interval
 * and the rule's `for`, in seconds.
 */
export const ALERT_TIMING: Readonly<
  Record<string, { evaluationSeconds: number; forSeconds: number }>
> = {
  InferenceCostHigh: { evaluationSeconds: 60, forSeconds: 300 },
  InferenceCostPerRequestSpike: { evaluationSeconds: 60, forSeconds: 600 },
};

/** The stack's other delays between a request and a notification, in seconds. */
export const PIPELINE_SECONDS = {
  /** Prometheus scrapes the app every 15 s (stack/prometheus/prometheus.yml). */
  scrape: 15,
  /** The recording rules the alerts read are evaluated every 15 s (alerts/recording.rules.yml). */
  recording: 15,
  /** Alertmanager waits 10 s before the first notification of a group (group_wait). */
  groupWait: 10,
  /** Slack for a slow machine: rule evaluation, polling, delivery. */
  margin: 60,
};

/** Seconds from the last request to the alert firing in Prometheus, at worst. */
export function worstCaseFiringSeconds(alertname: string): number {
  const timing = ALERT_TIMING[alertname];
  if (!timing) throw new Error(`no timing for ${alertname}: add it to ALERT_TIMING`);
  return PIPELINE_SECONDS.scrape + PIPELINE_SECONDS.recording + timing.evaluationSeconds +
    timing.forSeconds;
}

/** Seconds after the traffic ends that --verify waits for every expected alert. */
export function verifyBoundSeconds(scenario: Scenario): number {
  if (scenario.expectedAlerts.length === 0) return 0;
  return Math.max(...scenario.expectedAlerts.map((a) => worstCaseFiringSeconds(a.alertname))) +
    PIPELINE_SECONDS.groupWait + PIPELINE_SECONDS.margin;
}
